"""The page where a class meets it: a laptop (1366×768), a projector (1024×768 at 150 % zoom: 683×512 CSS
pixels) and a phone (390×844). Every tab's main control can be clicked, the page never scrolls sideways,
the batch grids never cover each other; presentation mode switches; a link sets the page up."""

import re

import pytest
from app_server import HAS_CHROMIUM, running_app

pytestmark = [
    pytest.mark.browser,
    pytest.mark.app,
    pytest.mark.slow,
    pytest.mark.skipif(not HAS_CHROMIUM, reason="Chromium is not installed (see .ci/run)"),
]
playwright = pytest.importorskip("playwright.sync_api")

SIZES = {
    "laptop": {"viewport": {"width": 1366, "height": 768}},
    "projector": {"viewport": {"width": 683, "height": 512}, "device_scale_factor": 1.5},
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
    },
}
MAIN_CONTROL = {
    "ideas": "#train-toy",
    "corpus": "#load-text",
    "batches": "#batch-n input[type=range]",
    "train": "#start-training",
    "generate": "#generate-btn",
    "inside": "#unroll-button",
}

# For each grid: do the cells a visitor sees belong to that grid (nothing drawn over them)?
COVERED_CELLS = """(sel) => {
  const grid = document.querySelector(sel + ' .cl-grid'), box = grid.getBoundingClientRect();
  const scrolls = getComputedStyle(grid).overflowX !== 'visible';  // cells past its edge are scrolled out of sight
  const bad = [];
  for (const td of document.querySelectorAll(sel + ' td')) {
    const r = td.getBoundingClientRect();
    const x = r.left + r.width / 2, y = r.top + r.height / 2;
    if (y < 0 || y > innerHeight || x < 0 || x > innerWidth) continue;  // off the screen
    if (scrolls && (x < box.left || x > box.right)) continue;
    const top = document.elementFromPoint(x, y);
    if (!top || !td.contains(top) && top !== td) bad.push(td.textContent);
  }
  return bad;
}"""


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    with running_app(tmp_path_factory.mktemp("layout")) as (_app, address):
        yield address


def opened(browser, url, size, query=""):
    context = browser.new_context(**SIZES[size])
    page = context.new_page()
    page.goto(url + query)
    page.locator("#tabs [role=tab]").first.wait_for(timeout=60_000)
    return context, page


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth + 1")


@pytest.mark.parametrize("size", list(SIZES))
def test_every_tab_is_usable_without_sideways_scrolling(browser, url, size):
    context, page = opened(browser, url, size)
    for tab, selector in MAIN_CONTROL.items():
        button = page.locator(f"#tabs [role=tab][data-tab-id={tab}]")
        assert button.is_visible(), f"{size}: tab {tab} hidden (behind a menu?)"
        button.click()
        control = page.locator(selector).first
        control.scroll_into_view_if_needed(timeout=10_000)
        control.click(trial=True, timeout=10_000)  # visible, enabled, and nothing lies over it
        page.wait_for_timeout(300)
        assert no_sideways_scroll(page), f"{size}: the page scrolls sideways on tab {tab}"
    # the Batches tab: the input and target grids side by side or stacked, never one over the other
    page.locator("#tabs [role=tab][data-tab-id=batches]").click()
    page.locator("#grid-y td").first.wait_for(timeout=20_000)
    for grid in ("#grid-x", "#grid-y"):
        page.locator(grid).scroll_into_view_if_needed()
        assert page.evaluate(COVERED_CELLS, grid) == [], f"{size}: cells of {grid} are covered"
    boxes = [page.locator(sel).bounding_box() for sel in ("#batch-info", "#grid-x", "#grid-y", "#one-hot")]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            apart = (
                a["x"] + a["width"] <= b["x"] + 1
                or b["x"] + b["width"] <= a["x"] + 1
                or a["y"] + a["height"] <= b["y"] + 1
                or b["y"] + b["height"] <= a["y"] + 1
            )
            assert apart, f"{size}: overlapping blocks on the Batches tab: {a} {b}"
    context.close()


TABLE_FITS = """(sel) => [...document.querySelectorAll(sel)].map(box => box.scrollWidth <= box.clientWidth + 1)"""


@pytest.mark.parametrize("size", ["phone", "projector"])
@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_the_toys_tables_fit_their_box(browser, url, size, lang):
    """Every pair's before/after table whole in its box, with nothing to scroll sideways, on a phone and at the
    projector in presentation mode (one wide table of all four stages needed 854 px in a 276 px box)."""
    query = f"?tab=ideas&lang={lang}" + ("&present=1" if size == "projector" else "")
    context, page = opened(browser, url, size, query)
    page.locator("#train-toy").click()
    page.locator("#ideas-toy .cl-toy-pair").nth(3).wait_for(timeout=30_000)
    fits = page.evaluate(TABLE_FITS, "#ideas-toy .cl-toy-pair")
    assert fits == [True] * 4, f"{size}, {lang}: a pair's table is wider than its box"
    context.close()


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_the_batch_grids_share_one_projector_screen(browser, url, lang):
    """x beside y at the projector in presentation mode, rows level, so that "shifted by one" is read at a glance
    without scrolling (stacked, they needed 889 device px of the 768)."""
    context, page = opened(browser, url, "projector", f"?tab=batches&present=1&lang={lang}")
    page.locator("#grid-y td").first.wait_for(timeout=20_000)
    x, y = (page.locator(sel).bounding_box() for sel in ("#grid-x", "#grid-y"))
    assert x["x"] + x["width"] <= y["x"] + 1, f"{lang}: the grids are not side by side"
    assert max(x["y"] + x["height"], y["y"] + y["height"]) - min(x["y"], y["y"]) <= 512, f"{lang}: taller than a screen"
    rows = [page.locator(f"{sel} tr").last.bounding_box()["y"] for sel in ("#grid-x", "#grid-y")]
    assert abs(rows[0] - rows[1]) <= 1, f"{lang}: the grids' rows are not level"
    context.close()


def test_presentation_mode_switches_in_the_page(browser, url):
    context, page = opened(browser, url, "projector")
    tab = page.locator("#tabs [role=tab][data-tab-id=ideas]")
    before = tab.evaluate("b => parseFloat(getComputedStyle(b).fontSize)")
    page.locator("#present input").check()
    playwright.expect(page.locator("body")).to_have_class(re.compile("cl-present"), timeout=10_000)
    assert tab.evaluate("b => parseFloat(getComputedStyle(b).fontSize)") > 1.2 * before
    assert not page.locator(".info-text").first.is_visible()  # hints tucked away
    assert no_sideways_scroll(page)
    page.locator("#present input").uncheck()
    playwright.expect(page.locator("body")).not_to_have_class(re.compile("cl-present"), timeout=10_000)
    context.close()


# What the back row reads on the Train tab: the lesson's prose, a field's label and hint, the status line.
READ_FROM_THE_BACK = {
    "prose": "#tabs .prose p",
    "label": "#tabs [data-testid=block-info]",
    "status": "#train-status p",
    "button": "#start-training",
}
TYPE = r"""(sel) => {
  const e = [...document.querySelectorAll(sel)].find(e => e.offsetParent && e.textContent.trim());
  if (!e) return null;
  const rgb = (c) => c.match(/[0-9.]+/g).slice(0, 3).map(Number);
  const lum = (c) => {
    const v = rgb(c).map(x => x / 255).map(x => x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4);
    return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2];
  };
  let back = e, bg = 'rgb(255, 255, 255)';
  while (back) {  // the first colour behind the text
    const b = getComputedStyle(back).backgroundColor;
    if (!/rgba\(.*, 0\)$/.test(b) && b !== 'transparent') { bg = b; break; }
    back = back.parentElement;
  }
  const s = getComputedStyle(e), [a, b] = [lum(s.color), lum(bg)].sort((x, y) => y - x);
  return {size: parseFloat(s.fontSize), contrast: (a + 0.05) / (b + 0.05)};
}"""


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_presentation_mode_makes_what_the_class_reads_large_and_dark(browser, url, lang):
    """At the projector (1024x768 at 150 %), the prose, labels, status and buttons of the Train tab: 20 CSS px
    or more and a contrast of 7:1 or more in presentation mode; the plain page is smaller (the switch works)."""
    measured = {}
    for mode, query in (("plain", f"?tab=train&lang={lang}"), ("present", f"?tab=train&lang={lang}&present=1")):
        context, page = opened(browser, url, "projector", query)
        page.locator("#train-status p").first.wait_for(timeout=20_000)
        title = page.locator("#tabs [role=tab][data-tab-id=train]")
        playwright.expect(title).to_have_text(re.compile("[\u4e00-\u9fff]" if lang != "en" else "Train"))
        measured[mode] = {name: page.evaluate(TYPE, sel) for name, sel in READ_FROM_THE_BACK.items()}
        context.close()
    for name in READ_FROM_THE_BACK:
        plain, present = measured["plain"][name], measured["present"][name]
        assert present is not None and plain is not None, f"{lang}: no {name} on the Train tab"
        assert present["size"] >= 20, f"{lang}: {name} at {present['size']} px in presentation mode"
        assert present["contrast"] >= 7, f"{lang}: {name} at a contrast of {present['contrast']:.1f}"
        assert present["size"] > plain["size"], f"{lang}: {name} is no larger in presentation mode"


def test_a_link_sets_up_the_page_and_the_page_writes_its_own_link(browser, url):
    query = "?tab=batches&n=20&m=30&present=1&preset=small&learning_rate=0.01&hide=grad_clip"
    context, page = opened(browser, url, "phone", query)
    playwright.expect(page.locator("#tabs [role=tab][data-tab-id=batches]")).to_have_attribute(
        "aria-selected", "true", timeout=20_000
    )
    page.locator("#batch-info").get_by_text("20×30").wait_for(timeout=20_000)
    playwright.expect(page.locator("body")).to_have_class(re.compile("cl-present"), timeout=10_000)
    page.locator("#tabs [role=tab][data-tab-id=train]").click()
    playwright.expect(page.get_by_label("Learning rate")).to_have_value("0.01", timeout=10_000)
    assert page.get_by_label("Gradient clip").count() == 0  # hidden for this exercise
    assert page.locator("#link-note").inner_text().strip() == ""  # every value was good
    page.locator("#copy-link").click()
    link = page.locator("#link-box textarea")
    playwright.expect(link).to_have_value(re.compile(r"^http://127\.0\.0\.1:\d+/\?tab=train&"), timeout=10_000)
    written = link.input_value()
    for part in ("present=1", "preset=small", "learning_rate=0.01", "n=20", "m=30", "hide=grad_clip"):
        assert part in written
    context.close()


def test_a_bad_value_in_a_link_is_left_out_with_a_note(browser, url):
    context, page = opened(browser, url, "laptop", "?top_n=lots&tab=nowhere&temperature=0.5")
    note = page.locator("#link-note")
    note.get_by_text("Top-N must be a whole number").wait_for(timeout=20_000)
    assert "nowhere" in note.inner_text()
    page.locator("#tabs [role=tab][data-tab-id=generate]").click()
    playwright.expect(page.get_by_label("Temperature").first).to_have_value("0.5", timeout=10_000)  # the good one
    context.close()


def test_a_links_notes_show_its_text_plainly_never_its_html(browser, url):
    """A link's unknown names and bad values come back in the note as plain text: no link, image or form of the
    link's making appears on the page."""
    query = "?%3Ca%20href%3D%22http%3A%2F%2Fx%22%3Eclick%3C%2Fa%3E=1&prime_x=%21%5Bi%5D(http%3A%2F%2Fx%2Fi.png)"
    context, page = opened(browser, url, "laptop", query)
    note = page.locator("#link-note")
    note.get_by_text("No setting is called").first.wait_for(timeout=20_000)
    assert note.locator("a, img, form, input").count() == 0
    assert '<a href="http://x">click</a>' in note.inner_text()
    context.close()


def test_generate_draws_a_new_seed_each_time_and_keep_this_seed_repeats_it(browser, url):
    context, page = opened(browser, url, "laptop", "?tab=generate&length=40")
    text, status = page.locator("#gen-text textarea"), page.locator("#gen-status")
    seed_box = page.locator("#seed textarea, #seed input").first
    status.get_by_text("seed 2").wait_for(timeout=30_000)  # the classroom-clean example on arrival
    assert text.input_value().startswith("Far") and seed_box.input_value() == ""
    seeds, texts = [], []
    done = (
        "([el, seen]) => { const m = /Done: 40 characters \\(seed (\\d+)\\)/.exec(el.innerText);"
        " return m && !seen.includes(m[1]) ? m[1] : null; }"
    )  # a new "Done" line: its seed
    for _ in range(2):
        page.locator("#generate-btn").click()
        seeds.append(page.wait_for_function(done, arg=[status.element_handle(), seeds], timeout=30_000).json_value())
        playwright.expect(text).to_have_value(re.compile(r"^Far.{40}$", re.S), timeout=10_000)
        texts.append(text.input_value())
    assert seeds[0] != seeds[1] and texts[0] != texts[1]
    page.locator("#keep-seed input").check()
    playwright.expect(seed_box).to_have_value(seeds[1], timeout=10_000)
    page.locator("#generate-btn").click()
    status.get_by_text(f"seed {seeds[1]})").wait_for(timeout=30_000)
    playwright.expect(text).to_have_value(texts[1], timeout=10_000)
    context.close()


@pytest.mark.parametrize("size", list(SIZES))
def test_the_unrolled_network_opens_on_the_chosen_character_and_steps_on(browser, url, size):
    """At every size the chosen step is on screen (the unrolled row scrolls, the page does not), the cell
    view draws the LSTM's gates with the plain RNN beside it, and "one on" moves everything one character."""
    context, page = opened(browser, url, size, "?tab=inside")
    now = page.locator("#unrolled .cl-uc.cl-now")
    for _ in range(3):  # a press before the page's handlers are live is lost: press again
        page.locator("#unroll-button").click()
        try:
            now.first.wait_for(timeout=20_000)
            break
        except playwright.TimeoutError:
            continue
    chosen = int(page.locator("#unroll-position input[type=number]").input_value())
    passage = page.locator("#passage textarea").input_value()
    assert page.locator("#unrolled .cl-now b").last.inner_text() == passage[chosen].replace(" ", "␣")
    page.locator("#unrolled").scroll_into_view_if_needed()
    box, cell = page.locator("#unrolled .cl-unroll-box").bounding_box(), now.last.bounding_box()
    assert box["x"] - 1 <= cell["x"] and cell["x"] + cell["width"] <= box["x"] + box["width"] + 1, (
        f"{size}: the chosen step is scrolled out of sight"
    )
    assert no_sideways_scroll(page), f"{size}: the page scrolls sideways"
    assert page.locator("#cell-view .cl-row").count() == 2 * 7  # two layers, seven rows each (c in, f, i, g, c, o, h)
    assert "RNN layer 0" in page.locator("#cell-compare").inner_text()
    page.locator("#unroll-on").click()
    page.wait_for_function(
        f"document.querySelector('#unroll-position input[type=number]').value == '{chosen + 1}'", timeout=30_000
    )
    page.wait_for_function(
        f"(document.querySelector('#cell-view .cl-title') || {{}}).textContent?.includes('position {chosen + 1}')",
        timeout=30_000,
    )
    context.close()


def test_a_late_arrival_example_never_replaces_the_visitors_own_text(browser, tmp_path, monkeypatch):
    """A first visitor's page can take seconds to open (the model loads, the example is written): the example
    must not land on top of a text the visitor has generated meanwhile."""
    import time

    from demo.tabs import generate

    def slow_example(label, sampler):
        time.sleep(4)
        return "THE EXAMPLE"

    monkeypatch.setattr(generate, "demo_text", slow_example)
    with running_app(tmp_path) as (_app, address):
        context, page = opened(browser, address, "phone", "?tab=generate&length=30&seed=5")
        # the page is live (its link applied, its model list filled), and the example not yet there
        page.locator("#tabs [role=tab][data-tab-id=generate][aria-selected=true]").wait_for(timeout=60_000)
        page.wait_for_function("() => document.querySelector('#model-choice input')?.value", timeout=60_000)
        assert "THE EXAMPLE" not in page.locator("#gen-text textarea").input_value()
        page.locator("#generate-btn").click()
        status, text = page.locator("#gen-status"), page.locator("#gen-text textarea")
        status.get_by_text("Done: 30 characters").wait_for(timeout=60_000)
        time.sleep(6)  # the example's handler has returned by now
        assert "Done: 30 characters" in status.inner_text()
        assert text.input_value().startswith("Far") and "THE EXAMPLE" not in text.input_value()
        context.close()


# Where each part the class watches during a training sits once the status is scrolled to the top.
WATCHED = ("#train-status", "#coach", "#loss-plot", "#train-sample")
PLACES = """(sels) => {
  document.querySelector(sels[0]).scrollIntoView({block: 'start'});
  return sels.map(s => { const r = document.querySelector(s).getBoundingClientRect();
                         return {part: s, top: r.top, bottom: r.bottom, height: r.height}; })
           .concat([{part: 'screen', top: 0, bottom: innerHeight, height: innerHeight}]);
}"""


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_a_training_is_watched_on_one_projector_screen(browser, url, lang):
    """During a run, in presentation mode at the projector: the status, the coach, the curve and the latest
    sample all on the one 683x512 screen, without scrolling between them."""
    context, page = opened(browser, url, "projector", f"?tab=train&lang={lang}&present=1&preset=quick")
    page.locator("#train-status p").first.wait_for(timeout=20_000)
    page.wait_for_timeout(2000)  # the page's opening events (a press before its handlers are live is lost)
    page.locator("#start-training").click()
    try:
        page.locator("#coach li").first.wait_for(timeout=120_000)
        page.locator("#loss-plot img").first.wait_for(timeout=60_000)
        page.wait_for_function("document.querySelector('#train-sample textarea').value.length > 0", timeout=120_000)
        places = page.evaluate(PLACES, list(WATCHED))
    finally:
        page.locator("#stop-training").click()
        page.wait_for_timeout(1000)
        context.close()
    *parts, screen = places
    for part in parts:
        assert part["height"] > 20, f"{lang}: {part['part']} is not shown ({part})"
        assert part["top"] >= 0 and part["bottom"] <= screen["bottom"] + 1, f"{lang}: {part} off a {screen} screen"
