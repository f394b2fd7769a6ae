"""One real browser (Debian's Chromium driven by Playwright) through the whole lesson."""

import re
import time

import pytest
from app_server import HAS_CHROMIUM, running_app

pytestmark = [
    pytest.mark.browser,
    pytest.mark.app,
    pytest.mark.slow,
    pytest.mark.skipif(not HAS_CHROMIUM, reason="Chromium is not installed (see .ci/run)"),
]
playwright = pytest.importorskip("playwright.sync_api")

TEXT = (
    "Happy families are all alike; every unhappy family is unhappy in its own way. "
    "Everything was in confusion in the Oblonskys' house. "
) * 30


def test_a_lesson_in_the_browser(browser, tmp_path):  # noqa: PLR0915 (one lesson, click by click)
    corpus = tmp_path / "family.txt"
    corpus.write_text(TEXT * 10, encoding="utf-8")  # about 860 quick-preset steps: still running when stopped
    with running_app(tmp_path) as (app, url):
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        page.get_by_role("tab", name="2 · Corpus").click()  # the lesson opens on the ideas; the data comes second
        page.get_by_text("The data (chapter §5.1).").wait_for(timeout=30_000)
        # the page's opening events have run (the default text's summary is drawn): its handlers are live
        page.locator("#corpus-summary").get_by_text("characters").first.wait_for(timeout=60_000)

        # Corpus: upload a text and load it
        page.locator("input[type=file]").first.set_input_files(str(corpus))
        page.get_by_text("family.txt").first.wait_for(timeout=20_000)  # uploaded
        page.get_by_role("button", name="Load text").click()
        page.locator("#corpus-summary").get_by_text("family.txt").wait_for(timeout=20_000)
        assert f"{len(TEXT * 10):,} characters" in page.locator("#corpus-summary").inner_text()

        # Batches: move the N slider with the keyboard; the grid follows
        page.get_by_role("tab", name="3 · Batches").click()
        info = page.locator("#batch-info")
        info.get_by_text("15×50").wait_for(timeout=20_000)
        slider = page.locator("#batch-n input[type=range]")
        slider.focus()
        for _ in range(3):
            slider.press("ArrowRight")
        info.get_by_text("18×50").wait_for(timeout=20_000)
        assert page.locator("#grid-x tr").count() == 10

        # Train: start, watch the loss plot change, stop
        page.get_by_role("tab", name="4 · Train").click()
        page.locator("#start-training").click()
        status = page.locator("#train-status")
        status.get_by_text(re.compile(r"Step: \d+")).wait_for(timeout=60_000)
        plot = page.locator("#loss-plot")
        plot.locator("img").first.wait_for(timeout=30_000)
        before = plot.inner_html()
        page.wait_for_function(
            "([sel, html]) => document.querySelector(sel) && document.querySelector(sel).innerHTML !== html",
            arg=["#loss-plot", before],
            timeout=30_000,
        )
        page.locator("#stop-training").click()
        try:
            status.get_by_text(re.compile("stopped|done")).wait_for(timeout=60_000)
            # the run's final figure, every held-out character, not the curve's subset
            status.get_by_text(re.compile(r"held-out loss \d\.\d+ over all [\d,]+ held-out characters")).wait_for(
                timeout=60_000
            )
        except Exception:
            page.screenshot(path="/tmp/browser-stop-failure.png", full_page=True)
            print(
                "status:",
                status.inner_text(),
                "| message:",
                page.locator("#train-message").inner_text(),
                "| jobs:",
                [(v.job.snapshot().state, v.job.snapshot().step) for v in app.store.visitors() if v.job],
            )
            raise

        # Generate: pick this session's model and write text
        page.get_by_role("tab", name="5 · Generate").click()
        model = page.locator("#model-choice input")
        playwright.expect(model).to_have_value(re.compile("pretrained"), timeout=20_000)  # the default
        model.click()  # pick ours
        page.get_by_role("option", name=re.compile("this session")).first.click()
        playwright.expect(model).to_have_value(re.compile("this session"), timeout=10_000)
        # the novel's "Far" has a capital F this text lacks: the prime becomes the text's own opening
        playwright.expect(page.locator("#prime textarea")).to_have_value("Happy families are", timeout=20_000)
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
        page.get_by_role("tab", name="4 · Train").click()
        page.locator("#start-training").click()
        status.get_by_text("▶").wait_for(timeout=60_000)  # the new run (the old line said "stopped")
        assert app.slots.running == 1
        folders = [v.folder for v in app.store.visitors()]
        page.close()
        deadline = time.time() + 60
        while (app.slots.running or any(f.exists() for f in folders)) and time.time() < deadline:
            time.sleep(0.5)
        assert app.slots.running == 0 and not any(f.exists() for f in folders)


# A novel's opening, then 6,000 characters drawn from 1,500 distinct ones: a vocabulary too large for one-hot.
CHINESE = "幸福的家庭都是相似的，不幸的家庭各有各的不幸。\n" + "".join(
    chr(0x4E00 + (i * 7919) % 1500) + ("。\n" if i % 40 == 39 else "") for i in range(6000)
)


# Gradio announces each call's start and end in a visually hidden live region: collect what it says.
HEARD_BY_SCREEN_READERS = """
window.heardByScreenReaders = [];
new MutationObserver(() => {
    for (const region of document.querySelectorAll(".sr-only[aria-live]")) {
        const said = region.textContent.trim();
        if (said && !window.heardByScreenReaders.includes(said)) window.heardByScreenReaders.push(said);
    }
}).observe(document, {subtree: true, childList: true, characterData: true});
"""


def test_the_page_in_chinese_and_the_switch_between_languages(browser, tmp_path):
    """A browser set to Chinese gets the whole page in Chinese; the page's switch changes everything and
    is remembered; the footer's settings move the page's switch along."""
    corpus = tmp_path / "安娜.txt"
    corpus.write_text(CHINESE, encoding="utf-8")
    with running_app(tmp_path) as (_app, url):
        context = browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 1000})
        context.add_init_script(HEARD_BY_SCREEN_READERS)
        page = context.new_page()
        page.goto(url)
        page.get_by_role("tab", name="2 · 语料").click()
        page.get_by_text("数据（本章 §5.1）。").wait_for(timeout=30_000)
        assert page.get_by_role("tab").all_inner_texts()[:6] == [
            "1 · 基本思想",
            "2 · 语料",
            "3 · 小批量",
            "4 · 训练",
            "5 · 生成",
            "6 · 网络内部",
        ]
        status = page.locator("#corpus-status")
        status.get_by_text("已载入").wait_for(timeout=20_000)  # written by Python, in Chinese too
        playwright.expect(page.locator('#language input[value="zh-CN"]')).to_be_checked(timeout=10_000)

        # A Chinese text: an embedding, and a one-hot view of only the rows that light up
        page.locator("input[type=file]").first.set_input_files(str(corpus))
        page.get_by_text("安娜.txt").first.wait_for(timeout=20_000)  # uploaded
        page.get_by_role("button", name="载入文本").click()
        page.locator("#corpus-summary").get_by_text("安娜.txt").wait_for(timeout=20_000)
        assert "嵌入向量" in page.locator("#corpus-summary").inner_text()
        # What a screen reader heard as the load ran and finished: the page's language, never a raw key
        page.wait_for_function("window.heardByScreenReaders.includes('完成')", timeout=10_000)
        heard = page.evaluate("window.heardByScreenReaders")
        assert not [said for said in heard if re.fullmatch(r"[a-z_]+\.[a-z_.]+", said)], heard
        page.get_by_role("tab", name="3 · 小批量").click()
        onehot = page.locator("#one-hot")
        onehot.get_by_text("被点亮的").wait_for(timeout=20_000)
        assert page.locator("#one-hot tr").count() <= 41 and "幸" in page.locator("#grid-x").inner_text()

        # The page's switch: labels and Python's text change at once, and stay changed after a reload
        page.locator("#language").get_by_text("English").click()
        page.get_by_role("tab", name="3 · Batches").wait_for(timeout=20_000)
        page.locator("#batch-info").get_by_text("inputs and targets are both").wait_for(timeout=20_000)
        page.reload()
        page.get_by_role("tab", name="2 · Corpus").click()
        page.get_by_text("The data (chapter §5.1).").wait_for(timeout=30_000)
        status.get_by_text("Loaded").wait_for(timeout=20_000)
        playwright.expect(page.locator('#language input[value="en"]')).to_be_checked(timeout=10_000)
        assert page.get_by_role("tab").all_inner_texts()[0] == "1 · Ideas"

        # The footer's settings switch the labels, and the page's switch follows
        def footer_language(name, lang):
            page.get_by_text(re.compile("^(Language|语言)$")).locator("xpath=..").locator("input").first.click()
            page.get_by_role("option", name=name).first.click()
            playwright.expect(page.locator("html")).to_have_attribute("lang", lang, timeout=10_000)

        page.locator("footer button.settings").click()
        footer_language("English", "en")  # the browser's Chinese, switched off and on again
        footer_language("简体中文", "zh-CN")
        page.keyboard.press("Escape")
        status.get_by_text("已载入").wait_for(timeout=20_000)
        playwright.expect(page.locator('#language input[value="zh-CN"]')).to_be_checked(timeout=10_000)
        assert page.get_by_role("tab").all_inner_texts()[0] == "1 · 基本思想"

        context.close()


# A student's own text in another script (exercise 5): a poem's characters in a drill, lines of twenty.
POEM = "春眠不觉晓处闻啼鸟夜来风雨声花落知多少床前明月光疑是地上霜举头望山低思故乡白日依尽黄河入海流"
STUDENT_TEXT = "第一章\n\n" + "".join(POEM[(i * 7) % len(POEM)] + ("。\n" if i % 20 == 19 else "") for i in range(6000))


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_exercise_five_a_students_own_text_works_in_every_tab(browser, tmp_path, lang):
    """Upload a Chinese text, train a little, then Generate, One character and Inside with that model: the prime
    becomes the text's own opening, top-N reaches its whole vocabulary, and Inside reads a passage the model
    knows (the novel's defaults, "Far" and the Levin passage, have characters it never saw)."""
    corpus = tmp_path / "poem.txt"
    corpus.write_text(STUDENT_TEXT, encoding="utf-8")
    vocab_size = len(set(STUDENT_TEXT))
    with running_app(tmp_path) as (_app, url):
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        page.goto(url + f"?tab=corpus&lang={lang}")
        page.locator("#corpus-summary").get_by_text(re.compile("characters|字符")).first.wait_for(timeout=60_000)
        page.locator("input[type=file]").first.set_input_files(str(corpus))
        page.get_by_text("poem.txt").first.wait_for(timeout=20_000)
        page.locator("#load-text").click()
        page.locator("#corpus-summary").get_by_text("poem.txt").wait_for(timeout=20_000)

        page.locator("#tabs [role=tab][data-tab-id=train]").click()
        page.locator("#start-training").click()
        status = page.locator("#train-status")
        status.get_by_text(re.compile(r"(Step|步数): [1-9]\d*")).wait_for(timeout=60_000)
        page.locator("#stop-training").click()
        status.get_by_text(re.compile(r"held-out|全部")).wait_for(timeout=60_000)
        sample = page.locator("#train-sample textarea")
        playwright.expect(sample).not_to_have_value("", timeout=20_000)  # a sample from the first run on

        page.locator("#tabs [role=tab][data-tab-id=generate]").click()
        # the page's opening example has arrived: its text and status are what Generate then replaces
        page.locator("#gen-status").get_by_text(re.compile(r"seed 2|随机种子 2")).wait_for(timeout=60_000)
        model = page.locator("#model-choice input")
        playwright.expect(model).to_have_value(re.compile("pretrained|预训练"), timeout=20_000)
        model.click()
        page.get_by_role("option", name=re.compile("this session|本次")).first.click()
        prime = page.locator("#prime textarea")
        playwright.expect(prime).to_have_value("第一章", timeout=20_000)  # the text's own opening, not "Far"
        page.locator("#generate-btn").click()
        page.locator("#gen-status").get_by_text(re.compile("Done:|完成：")).wait_for(timeout=60_000)  # not "完成后显示"
        text = page.locator("#gen-text textarea").input_value()
        assert text.startswith("第一章") and len(text) == len("第一章") + 500
        page.locator("#one-char").click()
        page.wait_for_function(  # it went on after the text: one character more (the box held the text already)
            "([sel, n]) => document.querySelector(sel).value.length === n",
            arg=["#gen-text textarea", len(text) + 1],
            timeout=20_000,
        )
        assert page.locator("#gen-text textarea").input_value().startswith(text)
        maxima = page.evaluate("[...document.querySelectorAll('input[type=range]')].map(r => Number(r.max))")
        assert vocab_size in maxima, f"top-N's range should reach the vocabulary's {vocab_size}: {maxima}"

        page.locator("#tabs [role=tab][data-tab-id=inside]").click()
        passage = page.locator("#passage textarea")
        playwright.expect(passage).not_to_have_value(re.compile("Levin"), timeout=20_000)
        assert not re.search("[A-Za-z]", passage.input_value())  # a stretch of the student's own held-out text
        page.locator("#unroll-button").click()
        page.locator("#unrolled .cl-unroll").wait_for(timeout=60_000)
        page.close()
