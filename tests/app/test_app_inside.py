"""Tab 5 through the API: the toy, gradients, the three-cell comparison, cells and guesses."""

import re

import pytest
from app_server import running_app
from gradio_client import Client
from gradio_client.exceptions import AppError

pytestmark = [pytest.mark.app, pytest.mark.slow]


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
    assert "Layers in this model: 2." in bad
    _msg, guesses = client.predict(label, passage, api_name="/next_char_guesses")
    assert guesses.count("<span") == len(passage) - 1 and "nats per character" in guesses


def shipped(client, stem):
    return next(v for _, v in client.predict(api_name="/model_choices")["choices"] if stem in v)


def test_the_unrolled_view_through_the_api(client):
    label = shipped(client, "anna-2x512")
    passage = '"Yes," said Levin.'
    note, slider, unrolled, folded, cell, beside = client.predict(label, passage, 99, api_name="/unroll")
    at = slider["value"]
    assert at == slider["maximum"] == len(passage) - 1  # past the end: the last character
    assert f"Position {at} of {at}" in note
    assert unrolled.count("cl-uc cl-now") == 2 * 2 + 3  # the chosen step's column: guesses, 2 layers, input, arrows
    assert "layer 1" in unrolled and "LSTM · layer 0" in folded
    assert "forget gate" in cell and "memory c carried in" in cell and "RNN layer 0" in beside
    assert "one tanh, no gates" in beside
    rnn = shipped(client, "anna-quick-rnn")
    *_, rnn_cell, lstm_beside = client.predict(rnn, passage, 3, api_name="/unroll")
    assert "forget gate" not in rnn_cell and "LSTM layer 0" in lstm_beside  # a plain RNN: the LSTM beside it
    message = client.predict(label, "Zebra ☃", 0, api_name="/unroll")[0]
    assert "never saw" in message


def test_the_sampling_lab_through_the_api(client):
    label = shipped(client, "anna-quick-1x256")
    note, slider, samples, table = client.predict(label, "Far", 60, "7", api_name="/sampling_lab")
    assert "Seed 7" in note and 0 <= slider["value"] < slider["maximum"] + 1 == 60
    assert samples.count('class="cl-card"') == 6 and samples.count("bits/char") == 6
    assert "Top-N 4 (the chapter)" in samples and "top-p 0.9" in table
    again = client.predict(label, "Far", 60, "7", api_name="/sampling_lab")
    assert again[2] == samples  # one seed, one lab
    with pytest.raises(AppError, match="maximum value 400"):  # the length's own range, checked by Gradio
        client.predict(label, "Far", 5000, "7", api_name="/sampling_lab")
    assert "seed" in client.predict(label, "Far", 60, "seven", api_name="/sampling_lab")[0].lower()
