import pytest

from nas import TableError, read_architectures, sample_genotype


def _write(path, text):
    path.write_text(text)
    return path


def test_bad_tables_name_the_problem(tmp_path):
    genotype = sample_genotype(0).to_str()
    with pytest.raises(TableError, match="line 2: no value for genotype"):
        read_architectures(_write(tmp_path / "a.csv", "arch,genotype\na1\n"))
    with pytest.raises(TableError, match="lacks column"):
        read_architectures(_write(tmp_path / "b.csv", f'arch,genotype\na1,"{genotype}"\n'), with_accuracy=True)
    with pytest.raises(TableError, match="twice: a1"):
        read_architectures(_write(tmp_path / "c.csv", f'arch,genotype\na1,"{genotype}"\na1,"{genotype}"\n'))
    binary = tmp_path / "d.csv"
    binary.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(TableError, match="not a readable CSV"):
        read_architectures(binary)
    with pytest.raises(TableError, match="line 2 \\(a1\\)"):
        read_architectures(_write(tmp_path / "e.csv", "arch,genotype\na1,Genotype(normal=[\n"))


def test_architectures_keep_file_order(tmp_path):
    rows = "".join(f'a{i},"{sample_genotype(i).to_str()}",{90 + i}\n' for i in range(3))
    archs = read_architectures(_write(tmp_path / "g.csv", "arch,genotype,accuracy\n" + rows), with_accuracy=True)
    assert [a.name for a in archs] == ["a0", "a1", "a2"] and [a.accuracy for a in archs] == [90, 91, 92]
    assert archs[1].genotype == sample_genotype(1)
