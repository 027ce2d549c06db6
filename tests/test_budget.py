import pytest

from nas import PRESETS, Budget, BudgetError, preset


def test_presets_match_the_paper():
    assert (PRESETS["bpe1"].epochs, PRESETS["bpe1"].layers, PRESETS["bpe1"].channels) == (10, 6, 8)
    assert PRESETS["bpe1"].precision == "mixed" and PRESETS["bpe1"].image_size == 16
    assert (PRESETS["bpe2"].epochs, PRESETS["bpe2"].layers, PRESETS["bpe2"].channels) == (30, 16, 16)
    full = PRESETS["full"]
    assert (full.epochs, full.batch_size, full.cutout, full.auxiliary_weight, full.drop_path) == (600, 96, 16, 0.4, 0.2)


def test_settings_convert_types():
    budget = preset("bpe1").with_settings(["epochs=3", "train_fraction=0.1", "precision=fp32", "lr=1"])
    assert budget.epochs == 3 and budget.train_fraction == 0.1 and budget.precision == "fp32"
    assert isinstance(budget.lr, float)
    assert budget.key() != preset("bpe1").key()
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
