"""Tab 5 through the API: the toy, gradients, the three-cell comparison, cells and guesses."""

import re

import pytest
from app_server import running_app
from gradio_client import Client


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with running_app(tmp_path_factory.mktemp("inside")) as (_, url):
        yield Client(url, verbose=False)


def test_toy_table_shows_four_pairs_and_learns(client):
    _msg, table = client.predict("hello", "rnn", 300, api_name="/toy")
    assert table.count("→") == 4
    after = re.findall(r"after (\d+) steps", table)
    assert after == ["300"]
    assert "⚠" in client.predict("aaaa", "rnn", 300, api_name="/toy")[0]


def test_gradients_and_cell_comparison(client):
    msg, _ = client.predict(api_name="/gradient_decay")
    assert "Untrained networks" in msg
    msg, _ = client.predict(50, api_name="/compare_cells")
    assert msg.startswith("Validation loss after 50 steps, mean ± half the spread over 3 seeds")
    found = re.findall(r"(RNN|GRU|LSTM) (\d\.\d+) ± (\d\.\d+) \(([\d.]+) s a run\)", msg)
    assert [c for c, *_ in found] == ["RNN", "GRU", "LSTM"]
    assert all(float(mean) < 4.0 and float(spread) < 0.5 for _, mean, spread, _ in found)


def test_cells_and_guesses_on_a_session_model(client):
    client.predict("quick", "lstm", 2, 48, 0.0, 16, 32, 0.01, 5, 1, 150, api_name="/start_training")
    import time

    deadline = time.time() + 60
    while "done" not in client.predict(api_name="/training_status")[0]:
        assert time.time() < deadline
        time.sleep(0.5)
    label = next(v for _, v in client.predict(api_name="/model_choices")["choices"] if v.startswith("this session"))
    passage = 'He said "yes" to her.\nAnd she said "no".\n'
    note, text_html, features, _ = client.predict(label, passage, 1, 7, "cell", api_name="/look_inside")
    assert "Layer 1, cell 7" in note and text_html.count("<span") == len(passage)
    assert "inside quotes" in features and "position in the line" in features
    bad = client.predict(label, passage, 5, 0, "cell", api_name="/look_inside")[0]
    assert "2 layer(s)" in bad
    _msg, guesses = client.predict(label, passage, api_name="/next_char_guesses")
    assert guesses.count("<span") == len(passage) - 1 and "nats per character" in guesses
