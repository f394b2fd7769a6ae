"""The lesson prose lives in Markdown, one file per tab and language (demo/lessons/<code>/<tab>.md): a teacher
edits a sentence there, and the page shows it."""

import shutil
from pathlib import Path

import pytest

from demo.locales import LESSONS, LOCALES, Locale, lesson_texts
from demo.locales import en as en_module
from demo.tabs import TABS

ROOT = Path(__file__).resolve().parents[2]


def test_every_tab_has_its_lesson_in_english_with_its_question_and_answer():
    texts = lesson_texts(LESSONS / "en")
    for tab in TABS:
        assert (LESSONS / "en" / f"{tab.ID}.md").is_file()
        for kind in ("explain", "ask", "answer"):
            assert len(texts[f"{kind}.{tab.ID}"].split()) >= 10, (kind, tab.ID)


def test_every_language_writes_only_sections_english_has():
    english = set(lesson_texts(LESSONS / "en"))
    for code in LOCALES:
        assert set(lesson_texts(LESSONS / code)) <= english, code
    assert set(lesson_texts(LESSONS / "zh-CN")) == english  # the Chinese lessons are complete


def test_lesson_prose_is_not_in_the_locale_modules():
    for code, locale in LOCALES.items():
        prose = lesson_texts(LESSONS / code)
        assert all(locale.texts[key] == text for key, text in prose.items())
    assert not any(key.startswith(("explain.", "ask.", "answer.")) for key in en_module.TEXTS)


def test_a_teachers_edit_shows_on_the_page_in_that_language_only(tmp_path):
    lessons = tmp_path / "lessons"
    shutil.copytree(LESSONS, lessons)
    page = lessons / "en" / "corpus.md"
    text = page.read_text(encoding="utf-8")
    old = lesson_texts(LESSONS / "en")["ask.corpus"]
    page.write_text(text.replace(old, "How many letters does *our* novel use? Guess before you load it."), "utf-8")
    edited = Locale.from_module(en_module, lessons=lessons)
    assert edited.texts["ask.corpus"] == "How many letters does *our* novel use? Guess before you load it."
    assert edited.texts["explain.corpus"] == LOCALES["en"].texts["explain.corpus"]  # the rest as it was


def test_a_section_written_twice_is_refused_by_name(tmp_path):
    folder = tmp_path / "en"
    folder.mkdir()
    (folder / "a.md").write_text("# A\n\n<!-- ask.x -->\nOne.\n", "utf-8")
    (folder / "b.md").write_text("<!-- ask.x -->\nTwo.\n", "utf-8")
    with pytest.raises(ValueError, match=r"ask\.x"):
        lesson_texts(folder)


def test_markdown_inside_a_section_stays_whole():
    """A section may hold headings, lists and blank lines of its own: only the <!-- key --> lines cut."""
    intro = LOCALES["en"].texts["intro"]
    assert intro.startswith("# charlm") and "\n" in intro
