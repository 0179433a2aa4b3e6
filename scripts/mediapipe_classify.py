"""Classify images with MediaPipe Tasks' ImageClassifier, as an Android, iOS or web app would: one JSON line per image
(path, labels, scores), with the centre square as region of interest (what the toolkit's center_crop models were
trained on), or the whole image with --whole-image. Runs in .venv-mediapipe (scripts/venv.sh makes it), used by
tests/test_mediapipe.py and studies/mediapipe_roi.py.

    .venv-mediapipe/bin/python scripts/mediapipe_classify.py [--whole-image] MODEL.uint8.tflite IMAGE...
"""

import json
import sys

import mediapipe as mp
from mediapipe.tasks.python import BaseOptions, vision
from mediapipe.tasks.python.components.containers.rect import RectF


def centre_square(image) -> vision.ImageProcessingOptions:
    w, h = image.width, image.height
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    return vision.ImageProcessingOptions(region_of_interest=RectF(left=left / w, top=top / h, right=(left + side) / w,
                                                                  bottom=(top + side) / h))


def main(args: list[str]) -> None:
    whole = args[0] == "--whole-image"
    model, *images = args[1:] if whole else args
    options = vision.ImageClassifierOptions(base_options=BaseOptions(model_asset_path=model), max_results=2)
    with vision.ImageClassifier.create_from_options(options) as classifier:
        for path in images:
            image = mp.Image.create_from_file(path)
            result = classifier.classify(image) if whole else classifier.classify(image, centre_square(image))
            categories = result.classifications[0].categories
            print(json.dumps({"path": path, "labels": [c.category_name for c in categories],
                              "scores": [c.score for c in categories]}))


if __name__ == "__main__":
    main(sys.argv[1:])
