"""Does MediaPipe's ImageClassifier need the centre crop as region of interest to agree with edge-classify? A
`tflite_uint8` export classified by MediaPipe Tasks (in .venv-mediapipe, which scripts/venv.sh makes) with and
without the centre square as ROI, each label held against edge-classify's on the same photos.

    python studies/mediapipe_roi.py runs/demo/models/muffins.uint8.tflite data/sample/muffin-chihuahua/test \\
        benchmarks/results/mediapipe_roi
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.results import write_results  # noqa: E402
from edge.folders import any_images  # noqa: E402

CLASSIFY = REPO / "scripts" / "mediapipe_classify.py"


def main(model: str, photos: str, out: str) -> None:
    paths = [str(p) for p in any_images(Path(photos))]
    ours = subprocess.run([str(REPO / ".venv/bin/edge-classify"), "--model", model, "--images", photos, "--json"],
                          capture_output=True, text=True, check=True).stdout.splitlines()[:-1]
    labels = {record["path"]: record["label"] for record in map(json.loads, ours)}
    agree = {}
    for roi, flags in (("centre crop", []), ("whole image", ["--whole-image"])):
        theirs = subprocess.run([str(REPO / ".venv-mediapipe/bin/python"), str(CLASSIFY), *flags, model, *paths],
                                capture_output=True, text=True, check=True).stdout.splitlines()
        rows = [json.loads(line) for line in theirs]
        agree[roi] = sum(row["labels"][0] == labels[row["path"]] for row in rows)
    text = (f"MediaPipe ImageClassifier on `{Path(model).name}` against edge-classify, {len(rows)} photos of {photos}: "
            f"labels agree on {agree['centre crop']} with the centre square as region of interest, on "
            f"{agree['whole image']} with the whole image (`python studies/mediapipe_roi.py {model} {photos} {out}`).\n")
    print(write_results(Path(out), {"model": model, "photos": photos, "agreement": agree, "images": len(rows)}, text))


if __name__ == "__main__":
    main(*sys.argv[1:])
