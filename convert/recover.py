"""`convert quantize --recover`: when an int8 export fails the gate, keep the fewest activations in float until it
passes, in the order the diagnosis ranks them (convert/diagnose.py). An activation stays float when the op that
makes it and the ops that read it run in float; otherwise a reader would quantise it again with the same range.

The search tries the worst 1, 2, 4, ... activations, then bisects between the last count that failed and the first
that passed; it stops past --recover-max-float float ops (default 10% of the model's ops, and always enough for the
worst activation alone). Each runtime's debugger (convert/diagnose.py) writes the tries: TFLite re-quantises the
once-calibrated model with QuantizationDebugger's denylist; ONNX runs quantize_static with nodes_to_exclude."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from convert.diagnose import Debugger, Diagnosis, Layer


@dataclass
class Attempt:
    layers: list[Layer]  # activations kept in float
    nodes: list[str]  # the ops that run in float for that
    passed: bool
    figures: dict  # accuracy, drop, agreement of the attempt

    @property
    def tensors(self) -> list[str]:
        return [layer.tensor for layer in self.layers]

    @property
    def names(self) -> list[str]:
        """The Keras layers kept in float (the tensor's name where none maps)."""
        return list(dict.fromkeys(layer.layer or layer.tensor for layer in self.layers))


@dataclass
class Outcome:
    path: Path | None  # the passing model in the work folder, or None
    chosen: Attempt | None
    tried: list[Attempt] = field(default_factory=list)
    total_ops: int = 0

    def report(self) -> dict:
        """What parity.json and the spec record."""
        return {"passed": self.chosen is not None, "total_ops": self.total_ops,
                "float_layers": self.chosen.names if self.chosen else [],
                "float_tensors": self.chosen.tensors if self.chosen else [],
                "float_ops": len(self.chosen.nodes) if self.chosen else 0,
                "tried": [{"float_activations": len(a.layers), "float_ops": len(a.nodes), "passed": a.passed,
                           **a.figures} for a in self.tried]}


def search(diagnosis: Diagnosis, debugger: Debugger, check: Callable[[Path], dict], max_float: float | None,
           work: Path, suffix: str) -> Outcome:
    """The fewest of DIAGNOSIS's worst activations kept float for CHECK (a file -> its parity row) to pass, written by
    DEBUGGER into WORK; at most MAX_FLOAT float ops (a fraction of the model's ops when below 1, else a count)."""
    ranked = diagnosis.ranked()
    outcome = Outcome(None, None, total_ops=debugger.total_ops())
    limit = max_float if max_float is not None and max_float >= 1 else round((max_float or 0.1) * outcome.total_ops)
    limit = max(limit, len(debugger.nodes([ranked[0].tensor])))  # the worst activation may always be tried

    def attempt(count: int) -> Attempt | None:
        nodes = debugger.nodes([layer.tensor for layer in ranked[:count]])
        if len(nodes) > limit:
            return None
        path = work / f"recover-{count}{suffix}"
        debugger.write(nodes, path)
        row = check(path)
        tried = Attempt(ranked[:count], nodes, not row["failures"], {k: row[k] for k in ("accuracy", "drop", "agreement")})
        outcome.tried.append(tried)
        if tried.passed and (outcome.chosen is None or count < len(outcome.chosen.layers)):
            outcome.chosen, outcome.path = tried, path
        return tried

    failed, count = 0, 1
    while count <= len(ranked):
        tried = attempt(count)
        if tried is None or tried.passed:
            break
        failed, count = count, count * 2
    if outcome.chosen is None and count > len(ranked) and failed < len(ranked):
        attempt(len(ranked))
    passed = len(outcome.chosen.layers) if outcome.chosen else None
    while passed is not None and passed - failed > 1:  # bisect: the fewest that still passes
        middle = (failed + passed) // 2
        tried = attempt(middle)
        if tried is not None and tried.passed:
            passed = middle
        else:
            failed = middle
    return outcome
