"""One real browser (Debian's Chromium driven by Playwright) through the whole lesson."""

import re
import shutil
import time
from pathlib import Path

import pytest

from app_server import running_app

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Chromium is not installed (see .ci/run)")
playwright = pytest.importorskip("playwright.sync_api")

TEXT = ("Happy families are all alike; every unhappy family is unhappy in its own way. "
        "Everything was in confusion in the Oblonskys' house. ") * 30
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


def test_a_lesson_in_the_browser(browser, tmp_path):
    corpus = tmp_path / "family.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    with running_app(tmp_path) as (app, url):
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        page.get_by_text("Step 1 — the data").wait_for(timeout=30_000)

        # Corpus: upload a text and load it
        page.locator("input[type=file]").first.set_input_files(str(corpus))
        page.wait_for_timeout(1000)
        page.get_by_role("button", name="Load text").click()
        page.locator("#corpus-summary").get_by_text("family.txt").wait_for(timeout=20_000)
        assert f"{len(TEXT):,} characters" in page.locator("#corpus-summary").inner_text()

        # Batches: move the N slider with the keyboard; the grid follows
        page.get_by_role("tab", name="2 · Batches").click()
        info = page.locator("#batch-info")
        info.get_by_text("15×50").wait_for(timeout=20_000)
        slider = page.locator("#batch-n input[type=range]")
        slider.focus()
        for _ in range(3):
            slider.press("ArrowRight")
        info.get_by_text("18×50").wait_for(timeout=20_000)
        assert page.locator("#grid-x tr").count() == 10

        # Train: start, watch the loss plot change, stop
        page.get_by_role("tab", name="3 · Train").click()
        page.locator("#start-training").click()
        status = page.locator("#train-status")
        status.get_by_text(re.compile(r"Step: \d+")).wait_for(timeout=60_000)
        plot = page.locator("#loss-plot")
        plot.locator("canvas, svg").first.wait_for(timeout=30_000)
        before = plot.inner_html()
        page.wait_for_function(
            "([sel, html]) => document.querySelector(sel) && document.querySelector(sel).innerHTML !== html",
            arg=["#loss-plot", before], timeout=30_000)
        page.locator("#stop-training").click()
        try:
            status.get_by_text(re.compile("stopped|done")).wait_for(timeout=60_000)
        except Exception:
            page.screenshot(path="/tmp/browser-stop-failure.png", full_page=True)
            print("status:", status.inner_text(), "| message:", page.locator("#train-message").inner_text(),
                  "| jobs:", [(v.job.snapshot().state, v.job.snapshot().step) for v in app.store.visitors() if v.job])
            raise

        # Generate: pick this session's model and write text
        page.get_by_role("tab", name="4 · Generate").click()
        page.wait_for_timeout(1500)
        page.locator("#model-choice input").click()  # the pretrained model is the default: pick ours
        page.get_by_role("option", name=re.compile("this session")).first.click()
        page.wait_for_timeout(500)
        page.locator("#prime textarea").fill("Far")
        page.locator("#generate-btn").click()  # this text has no capital F: a clear message
        page.locator("#gen-status").get_by_text("never saw").wait_for(timeout=30_000)
        page.locator("#prime textarea").fill("Happy")
        page.locator("#generate-btn").click()
        page.locator("#gen-status").get_by_text("Done").wait_for(timeout=60_000)
        text = page.locator("#gen-text textarea").input_value()
        assert text.startswith("Happy") and len(text) == 505
        page.screenshot(path=str(tmp_path / "generate.png"))

        # Closing the tab stops that visitor's training and removes its files
        page.get_by_role("tab", name="3 · Train").click()
        page.locator("#start-training").click()
        status.get_by_text("▶").wait_for(timeout=60_000)  # the new run (the old line said "stopped")
        assert app.slots.running == 1
        folders = [v.folder for v in app.store.visitors()]
        page.close()
        deadline = time.time() + 60
        while (app.slots.running or any(f.exists() for f in folders)) and time.time() < deadline:
            time.sleep(0.5)
        assert app.slots.running == 0 and not any(f.exists() for f in folders)
