"""ModelSpec: everything needed to turn a camera frame into the model's input and its output into a label."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields, replace

from edge.errors import UserError
from edge.metrics import UNIT, fractions

TASKS = ("binary", "multiclass", "regression")
COLOR_ORDERS = ("rgb", "bgr", "gray", "none")  # "none": raw arrays (e.g. 4-channel elevation tiles), not photos
RESIZE_MODES = ("stretch", "center_crop", "letterbox")
CHECKSUMS = ("", "crc32")  # "": a spec outside a model file, or a file exported before checksums
SPEC_KEY = "edge_spec"  # name of the entry that carries the spec inside every model file
MAX_SIDE, MAX_CHANNELS, MAX_LABEL_CHARS = 8192, 64, 200  # beyond any real model: a spec past them is refused
MAX_SPEC_BYTES = 1 << 20  # a spec is under a kilobyte; a larger entry in a model file is refused, never read whole


def finite_number(value) -> bool:
    """Whether VALUE is an int or float (not a bool) and finite: what a size, scale or threshold read from a file
    must be (JSON and TOML also give NaN, strings and booleans)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class Provenance:
    """Where a model came from; stored with its spec, never needed to run it."""

    recipe: str = ""  # the `train` recipe that made it
    model: str = ""  # its architecture: a CNN name or an ImageNet backbone
    toolkit_version: str = ""
    train_data: str = ""  # the folder or file it was trained on (a calibration source for `convert quantize`)
    train_data_hash: str = ""  # of the training file list (names and sizes), to recognise the same data again
    calibration_data: str = ""  # a calibration sample beside the model file (array recipes write one)
    test_data: str = ""  # what training held out: a folder, or a file beside the model (a list of photos, test.npz)
    export_options: dict = field(default_factory=dict)  # the options its export took, e.g. {"target": "arm64"}
    parity: dict = field(default_factory=dict)  # its figures against the float model, as `convert quantize` measured
    float_layers: list = field(default_factory=list)  # int8 exports: activations `--recover` kept in float

    @classmethod
    def from_dict(cls, data) -> "Provenance":
        """Known entries of DATA of the right type; a file written by a later version may carry more, and they are
        dropped (provenance is never needed to run a model, so a malformed entry is dropped too)."""
        if not isinstance(data, dict):
            return cls()
        kinds = {f.name: dict if f.name in ("export_options", "parity") else list if f.name == "float_layers" else str
                 for f in fields(cls)}
        known = {k: v for k, v in data.items() if k in kinds and isinstance(v, kinds[k])}
        if known.get("parity"):  # before 0.6 in percent and points
            known["parity"] = fractions(known["parity"], ("accuracy", "drop", "agreement", "mse_increase")) | {
                "unit": UNIT}
        return cls(**known)


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
    checksum: str = ""  # "crc32" where the file also carries an edge_checksum entry: a file that lost it is damaged

    def __post_init__(self):
        if isinstance(self.labels, list):
            object.__setattr__(self, "labels", tuple(self.labels))
        for name in ("height", "width", "channels"):
            value, top = getattr(self, name), MAX_CHANNELS if name == "channels" else MAX_SIDE
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= top:
                raise UserError(f"spec: {name} must be a whole number from 1 to {top}, got {value!r}")
        for name in ("scale", "offset"):
            value = getattr(self, name)
            if not finite_number(value):
                raise UserError(f"spec: {name} must be a finite number, got {value!r}")
        if self.scale <= 0:
            raise UserError(f"spec: scale must be above 0, got {self.scale!r}")
        if not isinstance(self.labels, tuple) or not all(isinstance(label, str) and 0 < len(label) <= MAX_LABEL_CHARS
                                                         and label.isprintable() for label in self.labels):
            raise UserError(f"spec: labels must be a list of printable names of 1 to {MAX_LABEL_CHARS} characters "
                            f"(no newlines or control characters), got {str(self.labels)[:80]}")
        if self.checksum not in CHECKSUMS:
            raise UserError(f"spec: checksum {self.checksum!r} is not one of {', '.join(map(repr, CHECKSUMS))}")
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
    def from_json(cls, text: str | bytes, where: str = "spec") -> "ModelSpec":
        """The spec in TEXT, validated; UserError naming WHERE (the model file) for anything else. Keys this version
        does not know (a spec from a later toolkit) are left aside, so such a model still runs."""
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            raise UserError(f"{where}: its embedded spec is not valid JSON ({type(exc).__name__}); re-export the "
                            "model with `convert quantize`") from None
        known = {f.name for f in fields(cls)}
        missing = [name for name in ("task", "labels", "height", "width") if not isinstance(data, dict) or name not in data]
        if missing:
            raise UserError(f"{where}: its embedded spec lacks {', '.join(missing)}; re-export the model")
        legacy = data.get("extra", {})  # files from 0.1.0 carried provenance as an untyped dict
        values = {k: v for k, v in data.items() if k in known}
        values["provenance"] = Provenance.from_dict(data.get("provenance", legacy))
        try:
            return cls(**values)
        except UserError as exc:
            raise UserError(f"{where}: {exc}; re-export the model") from None

    def with_provenance(self, **items) -> "ModelSpec":
        """A copy with these provenance fields set (the spec itself is immutable)."""
        return replace(self, provenance=replace(self.provenance, **items))
