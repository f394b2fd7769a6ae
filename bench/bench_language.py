"""What the two languages cost: the page's language switch, and opening the page in each language.

    python bench/bench_language.py [--calls 40] [--browser]

Prints the round trip of ``/set_language`` (which re-labels every translated component and redraws
what Python wrote) against a trivial call (``/stop_generation``) in the same server, the size of the
re-labelling it sends, and, with ``--browser`` (needs Chromium and Playwright), the time from opening
the page to the first line Python writes, with the browser set to English and to Chinese.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from demo.app import AppConfig, CharLMApp  # noqa: E402
from demo.i18n import EN  # noqa: E402

ZH = "zh-CN"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def describe(name: str, seconds: list[float]) -> str:
    s = sorted(seconds)
    return f"{name:<28} p50 {1000 * statistics.median(s):7.1f} ms   p95 {1000 * s[int(0.95 * (len(s) - 1))]:7.1f} ms"


def open_page(url: str, locale: str, marker: str, runs: int = 5) -> list[float]:
    from playwright.sync_api import sync_playwright

    times = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=shutil.which("chromium") or "/usr/bin/chromium",
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        for _ in range(runs):
            context = browser.new_context(locale=locale)
            page = context.new_page()
            start = time.perf_counter()
            page.goto(url)
            page.locator("#corpus-status").get_by_text(marker).wait_for(timeout=60_000)
            times.append(time.perf_counter() - start)
            context.close()
        browser.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--browser", action="store_true", help="also time opening the page in Chromium")
    args = parser.parse_args()

    from gradio_client import Client

    app = CharLMApp(AppConfig(sessions_root=Path(tempfile.mkdtemp(prefix="charlm-bench-"))))
    demo = app.build()
    port = free_port()
    app.launch(demo, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        client = Client(url, verbose=False)
        langs = iter([ZH, EN] * args.calls)
        reference = timed(lambda: client.predict(api_name="/stop_generation"), args.calls)
        switch = timed(lambda: client.predict(next(langs), api_name="/set_language"), args.calls)
        size = len(json.dumps(app.language.relabel(ZH), ensure_ascii=False).encode("utf-8"))
        print(f"{len(app.language.translated)} components re-labelled; {size / 1024:.1f} KiB of text per switch")
        print(describe("/stop_generation (reference)", reference))
        print(describe("/set_language", switch))
        print(f"ratio of medians: {statistics.median(switch) / statistics.median(reference):.2f}×")
        if args.browser:
            for locale, marker in (("en-US", "Loaded"), ("zh-CN", "已载入")):
                print(describe(f"page open → first line, {locale}", open_page(url, locale, marker)))
    finally:
        demo.close()


if __name__ == "__main__":
    main()
