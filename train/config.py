"""TrainConfig: every setting a training run takes, each field's meaning and default written once (its `help`).
The command line is generated from it (train/cli.py) and metrics.json records it as `settings`. Kept free of Keras
so that help and usage errors answer at once."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

from edge import ROBUSTNESS_IMAGES

CNN_NAMES = ("base_cnn", "edge_cnn", "cats_dogs_cnn", "cats_dogs_bn_cnn")  # train/models.py:BUILDERS, in the order offered
BACKBONE_NAMES = ("mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large", "efficientnet_b0", "vgg16", "resnet50")
TRANSFER = "transfer"  # the model choice that trains a head (and fine-tunes) on an ImageNet backbone
TRANSFER_ONLY = ("augment_passes", "fine_tune_layers")  # settings that mean nothing to an end-to-end CNN: 0 there


def option(default, help: str, flag: str | None = None, choices: tuple | None = None, **bounds):
    """A config field with its help text; FLAG when the command-line name is not the field's, CHOICES for a closed
    set, BOUNDS (min, max) checked by the command line."""
    return field(default=default, metadata=dict(help=help, flag=flag, choices=choices, bounds=bounds))


@dataclass(frozen=True)
class TrainConfig:
    model: str = option(TRANSFER, "What to train: `transfer` (a new head on an ImageNet backbone, then "
                        "fine-tuning) where offered, or a CNN end to end.", flag="--arch")
    backbone: str = option("mobilenet_v2", "ImageNet backbone for --arch transfer.", choices=BACKBONE_NAMES)
    weights: str | None = option(None, "Backbone weights for --arch transfer: a local .weights.h5 (no top), or "
                                 "'imagenet' (downloaded once, online) [default: none: transfer learning needs them].")
    size: int = option(128, "Input size in pixels (square).", min=8)
    epochs: int = option(10, "Training epochs (transfer: of the head).", min=1)
    batch_size: int = option(32, "Examples per optimizer step.", min=1)
    learning_rate: float = option(1e-3, "Adam's learning rate (transfer: of the head).", min=0)
    cosine: bool = option(False, "Cosine learning-rate decay to zero over the run.")
    seed: int = option(0, "Seeds the split, the initial weights and augmentation.")
    resize: str = option("center_crop", "How photos become the model's square input (kept in the spec).",
                         choices=("center_crop", "stretch", "letterbox"))
    grayscale: bool = option(False, "CNNs: one-channel input (transfer is always rgb).", flag="--grayscale/--rgb")
    test_fraction: float = option(0.2, "Share of a folder without train/ and test/ held out for the test, by class.")
    validation_fraction: float = option(0.1, "Share of the training examples held out for the validation curves and "
                                        "the best epoch; 0: train on all of them, keep the epoch of lowest training loss.",
                                        flag="--validation", min=0, max=0.5)
    folds: int = option(0, "k-fold cross-validation (out-of-fold predictions are the evaluation, the saved model is "
                        "trained on every example); 0: evaluate on the test split.", min=0)
    balance: str = option("none", "Class imbalance: class weights, or undersample the larger classes.",
                          choices=("none", "weights", "undersample"))
    photo_augment: bool = option(False, "The reference recipe's augmentation: rotation, shifts and zoom (each up to "
                                 "10%, edges reflected) and horizontal flips.", flag="--photo-augment/--no-photo-augment")
    shift: float = option(0.0, "Random shifts of up to this fraction of the size, and horizontal flips; 0: none.",
                          min=0, max=0.5)
    augment: str = option("none", "camera: half the training images also get one camera corruption (noise, "
                          "under-exposure, blur, JPEG, low resolution, rotation, off-centre, white balance, contrast) at "
                          "a random severity (docs/guides/camera-robustness.md); transfer learning applies it in the augmented "
                          "passes through the frozen backbone (one at least).", choices=("none", "camera"))
    robustness: int = option(ROBUSTNESS_IMAGES, "Test images evaluated under every camera corruption for the robustness "
                             "report (metrics.json, report.md); 0: no report.", min=0)
    erasing: float = option(0.0, "Probability of replacing a random rectangle (2-33% of the image) with noise; 0: "
                            "never.", min=0, max=1)
    label_smoothing: float = option(0.0, "Multiclass: train towards 1 - s on the true class and s spread over all "
                                    "classes.", min=0, max=0.5)
    weight_decay: float = option(0.0, "AdamW's decoupled decay (per step: learning rate x this; BatchNorm and biases "
                                 "exempt); 0: Adam.", min=0)
    mirror: bool = option(False, "Save a model that averages its scores over each image and its left-right mirror: "
                          "twice the compute, same weights.", flag="--mirror/--no-mirror")
    augment_passes: int = option(0, "Transfer: extra augmented passes through the frozen backbone.", min=0)
    fine_tune_layers: int = option(0, "Transfer: then train at least this many of the backbone's last layers.",
                                   flag="--fine-tune", min=0)
    fine_tune_epochs: int = option(10, "Transfer: epochs of fine-tuning.", min=0)
    fine_tune_learning_rate: float = option(1e-5, "Transfer: learning rate of fine-tuning.", min=0)
    in_memory: bool = option(False, "Hold every decoded photo in memory instead of the on-disk pixel cache (memory "
                             "then grows with the data set).", flag="--in-memory/--cache")
    cache_dir: str | None = option(None, "Folder of the pixel cache [default: $EDGE_CACHE_DIR, else "
                                   "~/.cache/edge-classifier-toolkit/pixels].")
    strategy: str = option("auto", "Devices: auto (several processes: multiworker, several GPUs: mirrored, else one), "
                           "one, mirrored (every GPU of this host) or multiworker (several processes or hosts: "
                           "KERAS_BACKEND=jax, see docs/guides/training-at-scale.md). --batch-size is per replica.",
                           choices=("auto", "one", "mirrored", "multiworker"))
    resume: bool = option(False, "Continue an interrupted run from its last completed epoch (saved in OUT.backup/); "
                          "without it, a new run starts afresh.")
    mixed_precision: bool = option(False, "Compute in 16 bits (mixed_float16 on GPUs, mixed_bfloat16 on CPUs), the "
                                   "output layer and the saved model in float32.")
    jit: bool = option(False, "Compile training steps with XLA.")
    limit: int = option(0, "Use only the first N training and N/6 test examples (quick trials); 0: all.", min=0)

    @property
    def transfer(self) -> bool:
        return self.model == TRANSFER


def config_fields() -> dict:
    """Field name -> dataclasses.Field, in declaration order."""
    return {f.name: f for f in fields(TrainConfig)}


def resolve(defaults: dict, given: dict) -> TrainConfig:
    """TrainConfig from DEFAULTS (the recipe's, for the chosen model) overridden by the GIVEN settings that are not
    None; settings of transfer learning are 0 for an end-to-end CNN; transfer with --augment camera makes one
    augmented pass at least."""
    config = TrainConfig(**(defaults | {k: v for k, v in given.items() if v is not None}))
    if not config.transfer:
        config = replace(config, **{name: 0 for name in TRANSFER_ONLY})
    elif config.augment == "camera" and not config.augment_passes:  # transfer corrupts in the augmented passes
        config = replace(config, augment_passes=1)
    return config
