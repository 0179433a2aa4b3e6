"""ModelSpec: everything needed to turn a camera frame into the model's input and its output into a label."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace

from edge.errors import UserError

TASKS = ("binary", "multiclass", "regression")
COLOR_ORDERS = ("rgb", "bgr", "gray", "none")  # "none": raw arrays (e.g. 4-channel elevation tiles), not photos
RESIZE_MODES = ("stretch", "center_crop", "letterbox")
SPEC_KEY = "edge_spec"  # name of the entry that carries the spec inside every model file


@dataclass(frozen=True)
class Provenance:
    """Where a model came from; stored with its spec, never needed to run it."""

    recipe: str = ""  # the `train` recipe that made it
    model: str = ""  # its architecture: a CNN name or an ImageNet backbone
    toolkit_version: str = ""
    train_data: str = ""  # the folder or file it was trained on (a calibration source for `convert quantize`)
    train_data_hash: str = ""  # of the training file list (names and sizes), to recognise the same data again
    calibration_data: str = ""  # a calibration sample beside the model file (array recipes write one)
    export_options: dict = field(default_factory=dict)  # the options its export took, e.g. {"target": "arm64"}
    parity: dict = field(default_factory=dict)  # its figures against the float model, as `convert quantize` measured

    @classmethod
    def from_dict(cls, data: dict) -> "Provenance":
        """Known entries of DATA; a file written by a later version may carry more, and they are dropped."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class ModelSpec:
    """Task, labels and preprocessing of one model; input = pixels * scale + offset."""

    task: str
    labels: tuple[str, ...]
    height: int
    width: int
    channels: int = 3
    color_order: str = "rgb"
    resize: str = "center_crop"
    scale: float = 1 / 255
    offset: float = 0.0
    provenance: Provenance = field(default_factory=Provenance)

    def __post_init__(self):
        if self.task not in TASKS:
            raise UserError(f"spec: task {self.task!r} is not one of {', '.join(TASKS)}")
        if self.color_order not in COLOR_ORDERS:
            raise UserError(f"spec: color_order {self.color_order!r} is not one of {', '.join(COLOR_ORDERS)}")
        if self.resize not in RESIZE_MODES:
            raise UserError(f"spec: resize {self.resize!r} is not one of {', '.join(RESIZE_MODES)}")
        wanted = {"rgb": 3, "bgr": 3, "gray": 1}.get(self.color_order, self.channels)
        if self.channels != wanted:
            raise UserError(f"spec: color_order {self.color_order!r} needs channels={wanted}, got {self.channels}")
        if self.task != "regression" and len(self.labels) < 2:
            raise UserError(f"spec: a {self.task} model needs at least two labels, got {list(self.labels)}")

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.height, self.width, self.channels)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> "ModelSpec":
        data = json.loads(text)
        data["labels"] = tuple(data["labels"])
        legacy = data.pop("extra", {})  # files from 0.1.0 carried provenance as an untyped dict
        data["provenance"] = Provenance.from_dict(data.pop("provenance", legacy))
        return cls(**data)

    def with_provenance(self, **items) -> "ModelSpec":
        """A copy with these provenance fields set (the spec itself is immutable)."""
        return replace(self, provenance=replace(self.provenance, **items))
