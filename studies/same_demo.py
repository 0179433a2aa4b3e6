"""Did a change alter what the toolkit makes? Two runs of the demo's steps (scripts/demo.sh: train, convert quantize,
edge-bench), one by the code before the change and one by the code after, compared: the training figures, the parity
figures (read in one unit, whichever version wrote them), each export's graph and weights with the toolkit's own
metadata set aside, the spec inside apart from its parity figures and version, and every test photo's scores through
the device runtime. tf2onnx numbers its folded constants in no fixed order from one run to the next; they are
named by the op that uses them, and nodes compared as a set, before ONNX graphs are compared.

    git worktree add /tmp/before <commit>
    bash studies/demo_steps.sh /tmp/before /tmp/demo-before && bash studies/demo_steps.sh . /tmp/demo-after
    python studies/same_demo.py /tmp/demo-before /tmp/demo-after --out benchmarks/results/same_demo
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from pathlib import Path

import numpy as np
import typer

from benchmarks.results import write_results
from convert.parity import ROW_FIGURES, read_report
from convert.tflite_metadata import METADATA_KEY
from edge import robustness, runtime
from edge.folders import any_images
from edge.formats import exports_in, format_of
from edge.metadata import CHECKSUM_KEY
from edge.preprocess import read_image, to_pixels
from edge.spec import SPEC_KEY
from edge.tables import markdown

OURS = (SPEC_KEY, CHECKSUM_KEY, METADATA_KEY)  # metadata the toolkit writes; the rest is the converter's


def _graph(path: Path) -> bytes:
    """The model without the toolkit's metadata: what the converter wrote."""
    if format_of(path).runtime == "onnx":
        import onnx

        proto = onnx.load(str(path))
        del proto.metadata_props[:]
        folded: dict[str, str] = {}  # tf2onnx numbers folded constants in no fixed order: name them by their user
        for node in proto.graph.node:
            if node.op_type not in ("QuantizeLinear", "DequantizeLinear"):
                for name in node.input:
                    for constant in re.findall(r"const_fold_opt__\d+", name):
                        folded.setdefault(constant, f"constant_of_{node.name}")

        def renamed(name: str) -> str:
            return re.sub(r"const_fold_opt__\d+", lambda m: folded.get(m.group(0), m.group(0)), name)

        for node in proto.graph.node:
            node.input[:] = [renamed(name) for name in node.input]
            node.output[:] = [renamed(name) for name in node.output]
            node.name = renamed(node.name)
        ordered = sorted(proto.graph.initializer, key=lambda item: renamed(item.name))
        kept = [onnx.TensorProto.FromString(item.SerializeToString()) for item in ordered]
        for item in kept:
            item.name = renamed(item.name)
        del proto.graph.initializer[:]
        proto.graph.initializer.extend(kept)
        nodes = sorted((onnx.NodeProto.FromString(node.SerializeToString()) for node in proto.graph.node),
                       key=lambda node: node.SerializeToString())  # a graph is its set of nodes, not their order
        del proto.graph.node[:]
        proto.graph.node.extend(nodes)
        return proto.SerializeToString()
    from ai_edge_litert import schema_py_generated as schema

    from convert.metadata import pack_tflite

    model = schema.ModelT.InitFromPackedBuf(path.read_bytes(), 0)
    name = lambda entry: entry.name.decode() if isinstance(entry.name, bytes) else entry.name  # noqa: E731
    for entry in model.metadata or []:
        if name(entry) in OURS:
            model.buffers[entry.buffer].data = None
    model.metadata = [entry for entry in model.metadata or [] if name(entry) not in OURS]
    return pack_tflite(model)


def _close(a, b) -> bool:
    """Equal, numbers within half a hundredth of a point (0.5.0 stored percent to 2 decimals)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return all(_close(a.get(k), b.get(k)) for k in set(a) | set(b) - {"unit"})
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(_close, a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return abs(a - b) <= 5e-5
    return a == b


def _spec(path: Path) -> dict:
    """The embedded spec without what a version changes by design: its parity figures and version."""
    spec = runtime.load(path, 1).spec
    return dataclasses.asdict(spec.with_provenance(parity={}, toolkit_version=""))


def _scores(path: Path, photos: list[Path]) -> np.ndarray:
    runner = runtime.load(path, 1)
    return runner.run(runner.input_from_pixels(np.stack([to_pixels(read_image(p), runner.spec) for p in photos])))


def _training(run: Path) -> dict:
    metrics = json.loads((run / "muffins" / "metrics.json").read_text())
    block = robustness.read(metrics["robustness"])
    return {"test accuracy": metrics["test"]["accuracy"], "train accuracy": metrics["train"]["accuracy"],
            "best epoch": metrics["best_epoch"], "severity-3 mean": block["middle"]["mean"],
            "corrupted mean": block["corrupted_mean"]}


def main(before: Path = typer.Argument(..., help="The demo's output folder (runs/demo) made by the old code."),
         after: Path = typer.Argument(..., help="The same, made by the new code."),
         photos: Path = typer.Option(Path("data/sample/muffin-chihuahua/test"), help="Photos to score."),
         out: Path = typer.Option(Path("benchmarks/results/same_demo"), help="Writes OUT.json and OUT.md.")):
    files = sorted(any_images(photos))
    trained = [{"figure": k, "before": v, "after": _training(after)[k], "same": v == _training(after)[k]}
               for k, v in _training(before).items()]
    old, new = (read_report(json.loads((run / "models" / "parity.json").read_text())) for run in (before, after))
    parity = [{"export": a["format"], "figures": ", ".join(k for k in ROW_FIGURES + ("robustness",) if k in a),
               "same": all(_close(a.get(k), b.get(k)) for k in ROW_FIGURES + ("robustness",))}
              for a, b in zip(old["rows"], new["rows"])]
    exports = []
    for path in exports_in(after / "models"):
        twin = before / "models" / path.name
        difference = float(np.max(np.abs(_scores(path, files) - _scores(twin, files))))
        exports.append({"file": path.name, "graph and weights": "identical" if _graph(path) == _graph(twin) else "DIFFER",
                        "spec": "same" if _spec(path) == _spec(twin) else "DIFFERS",
                        "scores max abs diff": difference, "bytes before / after": f"{twin.stat().st_size} / "
                                                                                   f"{path.stat().st_size}"})
    same = all(row["same"] for row in trained + parity) and all(
        e["graph and weights"] == "identical" and e["spec"] == "same" and e["scores max abs diff"] == 0 for e in exports)
    text = (f"`python studies/same_demo.py {before} {after}`: the demo's steps run by two versions of the code. "
            f"{'Nothing the toolkit makes changed.' if same else 'SOMETHING CHANGED.'}\n\nTraining:\n\n"
            + markdown(trained, ["figure", "before", "after", "same"])
            + "\n\nParity (parity.json read in one unit; figures within half a hundredth of a point, as 0.5 stored "
            "them to 2 decimals of a percent):\n\n"
            + markdown(parity, ["export", "figures", "same"]) + f"\n\nExports, scored on the {len(files)} photos of "
            f"{photos} through the device runtime:\n\n"
            + markdown(exports, ["file", "graph and weights", "spec", "scores max abs diff", "bytes before / after"]) + "\n")
    typer.echo(write_results(out, {"before": str(before), "after": str(after), "same": same, "training": trained,
                                   "parity": parity, "exports": exports}, text))
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    typer.run(main)
