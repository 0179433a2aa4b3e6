"""One TrainConfig and one recipe table: the command line comes from them, every run writes the same metrics.json
keys, and a recipe added as a table entry (CIFAR-10 from an .npz) trains, reports and quantises like the others."""

from __future__ import annotations

import dataclasses
import json

import pytest

from tests import generated


@pytest.mark.slow
def test_cifar10_npz_recipe_trains_and_its_int8_export_passes_the_gate(cli, tmp_path):
    from convert.cli import app as convert_app
    from train.cli import app
    from train.run import RunMetrics

    data = generated.cifar10_npz(tmp_path / "cifar10.npz")
    run = tmp_path / "cifar10"
    result = cli.invoke(app, ["cifar10", "--data", str(data), "--epochs", "10", "--batch-size", "16", "--validation", "0",
                              "--out", str(run)])
    assert result.exit_code == 0, result.output
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics) == {f.name for f in dataclasses.fields(RunMetrics)}
    settings = metrics["settings"]
    assert settings["model"] == "edge_cnn" and settings["shift"] == 0.1 and settings["cosine"], "the recipe's defaults"
    assert metrics["test"]["images"] == 100 and metrics["test"]["accuracy"] > 0.9
    assert set(metrics["test"]["per_class_recall"]) >= {"airplane", "truck"}
    assert {"cifar10.keras", "test.npz", "calibration.npz", "report.md", "embeddings.png"} <= {p.name for p in run.iterdir()}
    parity = cli.invoke(convert_app, ["quantize", str(run / "cifar10.keras"), "--data", str(run / "test.npz"),
                                      "--out-dir", str(tmp_path / "models"), "--formats", "tflite_int8", "--json"])
    assert parity.exit_code == 0, parity.output
    assert json.loads(parity.stdout)["calibration"].endswith("calibration.npz"), "found beside the model, as the spec says"


@pytest.mark.slow
def test_cifar10_npz_with_the_wrong_shape_names_the_array(cli, tmp_path):
    import numpy as np

    from train.cli import app

    np.savez(tmp_path / "c.npz", x_train=np.zeros((4, 28, 28, 3), np.uint8), y_train=np.zeros(4), x_test=np.zeros((2, 32, 32, 3),
             np.uint8), y_test=np.zeros(2))
    result = cli.invoke(app, ["cifar10", "--data", str(tmp_path / "c.npz"), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2 and "x_train is uint8 (4, 28, 28, 3)" in result.output
    assert not (tmp_path / "run").exists()


def test_every_flag_is_a_config_field_with_its_help_and_the_recipe_default():
    from train.cli import app
    from train.config import config_fields
    from train.recipes import RECIPES

    fields = config_fields()
    for recipe in RECIPES.values():
        assert set(recipe.flags) <= set(fields) and set(recipe.defaults) <= set(fields)
        assert all(set(d) <= set(fields) for d in recipe.model_defaults.values())
    import typer.main

    command = typer.main.get_command(app).commands["cats-dogs"]
    options = {param.name: param for param in command.params}
    assert options["batch_size"].default == 32 and options["resize"].default == "stretch", "the recipe's defaults"
    assert options["size"].default is None and "[default: 224 transfer; 150 otherwise]" in options["size"].help
    assert options["learning_rate"].help.startswith(fields["learning_rate"].metadata["help"])
    fashion = {param.name: param for param in typer.main.get_command(app).commands["fashion"].params}
    assert "[default: on edge; off otherwise]" in fashion["mirror"].help and fashion["validation_fraction"].opts == ["--validation"]


def test_resolve_layers_recipe_model_and_given_settings():
    from train.config import resolve
    from train.recipes import RECIPES

    cats = RECIPES["cats-dogs"]
    cnn = resolve(cats.defaults_for(None), {})
    assert (cnn.model, cnn.size, cnn.grayscale, cnn.cosine, cnn.augment_passes, cnn.photo_augment) == (
        "cats_dogs_bn_cnn", 150, True, True, 0, True), "transfer-only settings are 0 for a CNN"
    tuned = resolve(cats.defaults_for("transfer"), {"model": "transfer", "epochs": 5})
    assert (tuned.size, tuned.epochs, tuned.grayscale, tuned.augment_passes, tuned.fine_tune_layers) == (224, 5, False, 2, 12)
