"""The docs' picture of the `edge-classify --serve` page: a clip of real photos played in real time, the page
opened in Debian's Chromium (Playwright) at a phone's width, a screenshot once a label is shown.

    python studies/serve_screenshot.py runs/muffins/models/muffins.tflite ../shared/data/muffin-chihuahua/test \\
        docs/assets/serve_page.png
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import cv2

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.pipeline import make_video  # noqa: E402


def main(model: str, photos: str, out: str) -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as work:
        video = make_video(Path(photos), Path(work) / "clip.avi", limit=60, repeat=3)  # 6 s at 30 fps
        process = subprocess.Popen([sys.executable, "-m", "edge.classify", "--model", model, "--video", str(video),
                                    "--realtime", "--top-k", "2", "--serve", "127.0.0.1:0"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=REPO)
        url = next(line for line in process.stderr if line.startswith("serving")).split(" at ", 1)[1].strip()
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=[
                    "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"])
                page = browser.new_page(viewport={"width": 400, "height": 620})
                page.goto(url)
                page.wait_for_function("document.getElementById('picture').naturalWidth > 0", timeout=20_000)
                page.wait_for_timeout(1500)  # FPS and latency settle
                page.screenshot(path=str(Path(work) / "page.png"))
                browser.close()
        finally:
            process.terminate()
            process.wait(timeout=30)
        image = cv2.imread(str(Path(work) / "page.png"))
        cv2.imwrite(out, image, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f"wrote {out} ({Path(out).stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main(*sys.argv[1:4])
