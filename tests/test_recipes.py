"""Every recipe for a short run on generated or sampled data in its real format: the run folder's contents, the
metrics, and `convert quantize` on the result (the int8 export must pass the parity gate)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests import generated
from tests.conftest import SAMPLE

pytestmark = pytest.mark.slow  # trains or converts

REPORT = {"report.md", "curves.png", "metrics.json", "evaluation.npz"}
CLASSIFIER_REPORT = REPORT | {"confusion.png", "recall.png", "embeddings.png", "kmeans_elbow.png", "clusters.json",
                              "robustness.png"}


def _train(cli, *args):
    from train.cli import app

    result = cli.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


def _quantize(cli, model, data, tmp_path, formats="tflite_int8,onnx_int8") -> dict:
    from convert.cli import app

    result = cli.invoke(app, ["quantize", str(model), "--data", str(data), "--out-dir", str(tmp_path / "models"),
                              "--formats", formats, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_fashion_reads_idx_files_and_its_int8_export_keeps_accuracy(cli, tmp_path):
    data = generated.fashion_folder(tmp_path / "idx")
    run = tmp_path / "fashion"
    _train(cli, "fashion", "--data", data, "--arch", "reference_2conv", "--epochs", "4", "--out", run)
    metrics = json.loads((run / "metrics.json").read_text())
    names = {p.name for p in run.iterdir()}
    assert CLASSIFIER_REPORT | {"fashion.keras", "test.npz"} <= names
    assert ("misclassified.png" in names) == (metrics["test"]["accuracy"] < 1), "the grid exists when there are errors"
    assert metrics["test"]["images"] == 100 and len(metrics["epoch_seconds"]) == 4
    assert metrics["test"]["accuracy"] > 0.8 and "top3_accuracy" in metrics["test"]
    assert set(metrics["test"]["per_class_recall"]) == {"T-shirt_top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                                                       "Shirt", "Sneaker", "Bag", "Ankle boot"}
    parity = _quantize(cli, run / "fashion.keras", run / "test.npz", tmp_path)
    float_row, int8_row = parity["rows"][0], parity["rows"][1]
    assert float_row["accuracy"] == pytest.approx(metrics["test"]["accuracy"], abs=1e-4)
    assert int8_row["drop"] <= 0.01 and int8_row["agreement"] >= 0.98


def test_fashion_edge_model_trains_with_shifts_flips_and_erasing(cli, tmp_path):
    run = tmp_path / "fashion-edge"
    _train(cli, "fashion", "--data", generated.fashion_folder(tmp_path / "idx"), "--epochs", "3", "--batch-size", "16",
           "--erasing", "0.5", "--out", run)
    metrics = json.loads((run / "metrics.json").read_text())
    settings = metrics["settings"]
    assert settings["model"] == "edge" and settings["shift"] == 0.05 and settings["erasing"] == 0.5 and settings["cosine"]
    assert settings["mirror"], "the edge model averages each image's scores with its mirror's"
    assert settings["validation_fraction"] == 0 and "val_loss" not in metrics["history"], "the edge model trains on every image"
    assert metrics["parameters"] < 120_000 and len(metrics["epoch_seconds"]) == 3
    assert metrics["history"]["accuracy"][-1] > 0.3, "learns on shifted, flipped, erased batches (BatchNorm statistics need more steps)"

    import keras

    from convert import examples
    from convert.export import ExportJob, export_and_check
    from keras_io import archive
    from keras_io.layers import MirrorPair

    model, spec = archive.load(run / "fashion.keras")
    pooling = [layer for layer in model.layers if isinstance(layer, keras.layers.DepthwiseConv2D)]
    assert pooling[0].kernel_size == (7, 7), "a depthwise convolution as large as the last 7x7 map pools it"
    assert isinstance(model.layers[1], MirrorPair)
    test = examples.load(run / "test.npz", spec)
    job = ExportJob(model, spec, examples.calibration(run / "test.npz", spec, 50), test,
                    test.scores(model.predict_on_batch), out_dir=tmp_path, stem="fashion", work=tmp_path)
    row = export_and_check(job, "tflite_int8")
    assert row["size_mb"] * 1e6 <= 150_000, "the edge target: int8 in 150 KB as `convert quantize` writes it, metadata included"


def test_fashion_label_smoothing_and_no_validation_share(cli, tmp_path):
    run = tmp_path / "fashion-smoothed"
    _train(cli, "fashion", "--data", generated.fashion_folder(tmp_path / "idx"), "--arch", "reference_2conv", "--epochs", "6",
           "--label-smoothing", "0.2", "--validation", "0", "--out", run)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["settings"]["label_smoothing"] == 0.2 and metrics["settings"]["validation_fraction"] == 0
    history = metrics["history"]
    assert not any(key.startswith("val_") for key in history), "every training image trains: no validation curves"
    assert history["accuracy"][-1] > 0.9 and metrics["test"]["accuracy"] > 0.8
    # the smoothed target (0.82 on the true class, 0.02 elsewhere) has entropy 0.87: the loss cannot go below it
    assert min(history["loss"]) > 0.85
    assert metrics["best_epoch"] == int(np.argmin(history["loss"])) + 1, "without validation, the lowest training loss"


def test_weight_decay_shrinks_kernels_and_spares_batchnorm_and_biases(cli, tmp_path):
    import keras

    from edge.spec import ModelSpec
    from keras_io import archive
    from train.config import TrainConfig
    from train.end_to_end import compile_model

    data, norms = generated.fashion_folder(tmp_path / "idx"), {}
    for decay in ("0", "50"):  # x the reference's 0.001 learning rate: each of ~10 steps shrinks kernels by 5%
        run = tmp_path / f"decay-{decay}"
        _train(cli, "fashion", "--data", data, "--arch", "reference_2conv", "--epochs", "2", "--weight-decay", decay, "--out", run)
        assert json.loads((run / "metrics.json").read_text())["settings"]["weight_decay"] == float(decay)
        model, _ = archive.load(run / "fashion.keras")
        norms[decay] = sum(float(np.sum(np.square(w))) for w in model.weights if w.name == "kernel")
    assert norms["50"] < 0.6 * norms["0"], norms  # squares: 0.95 ** 20 = 0.36, plus what the gradients add

    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(4, 3), keras.layers.BatchNormalization()])
    spec = ModelSpec("multiclass", list("ab"), 28, 28, 1, "gray", "stretch", 1 / 255, 0.0)
    compile_model(model, spec, TrainConfig(weight_decay=0.05), 1e-3)
    model.optimizer.build(model.trainable_variables)
    decayed = {v.name: model.optimizer._use_weight_decay(v) for v in model.trainable_variables}
    assert decayed == {"kernel": True, "bias": False, "gamma": False, "beta": False}


def test_random_erasing_replaces_one_rectangle_in_about_the_asked_share_of_images():
    from edge.spec import ModelSpec
    from train import end_to_end
    from train.config import TrainConfig

    RAW = ModelSpec("multiclass", tuple("abcdefghij"), 28, 28, 1, "none", "stretch", 1.0, 0.0)  # inputs as given

    x, y = np.full((512, 28, 28, 1), 0.5, np.float32), np.arange(512) % 10
    for probability in (0.5, 1.0):
        settings = TrainConfig(batch_size=128, erasing=probability)
        batched = end_to_end.batches(x, np.arange(len(y)), y, RAW, settings.batch_size, seed=0)
        batches = list(end_to_end.training_dataset(batched, settings, RAW, seed=0).as_numpy_iterator())
        images, labels = np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches])
        erased = (images != 0.5).mean(axis=(1, 2, 3))
        assert sorted(labels) == sorted(y) and images.min() >= 0 and images.max() <= 1
        assert abs((erased > 0).mean() - probability) < 0.08
        assert 0.01 < np.median(erased[erased > 0]) < 0.35, "a patch of 2-33% of the image"


@pytest.mark.parametrize("damage", ["truncated", "not_idx"])
def test_fashion_damaged_idx_file(cli, tmp_path, damage):
    from train.cli import app

    data = generated.fashion_folder(tmp_path / "idx", 50, 20)
    target = data / "train-images-idx3-ubyte.gz"
    if damage == "truncated":
        import gzip

        raw = gzip.decompress(target.read_bytes())
        target.write_bytes(gzip.compress(raw[:-100]))
    else:
        target.write_bytes(b"\x1f\x8b not gzip at all")
    result = cli.invoke(app, ["fashion", "--data", str(data), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2 and "train-images-idx3-ubyte.gz" in result.output
    assert not (tmp_path / "run").exists()


def test_emojis_cross_validation(cli, tmp_path):
    rows = generated.emoji_rows(tmp_path / "emojis.txt")
    run = tmp_path / "emojis"
    _train(cli, "emojis", "--data", rows, "--folds", "3", "--epochs", "8", "--out", run)
    metrics = json.loads((run / "metrics.json").read_text())
    folds = metrics["folds"]
    assert folds["metric"] == "accuracy" and len(folds["per_fold"]) == 3
    assert folds["mean"] == pytest.approx(np.mean(folds["per_fold"]), abs=1e-3) and folds["mean"] > 0.6
    assert metrics["test"]["images"] == 120, "every example is scored out of fold"
    assert (CLASSIFIER_REPORT - {"robustness.png"}) | {"emojis.keras", "examples.npz"} <= {p.name for p in run.iterdir()}
    assert metrics["robustness"] == {"not_measured": "k-fold: the saved model saw every example"}
    assert "Not measured: k-fold" in (run / "report.md").read_text()
    with np.load(run / "examples.npz") as arrays:
        assert arrays["x"].shape == (120, 32, 32, 1) and set(np.unique(arrays["x"])) <= {0, 255}
    _quantize(cli, run / "emojis.keras", run / "examples.npz", tmp_path, "tflite_int8")


def test_emojis_row_of_the_wrong_length(cli, tmp_path):
    from train.cli import app

    rows = generated.emoji_rows(tmp_path / "emojis.txt", per_class=2)
    lines = rows.read_text().splitlines()
    lines[3] = lines[3][:-40]
    rows.write_text("\n".join(lines))
    result = cli.invoke(app, ["emojis", "--data", str(rows), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2 and "emojis.txt:4:" in result.output and "1024 pixels" in result.output


def test_navigability_regression_cross_validation(cli, tmp_path):
    x, y = generated.tiles(240, np.random.default_rng(0))
    np.savez(tmp_path / "tiles.npz", x=x * 50 + 300, y=y)  # elevations in metres: the spec standardises them
    run = tmp_path / "navigability"
    _train(cli, "navigability", "--data", tmp_path / "tiles.npz", "--folds", "2", "--epochs", "15", "--out", run)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["folds"]["metric"] == "mse" and len(metrics["folds"]["per_fold"]) == 2
    assert metrics["test"]["mse"] < np.var(y), "beats predicting the mean"
    assert REPORT | {"regression.png", "navigability.keras"} <= {p.name for p in run.iterdir()}
    assert metrics["robustness"] == {"not_measured": "a regression model"}
    parity = _quantize(cli, run / "navigability.keras", run / "examples.npz", tmp_path, "tflite_int8")
    assert "robustness" not in parity["rows"][1], "elevation tiles are not camera pictures"
    assert parity["rows"][0]["mse"] == pytest.approx(metrics["train"]["mse"], rel=1e-3)


def test_navigability_pickled_npz_is_refused(cli, tmp_path):
    from train.cli import app

    np.savez(tmp_path / "tiles.npz", x=np.array([object()], dtype=object), y=np.zeros(1))
    result = cli.invoke(app, ["navigability", "--data", str(tmp_path / "tiles.npz"), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2 and "tiles.npz" in result.output


@pytest.fixture(scope="module")
def pretrained_mobilenet_v2(tmp_path_factory):
    """MobileNetV2 weights in the real file format (ImageNet weights need a download), pretrained for a few epochs
    on other generated shapes so that its features carry information, as ImageNet features do for photos."""
    import keras

    keras.utils.set_random_seed(0)
    path = tmp_path_factory.mktemp("weights") / "mobilenet_v2_pretrained.weights.h5"
    backbone = keras.applications.MobileNetV2(input_shape=(64, 64, 3), include_top=False, weights=None, pooling="avg")
    images, targets = generated.shapes([48] * 10, 64, seed=5)
    for layer in backbone.layers:  # moving statistics that keep up with a short run
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.5
    pretrain = keras.Sequential([backbone, keras.layers.Dense(10, activation="softmax")])
    pretrain.compile(optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy")
    pretrain.fit(np.repeat(images, 3, axis=-1) / 127.5 - 1, targets, epochs=6, batch_size=32, verbose=0)
    backbone.save_weights(path)
    return path


def test_butterflies_fine_tunes_with_class_weights(cli, tmp_path, pretrained_mobilenet_v2):
    import keras

    from keras_io import archive

    data = tmp_path / "species"
    generated.colour_folders(data / "train", [40, 20, 12, 30], size=64)
    generated.colour_folders(data / "test", [6, 6, 6, 6], size=64, seed=1)
    run = tmp_path / "butterflies"
    _train(cli, "butterflies", "--data", data, "--weights", pretrained_mobilenet_v2, "--size", "64", "--epochs", "3",
           "--fine-tune", "12", "--fine-tune-epochs", "2", "--fine-tune-learning-rate", "1e-3", "--augment-passes", "1",
           "--out", run)
    metrics = json.loads((run / "metrics.json").read_text())
    weights = metrics["class_weight"]
    assert weights["2"] > weights["3"] > weights["0"], "the smallest class weighs most"
    assert len(metrics["epoch_seconds"]) == 5, "3 head epochs, then 2 fine-tuning epochs"
    assert "top3_accuracy" in metrics["test"] and CLASSIFIER_REPORT <= {p.name for p in run.iterdir()}
    model, _ = archive.load(run / "butterflies.keras")
    original = keras.applications.MobileNetV2(input_shape=(64, 64, 3), include_top=False, weights=None, pooling="avg")
    original.load_weights(pretrained_mobilenet_v2)
    tuned = model.get_layer("mobilenetv2_1.00_64")
    assert not np.allclose(tuned.get_layer("Conv_1").kernel.numpy(), original.get_layer("Conv_1").kernel.numpy())
    assert np.allclose(tuned.get_layer("block_1_expand").kernel.numpy(), original.get_layer("block_1_expand").kernel.numpy())
    parity = _quantize(cli, run / "butterflies.keras", data / "test", tmp_path, "tflite_int8")
    assert parity["rows"][0]["accuracy"] == pytest.approx(metrics["test"]["accuracy"], abs=1e-4), \
        "the saved model scores what training measured through the cached features"


def test_cats_dogs_default_batchnorm_cnn_keeps_its_accuracy_as_int8(cli, tmp_path):
    run = tmp_path / "cats-dogs-bn"
    _train(cli, "cats-dogs", "--data", SAMPLE, "--size", "64", "--epochs", "6", "--out", run)  # 3 sat at chance on one CPU
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["settings"]["model"] == "cats_dogs_bn_cnn" and metrics["settings"]["grayscale"]
    parity = _quantize(cli, run / "cats_dogs.keras", SAMPLE / "test", tmp_path, "tflite_int8")
    float_row, int8_row = parity["rows"]
    assert float_row["accuracy"] == pytest.approx(metrics["test"]["accuracy"], abs=1e-4)
    assert int8_row["max_abs_diff"] < 0.05 and int8_row["agreement"] >= 0.9, "BatchNorm folds into the int8 convolutions"


def test_cats_dogs_grayscale_cnn_with_undersampling(cli, tmp_path):
    import shutil

    data = tmp_path / "pets"
    shutil.copytree(SAMPLE, data)
    for extra in sorted((data / "train" / "muffin").iterdir())[:40]:
        extra.unlink()  # 100 chihuahuas, 60 muffins
    run = tmp_path / "cats-dogs"
    result = _train(cli, "cats-dogs", "--data", data, "--arch", "cats_dogs_cnn", "--size", "48", "--epochs", "2",
                    "--balance", "undersample", "--out", run)
    assert "undersampled to" in result.output
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["settings"]["model"] == "cats_dogs_cnn" and metrics["settings"]["grayscale"]
    assert metrics["settings"]["cosine"] and "train_test_gap" in metrics
    assert (run / "cats_dogs.keras").is_file()
