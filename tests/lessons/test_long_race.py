"""The long race shipped in ``assets/long-race.json`` (made by ``scripts/long_race.py``): it is the live race's
protocol run long, so the page may draw it under the live one; and its reading is what the page says."""

import json

from charlm.data.corpora import load_builtin
from charlm.lessons.race import LONG_RACE_FILE, RACE_SEEDS, long_race, matched_hidden_size
from tests.helpers import needs_anna


def test_the_shipped_long_race_is_the_live_races_protocol_run_long():
    race = long_race()
    assert race is not None and race.steps >= 2000
    assert set(race.curves) == {"rnn", "gru", "lstm"}
    for cell, curves in race.curves.items():
        assert len(curves) == len(RACE_SEEDS)  # every seed the live race runs
        for curve in curves:
            steps = [step for step, _ in curve]
            assert steps == sorted(steps) and steps[-1] == race.steps and len(steps) >= 20
            assert all(0.5 < loss < 5.0 for _, loss in curve)
        mean, spread = race.final(cell)
        assert spread < 0.1 and race.mean_at(cell, race.steps) == mean
    assert "scripts/long_race.py" in race.command


@needs_anna
def test_its_cells_have_the_sizes_the_live_race_gives_them():
    vocab_size = len(load_builtin("anna-karenina").vocab)
    race = long_race()
    assert race.hidden_sizes == {cell: matched_hidden_size(cell, vocab_size) for cell in race.curves}


def test_a_missing_or_broken_file_means_no_long_race(tmp_path):
    assert long_race(tmp_path / "absent.json") is None
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    assert long_race(broken) is None
    record = json.loads(LONG_RACE_FILE.read_text(encoding="utf-8"))
    assert record["corpus"] == "anna-karenina"
