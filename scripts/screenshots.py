"""Take the README's screenshots: every tab, in English and in Chinese, on a laptop and in presentation mode on
a projector (1024×768 at 150 %), from the app as it is now. Run it after changing what a page shows:

    python scripts/screenshots.py            # writes docs/screenshots/*.jpg (needs Playwright and Chromium)

Each tab is shown doing its main thing (the toy trained, a batch, one training step, the arrival text, a
passage unrolled through the network), so that the pictures say what the tab is for.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from app_server import CHROMIUM, CHROMIUM_ARGS, running_app  # noqa: E402 (after the path is set)
from playwright.sync_api import sync_playwright  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
TABS = ("ideas", "corpus", "batches", "train", "generate", "inside")
# (name, browser settings, query, height shown in CSS pixels)
MODES = {
    "laptop": ({"viewport": {"width": 1366, "height": 768}}, "", 1100),
    "projector": ({"viewport": {"width": 683, "height": 512}, "device_scale_factor": 1.5}, "&present=1", 900),
}
LANGS = ("en", "zh-CN")
# what each tab does before its picture: (a button to press, how many times, what to wait for)
ACTION = {
    "ideas": ("#train-toy", 1, "#ideas-toy table"),
    "corpus": (None, 0, "#corpus-summary p"),
    "batches": (None, 0, "#grid-y td"),
    "train": ("#one-batch", 2, "#step-view li"),
    "generate": (None, 0, "#gen-text textarea"),
    "inside": ("#unroll-button", 1, "#unrolled .cl-now"),
}
ANCHOR = {
    "ideas": "#ask-ideas",
    "corpus": "#ask-corpus",
    "batches": "#batch-info",
    "train": "#one-batch",
    "generate": "#prime",
    "inside": "#unroll",
}  # the picture starts a little above this


def shoot(page, url: str, tab: str, lang: str, mode: str) -> Path:
    settings, query, height = MODES[mode]
    page.goto(f"{url}?tab={tab}&lang={lang}{query}")
    page.locator(f"#tabs [role=tab][data-tab-id={tab}][aria-selected=true]").wait_for(timeout=60_000)
    button, presses, ready = ACTION[tab]
    page.wait_for_timeout(3000)  # the page's opening events (a press before its handlers are live is lost)
    for _ in range(presses):
        page.locator(button).click()
        page.wait_for_timeout(2000)
    page.locator(ready).first.wait_for(timeout=60_000)
    page.wait_for_timeout(1500)  # the rest of the page's opening redraws
    top = page.locator(ANCHOR[tab]).first.bounding_box()["y"] + page.evaluate("scrollY") - 140
    top = max(0, top if tab not in ("ideas", "corpus") else page.locator("#tabs").bounding_box()["y"] - 20)
    width = settings["viewport"]["width"]
    path = OUT / f"{tab}-{lang}-{mode}.jpg"
    page.screenshot(
        path=str(path),
        full_page=True,
        type="jpeg",
        quality=72,
        clip={"x": 0, "y": top, "width": width, "height": height},
    )
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tabs", default=",".join(TABS), help="which tabs (comma-separated)")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, running_app(Path(tmp)) as (_app, url), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        for mode, (settings, _, _) in MODES.items():
            for lang in LANGS:
                context = browser.new_context(locale=lang, **settings)
                page = context.new_page()
                for tab in args.tabs.split(","):
                    print(shoot(page, url, tab, lang, mode).relative_to(ROOT))
                context.close()
        browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
