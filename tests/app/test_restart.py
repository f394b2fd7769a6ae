"""A page open while its server restarts, or while the server forgets it: told that its work is gone, in its
language, never shown a blank page as if nothing had happened, nor left waiting on a session the new server
never saw (a real browser)."""

import time

import pytest
from app_server import HAS_CHROMIUM, free_port, running_app

pytestmark = [pytest.mark.app, pytest.mark.slow]
needs_chromium = pytest.mark.skipif(not HAS_CHROMIUM, reason="Chromium is not installed (see .ci/run)")

GONE = {"en": "This server has restarted since you last trained", "zh-CN": "服务器重启过"}
LOST = {"en": "The server no longer knows this page", "zh-CN": "服务器已不认识这个页面"}


def opened(browser, url: str, lang: str):
    page = browser.new_page(viewport={"width": 1024, "height": 768})
    page.goto(url + f"?tab=train&lang={lang}")
    # the page's opening events have run: the Train tab's status is drawn in the page's language
    page.locator("#train-status").get_by_text("训练" if lang != "en" else "training").first.wait_for(timeout=60_000)
    return page


@pytest.mark.browser
@needs_chromium
def test_a_page_that_trained_before_a_restart_is_told_its_work_is_gone(browser, tmp_path):
    port = free_port()
    with running_app(tmp_path / "before", port=port) as (app, url):
        trained = {lang: opened(browser, url, lang) for lang in GONE}
        for page in trained.values():
            page.locator("#start-training").click()
        idle = opened(browser, url, "en")  # opened, never began anything
        time.sleep(1)
    for visitor in app.store.visitors():  # the old server's trainings: nobody sees them now
        if visitor.job is not None:
            visitor.job.stop()
    with running_app(tmp_path / "after", port=port):
        for lang, page in trained.items():  # each page reloads itself (the server's life changed) and is told
            page.locator("#link-note").get_by_text(GONE[lang]).wait_for(timeout=60_000)
        time.sleep(3)
        for shown in ("#link-note", "#train-status"):  # a page that began nothing lost nothing
            assert (
                GONE["en"] not in idle.locator(shown).inner_text()
                and LOST["en"] not in idle.locator(shown).inner_text()
            )
        page = trained["en"]  # told once: an opening after that is a plain one
        for _ in range(2):
            page.reload()
            page.locator("#train-status").get_by_text("training").first.wait_for(timeout=60_000)
        time.sleep(2)
        assert GONE["en"] not in page.locator("#link-note").inner_text()


@pytest.mark.browser
@needs_chromium
def test_a_page_the_server_forgot_is_told_so_by_its_training_status(browser, tmp_path, monkeypatch):
    """A page silent for longer than the server keeps a visitor (hours) is forgotten with its training; its
    next poll comes from a session the server never saw open."""
    with running_app(tmp_path, port=free_port()) as (app, url):
        page = opened(browser, url, "en")
        page.locator("#start-training").click()
        page.locator("#train-status").get_by_text("Step:").wait_for(timeout=60_000)
        monkeypatch.setattr(app.store, "ttl", 0.0)
        app.store.sweep()
        page.locator("#train-status").get_by_text(LOST["en"]).wait_for(timeout=30_000)


def test_the_server_says_its_life_to_the_page(tmp_path):
    import httpx

    with running_app(tmp_path, port=free_port()) as (app, url):
        answer = httpx.get(url + "charlm/life")
        assert answer.status_code == 200 and answer.text == app.store.life
        assert answer.headers["cache-control"] == "no-store"
