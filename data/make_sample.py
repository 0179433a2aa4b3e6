"""Rebuild data/sample/muffin-chihuahua from ../shared/data/muffin-chihuahua (run from the repository root).

Every k-th file of each sorted class folder (100 per class from train, 50 per class from test), downscaled so the
short side is 160 px (INTER_AREA) and saved as JPEG quality 85.
"""

from pathlib import Path

import cv2

SOURCE = Path("../shared/data/muffin-chihuahua")
TARGET = Path("data/sample/muffin-chihuahua")
PER_CLASS = {"train": 100, "test": 50}
SHORT_SIDE = 160

for split, count in PER_CLASS.items():
    for label in ("chihuahua", "muffin"):
        files = sorted((SOURCE / split / label).glob("*.jpg"))
        out = TARGET / split / label
        out.mkdir(parents=True, exist_ok=True)
        for path in files[:: len(files) // count][:count]:
            image = cv2.imread(str(path))
            h, w = image.shape[:2]
            s = SHORT_SIDE / min(h, w)
            image = cv2.resize(image, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
            cv2.imwrite(str(out / path.name), image, [cv2.IMWRITE_JPEG_QUALITY, 85])
