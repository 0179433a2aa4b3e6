"""The recipe table: each `train` recipe's loader (which also writes the spec), its model choices (name -> builder in
train/models.py, or transfer learning), its defaults and the flags its command offers. Folder and array recipes
alike; adding a recipe is one entry here plus, for a new file format, a loader. Kept free of Keras."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from train import fashion_mnist, loaders
from train.config import CNN_NAMES, TRANSFER

FOLDER_FLAGS = ("model", "backbone", "weights", "size", "epochs", "resize", "batch_size", "learning_rate", "seed",
                "augment_passes", "fine_tune_layers", "fine_tune_epochs", "fine_tune_learning_rate", "balance", "grayscale",
                "in_memory", "cache_dir", "augment", "robustness")
END_TO_END_FLAGS = ("model", "epochs", "batch_size", "learning_rate", "erasing", "label_smoothing", "weight_decay",
                    "mirror", "validation_fraction", "limit", "seed", "augment", "robustness")
KFOLD_FLAGS = ("folds", "epochs", "batch_size", "learning_rate", "seed")
SCALE_FLAGS = ("strategy", "resume", "mixed_precision", "jit")  # every recipe offers them (train/cli.py)
FOLDER_DATA = "DATA/{train,test}/<class>/ images, or DATA/<class>/ (split 80/20 by class, fixed seed)."
FOLDER_DEFAULTS = dict(photo_augment=True)
TRANSFER_DEFAULTS = dict(size=224, epochs=30, cosine=False, grayscale=False)  # over the recipe's CNN defaults
# where measured to help accuracy under camera corruptions at no clean cost over 0.2 points (docs/results/robustness.md)
CAMERA = dict(augment="camera")


@dataclass(frozen=True)
class Recipe:
    doc: str  # the command's help: what it trains, and the reference figure it reproduces
    load: Callable  # (data path or None, TrainConfig, recipe name) -> loaders.Dataset, spec included
    models: dict[str, str | None]  # --arch choice -> builder in train/models.py:BUILDERS (None: transfer learning)
    defaults: dict = field(default_factory=dict)  # over TrainConfig's; `model` picks the default choice
    model_defaults: dict[str, dict] = field(default_factory=dict)  # model choice -> defaults over the recipe's
    flags: tuple[str, ...] = FOLDER_FLAGS  # TrainConfig fields the command offers, besides --data and --out
    data_help: str = FOLDER_DATA
    data_required: bool = True

    def defaults_for(self, model: str | None) -> dict:
        """The recipe's defaults for MODEL (its default model when None)."""
        defaults = {"model": next(iter(self.models))} | self.defaults
        chosen = model or defaults["model"]
        return defaults | self.model_defaults.get(chosen, {}) | {"model": chosen}


FOLDER_MODELS = {TRANSFER: None} | {name: name for name in CNN_NAMES}

RECIPES = {
    "muffins": Recipe("Muffin vs Chihuahua (reference: base CNN 82.5%, VGG16 transfer 98.0%).", loaders.folder,
                      FOLDER_MODELS, FOLDER_DEFAULTS, {TRANSFER: TRANSFER_DEFAULTS | CAMERA}),
    "cats-dogs": Recipe("Cats vs dogs: the reference 150x150 grayscale CNN with BatchNorm (reference 80.3%; --arch "
                        "cats_dogs_cnn: without), or --arch transfer.", loaders.folder, FOLDER_MODELS,
                        FOLDER_DEFAULTS | dict(model="cats_dogs_bn_cnn", size=150, epochs=60, cosine=True, grayscale=True,
                                               resize="stretch", augment_passes=2, fine_tune_layers=12),
                        {TRANSFER: TRANSFER_DEFAULTS}),
    "butterflies": Recipe("Butterfly species: transfer learning with class weights and fine-tuning (reference: "
                          "ResNet-50).", loaders.folder, FOLDER_MODELS,
                          FOLDER_DEFAULTS | dict(balance="weights", augment_passes=3, fine_tune_layers=12),
                          {TRANSFER: TRANSFER_DEFAULTS | CAMERA}),
    "folder": Recipe("Any folder of class folders: your own photos.", loaders.folder, FOLDER_MODELS, FOLDER_DEFAULTS,
                     {TRANSFER: TRANSFER_DEFAULTS}),
    "fashion": Recipe(
        "Fashion-MNIST (reference: 2-conv CNN with dropout; 3-conv CNN 89.5%).", loaders.fashion,
        # edge: 113k-parameter BatchNorm CNN on all 60,000 images; why: studies/README.md, "Fashion-MNIST edge defaults"
        {"edge": "small_bn_cnn", "reference_2conv": "two_conv_cnn", "reference_3conv": "three_conv_cnn"},
        dict(epochs=10, batch_size=64, learning_rate=1e-3),
        {"edge": dict(epochs=40, batch_size=128, learning_rate=2e-3, shift=0.05, cosine=True, validation_fraction=0.0,
                      mirror=True)},
        flags=END_TO_END_FLAGS,
        data_help=f"Folder of the four IDX .gz files [default: {fashion_mnist.DEBIAN_DIR}, from `apt install "
                  "dataset-fashion-mnist`; else keras.datasets, online]", data_required=False),
    "cifar10": Recipe(
        "CIFAR-10 from an .npz (x_train, y_train, x_test, y_test as keras.datasets.cifar10 returns them): an edge CNN "
        "with shifts and flips.", loaders.cifar10, {"edge_cnn": "edge_cnn", "small_bn_cnn": "small_bn_cnn"},
        dict(epochs=30, batch_size=128, learning_rate=2e-3, shift=0.1, cosine=True),
        flags=END_TO_END_FLAGS,
        data_help=".npz with x_train (N, 32, 32, 3) uint8, y_train (N,) class indices 0-9, x_test, y_test."),
    "emojis": Recipe("Emojis: 32x32 binary images, 5 classes, k-fold cross-validation (reference: 98.9%).",
                     loaders.emojis, {"two_conv_cnn": "two_conv_cnn"},  # no BatchNorm: steady on small data sets
                     dict(folds=5, epochs=30), flags=KFOLD_FLAGS,
                     data_help="Text file: per row a label, then 1,024 pixels (0/1) of a 32x32 image."),
    "navigability": Recipe("Navigability: 20x20x4 Mars elevation tiles, regression head, k-fold MSE (reference: 0.337).",
                           loaders.navigability, {"regression_cnn": "regression_cnn"}, dict(folds=5, epochs=40),
                           flags=KFOLD_FLAGS, data_help=".npz with x (N, 20, 20, 4) elevation tiles and y (N,) scores 1-4."),
}
