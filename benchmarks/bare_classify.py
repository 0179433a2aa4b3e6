"""The floor for start-up: classify one photo with LiteRT and OpenCV and nothing else (int8 I/O model, centre crop).

    python benchmarks/bare_classify.py MODEL.tflite PHOTO
"""
import sys

import cv2
import numpy as np
from ai_edge_litert.interpreter import Interpreter


def main(model: str, photo: str) -> None:
    interpreter = Interpreter(model_path=model, num_threads=1)
    interpreter.allocate_tensors()
    source, target = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    _, height, width, _ = source["shape"]
    image = cv2.imread(photo)
    h, w = image.shape[:2]
    side = min(h, w)
    crop = image[(h - side) // 2 : (h - side) // 2 + side, (w - side) // 2 : (w - side) // 2 + side]
    pixels = cv2.cvtColor(cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
    scale, zero_point = source["quantization"]
    interpreter.set_tensor(source["index"], np.round(pixels / 255 / scale + zero_point).astype(source["dtype"])[None])
    interpreter.invoke()
    print(photo, interpreter.get_tensor(target["index"])[0])


if __name__ == "__main__":
    main(*sys.argv[1:3])
