"""The README's front door works as written: its Python example runs (with the tiny preset, to be quick) and
every page it links to exists."""

import re

from helpers import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_python_example_runs_and_writes_the_same_text_twice(tmp_path, monkeypatch, capsys):
    block = re.search(r"```python\n(.*?)```", README, re.DOTALL).group(1)
    assert 'preset("quick")' in block
    quick = block.replace('preset("quick")', 'preset("tiny", max_steps=20)')
    texts = []
    for run in ("a", "b"):
        (tmp_path / run).mkdir()
        monkeypatch.chdir(tmp_path / run)
        exec(compile(quick, "README.md", "exec"), {})
        texts.append(capsys.readouterr().out.rstrip("\n"))
        assert any((tmp_path / run / "runs" / "quick").glob("*.safetensors"))
    assert texts[0] == texts[1] and texts[0].startswith("Far") and len(texts[0]) == 303


def test_every_page_the_readme_links_to_exists():
    for link in re.findall(r"\]\(([^)#]+)\)", README):
        assert (ROOT / link).is_file(), link
    for image in re.findall(r'<img src="([^"]+)"', README):
        assert (ROOT / image).is_file(), image


def test_the_readme_is_a_front_door():
    assert len(README.splitlines()) <= 200
    assert README.index("pip install -r requirements.txt && python app.py") < README.index("## What it is")
