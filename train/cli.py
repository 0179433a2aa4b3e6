"""`train`: Keras recipes that write a .keras model (with its spec inside) and a metrics JSON."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from edge.console import user_errors
from edge.errors import UserError
from train.recipe import Settings, run

app = typer.Typer(add_completion=False, help=__doc__, no_args_is_help=True)


class Architecture(str, Enum):
    mobilenet_v2 = "mobilenet_v2"
    base_cnn = "base_cnn"


DEFAULTS = {  # size, epochs, batch size, learning rate
    Architecture.base_cnn: (128, 10, 32, 1e-3),
    Architecture.mobilenet_v2: (224, 30, 64, 1e-3),
}


def _train(recipe: str, data: Path, out: Path, architecture: Architecture, weights: Optional[str], size: Optional[int],
           epochs: Optional[int], batch_size: Optional[int], learning_rate: Optional[float], seed: int, augment_passes: int,
           grayscale: bool):
    with user_errors():
        if architecture is Architecture.mobilenet_v2 and weights is None:
            raise UserError("--weights is needed for mobilenet_v2: a MobileNetV2 .weights.h5 file, or 'imagenet' when online")
        default_size, default_epochs, default_batch, default_lr = DEFAULTS[architecture]
        settings = Settings(architecture.value, size or default_size, epochs or default_epochs, batch_size or default_batch,
                            learning_rate or default_lr, seed, weights, augment_passes, grayscale)
        metrics = run(recipe, data, out, settings)
        test = metrics["test"]
        typer.echo(f"wrote {out} and {out.with_suffix('.metrics.json')}: train accuracy {metrics['train']['accuracy']:.4f}, "
                   f"test accuracy {test['accuracy']:.4f} on {test['images']} images, recall {test['per_class_recall']}")


DATA_HELP = "DATA/{train,test}/<class>/ images, or DATA/<class>/ (split 80/20 by class, fixed seed)."


def _recipe_command(recipe: str, default_out: str, doc: str):
    """A `train RECIPE` command; recipes share every option and differ in name and default output."""

    def command(
        data: Path = typer.Option(..., help=DATA_HELP),
        out: Path = typer.Option(Path(default_out), help="The .keras file to write (metrics go beside it)."),
        architecture: Architecture = typer.Option(Architecture.mobilenet_v2, "--model", help="Transfer learning or the reference base CNN."),
        weights: Optional[str] = typer.Option(None, help="MobileNetV2 ImageNet weights: a local .weights.h5, or 'imagenet' (downloads)."),
        size: Optional[int] = typer.Option(None, min=32, help="Input size in pixels [default: 224 mobilenet_v2, 128 base_cnn]."),
        epochs: Optional[int] = typer.Option(None, min=1, help="[default: 30 head epochs mobilenet_v2, 10 base_cnn]"),
        batch_size: Optional[int] = typer.Option(None, min=1, help="[default: 64 mobilenet_v2, 32 base_cnn]"),
        learning_rate: Optional[float] = typer.Option(None, min=0, help="[default: 0.001]"),
        seed: int = typer.Option(0, help="Seeds the split, the initial weights and augmentation."),
        augment_passes: int = typer.Option(0, min=0, help="mobilenet_v2: extra augmented passes through the frozen backbone."),
        grayscale: bool = typer.Option(False, help="base_cnn: one-channel input (the reference cats-vs-dogs CNN)."),
    ):
        _train(recipe, data, out, architecture, weights, size, epochs, batch_size, learning_rate, seed, augment_passes,
               grayscale)

    command.__doc__ = doc
    return command


app.command("muffins")(_recipe_command("muffins", "muffins.keras", "Muffin vs Chihuahua (reference: base CNN 82.5%, VGG16 transfer 98.0%)."))
app.command("folder")(_recipe_command("folder", "model.keras", "Any folder of class folders: your own photos."))


def main():
    app()
