"""Print the README's results table from benchmarks/results (parity and latency of the same exports, side by side).

    python studies/readme_table.py
"""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
NAMES = {"tflite_int8": "TFLite int8 (int8 I/O)", "tflite_int8_float_io": "TFLite int8 (float I/O)",
         "tflite_fp32": "TFLite fp32", "tflite_fp16": "TFLite fp16 weights", "tflite_dynamic": "TFLite dynamic-range",
         "onnx": "ONNX fp32", "onnx_int8": "ONNX int8 QDQ (u8 x u8, percentile, per-channel)"}


def table(stem: str = "muffins_mobilenet_v2") -> str:
    parity = json.loads((RESULTS / f"{stem}_parity.json").read_text())
    bench = json.loads((RESULTS / f"{stem}.json").read_text())
    ours = {(r["format"], r["threads"]): r for r in bench["rows"] if not r.get("runtime", "").endswith("direct")}
    lines = [f"| export | file | size (MB) | test accuracy ({parity['images']}) | top-1 agreement with float "
             "| latency 1 / 2 threads (ms, median) | runner / bare interpreter (1 / 2 threads) |",
             "|---|---|---|---|---|---|---|"]
    for row in parity["rows"]:
        if row["status"] == "reference":
            keras = [ours.get(("keras", n)) for n in (1, 2)]
            latency = f"{keras[0]['median_ms']:.1f} / {keras[1]['median_ms']:.1f}" if all(keras) else "—"
            lines.append(f"| Keras float | {row['file']} | {row['size_mb']:.2f} | {row['accuracy']:.2f}% | — | {latency} | — |")
            continue
        one, two = ours[(row["format"], 1)], ours[(row["format"], 2)]
        overhead = (f"{one['overhead_vs_direct']:.3f} / {two['overhead_vs_direct']:.3f}"
                    if "overhead_vs_direct" in one else "—")
        lines.append(f"| {NAMES[row['format']]} | {row['file']} | {row['size_mb']:.2f} | {row['accuracy']:.2f}% "
                     f"| {row['agreement']:.2f}% ({row['disagreements']} images) | {one['median_ms']:.1f} / "
                     f"{two['median_ms']:.1f} | {overhead} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table())
