"""ModelSpec: everything needed to turn a camera frame into the model's input and its output into a label."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from edge.errors import UserError

TASKS = ("binary", "multiclass", "regression")
COLOR_ORDERS = ("rgb", "bgr", "gray", "none")  # "none": raw arrays (e.g. 4-channel elevation tiles), not photos
RESIZE_MODES = ("stretch", "center_crop", "letterbox")
SPEC_KEY = "edge_spec"  # name of the entry that carries the spec inside every model file


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
    extra: dict = field(default_factory=dict)  # provenance: training data, toolkit version, parity figures

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
        return cls(**data)

    def with_extra(self, **items) -> "ModelSpec":
        """A copy with provenance entries added (the spec itself is immutable)."""
        return ModelSpec(**{**asdict(self), "labels": self.labels, "extra": {**self.extra, **items}})
