"""docs/ARCHITECTURE.md stays true of the code: its reading path names real files with their lengths and the
chapter's sections, and its module map (the only one) names every module, and no module that is gone."""

import ast
import re

from helpers import ROOT

DOC = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    start = DOC.index(f"## {title}")
    end = DOC.find("\n## ", start + 1)
    return DOC[start : end if end > 0 else None]


def test_the_reading_path_is_an_hours_reading_of_the_chapter_in_order():
    rows = re.findall(r"^\| (\d) \| `([^`]+)` \| (\d+) \| (§[^|]+)\|", section("Read the chapter in code"), re.M)
    assert [int(r[0]) for r in rows] == list(range(1, len(rows) + 1)) and len(rows) >= 5
    total = 0
    for _, path, lines, chapter in rows:
        assert chapter.strip().startswith("§5"), path
        text = (ROOT / path).read_text(encoding="utf-8")
        counted = len(text.splitlines())
        assert abs(counted - int(lines)) <= max(10, int(lines) // 10), (path, counted, lines)  # "about"
        docstring = ast.get_docstring(ast.parse(text))
        assert re.search(r"section|§", docstring.split("\n\n")[0]), path  # each opens with its section
        total += counted
    assert 800 <= total <= 1300, total  # an hour's reading; the loop's few lines for several processes included


def test_the_module_map_names_every_module_of_charlm_and_no_other():
    named = set(re.findall(r"^\| `([\w/]+\.py)` \|", section("charlm, wing by wing"), re.M))
    modules = {
        p.relative_to(ROOT / "charlm").as_posix()
        for p in (ROOT / "charlm").rglob("*.py")
        if p.name not in ("__init__.py", "__main__.py")
    }
    assert named == modules


def test_the_module_map_names_every_module_of_the_app():
    demo = section("demo, one job per file")
    named = set(re.findall(r"`([\w/*.<>]+\.(?:py|md))`", demo))
    for path in (ROOT / "demo").rglob("*.py"):
        relative = path.relative_to(ROOT / "demo").as_posix()
        if path.name == "__init__.py":
            continue
        folder = relative.split("/")[0]
        assert relative in named or f"{folder}/*.py" in named, relative


def test_the_readme_keeps_no_module_map_of_its_own():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert not re.search(r"^charlm/\w+\.py\s", readme, re.M) and not re.search(r"^demo/\w+\.py\s", readme, re.M)
