"""`train`: Keras recipes that write a run folder: the .keras model (with its spec inside), metrics.json,
evaluation.npz and an evaluation report (report.md with PNG plots)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from edge.console import version_option, user_errors
from train import array_commands
from train.catalogue import BACKBONE_NAMES, CNN_NAMES

app = typer.Typer(add_completion=False, help=__doc__, no_args_is_help=True)


@app.callback()
def _options(version: bool = version_option()):
    pass

Architecture = Enum("Architecture", {name: name for name in ("transfer", *CNN_NAMES)}, type=str)
BackboneName = Enum("BackboneName", {name: name for name in BACKBONE_NAMES}, type=str)
Resize = Enum("Resize", {name: name for name in ("center_crop", "stretch", "letterbox")}, type=str)
Balance = Enum("Balance", {name: name for name in ("none", "weights", "undersample")}, type=str)


@dataclass(frozen=True)
class Defaults:
    """A recipe's documented defaults; every one can be overridden by its flag."""

    model: str = "transfer"
    cnn_size: int = 128  # transfer learning always defaults to 224
    cnn_epochs: int = 10  # transfer learning defaults to 30 head epochs
    cnn_cosine: bool = False  # cosine learning-rate decay for the CNN (transfer heads keep a constant rate)
    batch_size: int = 32
    resize: str = "center_crop"
    grayscale: bool = False
    balance: str = "none"
    augment_passes: int = 0
    fine_tune: int = 0
    fine_tune_epochs: int = 10


RECIPES = {
    "muffins": (Defaults(), "Muffin vs Chihuahua (reference: base CNN 82.5%, VGG16 transfer 98.0%)."),
    "cats-dogs": (Defaults(model="cats_dogs_bn_cnn", cnn_size=150, cnn_epochs=60, cnn_cosine=True, grayscale=True,
                           resize="stretch", augment_passes=2, fine_tune=12),
                  "Cats vs dogs: the reference 150x150 grayscale CNN with BatchNorm (reference 80.3%; --model cats_dogs_cnn: "
                  "without), or --model transfer."),
    "butterflies": (Defaults(balance="weights", augment_passes=3, fine_tune=12, fine_tune_epochs=10),
                    "Butterfly species: transfer learning with class weights and fine-tuning (reference: ResNet-50)."),
    "folder": (Defaults(), "Any folder of class folders: your own photos."),
}

DATA_HELP = "DATA/{train,test}/<class>/ images, or DATA/<class>/ (split 80/20 by class, fixed seed)."


def _recipe_command(recipe: str, defaults: Defaults, doc: str):
    def command(
        data: Path = typer.Option(..., help=DATA_HELP),
        out: Path = typer.Option(Path(f"runs/{recipe}"), help="Run folder to write (replaced when it exists)."),
        model: Architecture = typer.Option(defaults.model,
                                           help="Transfer learning, the reference base CNN, the 34k-parameter edge "
                                                "CNN, or the cats-vs-dogs CNN (plain or BatchNorm)."),
        backbone: BackboneName = typer.Option("mobilenet_v2", help="ImageNet backbone for --model transfer."),
        weights: Optional[str] = typer.Option(None, help="Backbone weights: a local .weights.h5 (no top), or 'imagenet' (downloads)."),
        size: Optional[int] = typer.Option(None, min=32, help=f"Input size in pixels [default: 224 transfer, {defaults.cnn_size} CNN]."),
        epochs: Optional[int] = typer.Option(None, min=1, help=f"[default: 30 head epochs transfer, {defaults.cnn_epochs} CNN]"),
        resize: Resize = typer.Option(defaults.resize, help="How photos become the model's square input (kept in the spec)."),
        batch_size: int = typer.Option(defaults.batch_size, min=1),
        learning_rate: float = typer.Option(1e-3, min=0),
        seed: int = typer.Option(0, help="Seeds the split, the initial weights and augmentation."),
        augment_passes: int = typer.Option(defaults.augment_passes, min=0, help="Transfer: extra augmented passes through the frozen backbone."),
        fine_tune: int = typer.Option(defaults.fine_tune, min=0, help="Transfer: then train at least this many of the backbone's last layers."),
        fine_tune_epochs: int = typer.Option(defaults.fine_tune_epochs, min=0),
        fine_tune_learning_rate: float = typer.Option(1e-5, min=0),
        balance: Balance = typer.Option(defaults.balance, help="Class imbalance: class weights, or undersample the larger classes."),
        grayscale: Optional[bool] = typer.Option(None, "--grayscale/--rgb", help=f"CNNs: one-channel input [default: "
                                                 f"{'grayscale' if defaults.grayscale else 'rgb'}; transfer is always rgb]."),
    ):
        from train.recipe import Settings, run

        with user_errors():
            transfer = model.value == "transfer"
            grayscale = (defaults.grayscale and not transfer) if grayscale is None else grayscale
            passes, tuned = (augment_passes, fine_tune) if transfer else (0, 0)  # options of transfer learning only
            settings = Settings(model.value, size or (224 if transfer else defaults.cnn_size),
                                epochs or (30 if transfer else defaults.cnn_epochs), batch_size, learning_rate, seed,
                                backbone.value, weights, passes, tuned, fine_tune_epochs, fine_tune_learning_rate,
                                balance.value, grayscale, resize.value, cosine=defaults.cnn_cosine and not transfer)
            metrics = run(recipe, data, out, settings)
            test, train = metrics["test"], metrics["train"]
            typer.echo(f"wrote {out}/ (model, metrics.json, report.md): test accuracy {test['accuracy']:.4f} on {test['images']} "
                       f"images, train {train['accuracy']:.4f}; recall {test['per_class_recall']}")

    command.__doc__ = doc
    return command


for _name, (_defaults, _doc) in RECIPES.items():
    app.command(_name)(_recipe_command(_name, _defaults, _doc))
array_commands.add_to(app)


def main():
    app()
