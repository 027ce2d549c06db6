import pytest

from nas import PRESETS, Budget, BudgetError, preset


def test_presets_match_the_paper():
    assert (PRESETS["bpe1"].epochs, PRESETS["bpe1"].layers, PRESETS["bpe1"].channels) == (10, 6, 8)
    assert (PRESETS["bpe2"].epochs, PRESETS["bpe2"].layers, PRESETS["bpe2"].channels) == (30, 16, 16)
    for name in ("bpe1", "bpe2"):  # as the authors trained them (recorded settings task5 and task32)
        bpe = PRESETS[name]
        assert (bpe.precision, bpe.image_size, bpe.batch_size, bpe.lr) == ("fp32", 16, 128, 0.03)
        assert (bpe.auxiliary_weight, bpe.drop_path, bpe.cutout) == (0.4, 0.2, 0)
    full = PRESETS["full"]
    assert (full.epochs, full.batch_size, full.cutout, full.auxiliary_weight, full.drop_path) == (600, 96, 16, 0.4, 0.2)


def test_settings_convert_types():
    budget = preset("bpe1").with_settings(["epochs=3", "train_fraction=0.1", "precision=mixed", "lr=1"])
    assert budget.epochs == 3 and budget.train_fraction == 0.1 and budget.precision == "mixed"
    assert isinstance(budget.lr, float)
    assert budget != preset("bpe1")
    assert Budget(**budget.to_dict()) == budget


@pytest.mark.parametrize(
    "settings, field",
    [
        (["lr=-1"], "lr"),
        (["image_size=0"], "image_size"),
        (["epochs=0"], "epochs"),
        (["precision=fp8"], "precision"),
        (["cutout=40"], "cutout"),
        (["train_fraction=1.5"], "train_fraction"),
        (["epochs=three"], "epochs"),
        (["colour=red"], "colour"),
        (["epochs"], "epochs"),
        (["batch_size=1"], "batch_size"),
    ],
)
def test_invalid_values_name_the_field(settings, field):
    with pytest.raises(BudgetError, match=field):
        preset("bpe1").with_settings(settings)


def test_type_errors_and_unknown_preset():
    with pytest.raises(BudgetError, match="'epochs' must be int"):
        Budget(epochs=1.5, batch_size=8, lr=0.1, layers=3, channels=4)
    with pytest.raises(BudgetError, match="unknown budget preset 'bpe9'"):
        preset("bpe9")
