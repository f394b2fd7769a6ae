"""Bad input through every path of the app gets a message in the visitor's language, and loses nothing:
uploads, numbers out of range, primes, indices, checkpoints."""

import re

import httpx
import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from visitors import FORM, TEXT, UPLOADS, answer, still_works, trained_model

pytestmark = [pytest.mark.app, pytest.mark.slow]


@pytest.mark.parametrize("name", list(UPLOADS))
def test_bad_uploads(visitor, tmp_path, name):
    content, message = UPLOADS[name]
    bad = tmp_path / "bad.txt"
    bad.write_bytes(content)
    status = answer(lambda: visitor.predict(None, handle_file(str(bad)), 0.1, api_name="/load_corpus"))
    assert message in status
    still_works(visitor)


def test_upload_beyond_the_size_limit(visitor, tmp_path):
    big = tmp_path / "big.txt"
    big.write_bytes(b"All work and no play makes Jack a dull boy.\n" * 30_000)  # 1.3 MB > 1 MB limit
    with pytest.raises(Exception, match=r"(?i)file size|too large|exceed|limit"):
        visitor.predict(None, handle_file(str(big)), 0.1, api_name="/load_corpus")
    still_works(visitor)


@pytest.mark.parametrize(
    "args",
    [
        (-1, 10, 0, 0, False),
        (0, 10, 0, 0, False),
        (4, "nan", 0, 0, False),
        (4, "inf", 0, 0, False),
        (4, 10**12, 0, 0, False),
        (4, 10, -5, 0, False),
        (10**6, 10**6, 0, 0, False),
    ],
)
def test_out_of_range_batch_settings(visitor, args):
    message = answer(lambda: visitor.predict(*args, api_name="/preview_batch"))
    assert message and "Traceback" not in message
    assert any(w in message for w in ("must", "minimum", "maximum", "needs", "less than", "greater than", "Expected"))
    still_works(visitor)


@pytest.mark.parametrize(
    "index, value",
    [(7, "nan"), (4, "inf"), (7, -1.0), (7, 5.0), (3, 0), (9, 10**9), (10, -2), (1, "transformer"), (0, "huge")],
)
def test_out_of_range_training_settings(visitor, index, value):
    form = list(FORM)
    form[index] = value
    message = answer(lambda: visitor.predict(*form, api_name="/start_training"))
    assert "Training started" not in message and "Traceback" not in message
    assert message.strip() not in ("", "Error")
    assert trained_model(visitor)  # and a good request still trains


def test_the_train_tabs_maxima_are_refused_before_they_take_the_memory(server, visitor):
    app, _ = server
    running = app.slots.running
    form = ["quick", "lstm", 4, 1024, 0.0, 512, 512, 0.01, 5.0, 50, 30]  # ~43 GB: it killed the server once
    message = answer(lambda: visitor.predict(*form, api_name="/start_training"))
    assert "GB of memory" in message and "2.0 GB" in message and "With N=" in message
    assert app.slots.running == running  # nothing started
    found = re.search(r"With N=(\d+)", message)
    assert 1 <= int(found.group(1)) < 512


@pytest.mark.parametrize(
    "prime, top_n, temperature, length, ok, message",
    [
        ("Winston ☃", 4, 1.0, 20, False, "never saw"),
        ("", 4, 1.0, 20, False, "empty"),
        ("It was " * 1500, 4, 1.0, 20, True, ""),  # a 10,500-character prime is fine
        ("It", 10_000, 1.0, 20, False, "greater than maximum value"),  # the sliders' own checks, in Gradio's words
        ("It", 4, 0.0, 20, False, "less than minimum value 0.1"),
        ("It", 4, 1.0, 0, False, "less than minimum value 1"),
        ("It", 4, 1.0, 100_000, False, "greater than maximum value 5000"),
    ],
)
def test_generation_inputs(visitor, prime, top_n, temperature, length, ok, message):
    label = trained_model(visitor)
    result = None
    try:
        result = visitor.predict(label, prime, length, top_n, temperature, 1, api_name="/generate")
        text = result[1]
    except AppError as err:
        text = str(err)
    if ok:
        assert result is not None and result[0].startswith(prime) and "Done" in result[1]
    else:
        assert message and message in text and "Done" not in text
    assert visitor.predict(label, "It", 5, 4, 1.0, 1, api_name="/generate")[0].startswith("It")


def test_resume_on_another_text_says_why_instead_of_resumed(visitor, tmp_path):
    trained_model(visitor)
    other = tmp_path / "digits.txt"
    other.write_text("0123456789 " * 300, encoding="utf-8")
    visitor.predict(None, handle_file(str(other)), 0.1, api_name="/load_corpus")
    message = answer(lambda: visitor.predict(*FORM, api_name="/resume_training"))
    assert "different vocabulary" in message and "Resumed" not in message


def test_uploading_the_same_file_twice_then_a_broken_one_keeps_both_models(visitor, tmp_path):
    from charlm import Corpus, preset, train

    result = train(Corpus.from_text(TEXT, val_fraction=0.1), preset("tiny", max_steps=5), tmp_path / "ck")
    upload = tmp_path / "m.safetensors"
    upload.write_bytes(result.checkpoint.read_bytes())
    first = visitor.predict(handle_file(str(upload)), api_name="/upload_checkpoint")[1]["value"]
    second = visitor.predict(handle_file(str(upload)), api_name="/upload_checkpoint")[1]["value"]
    assert first != second and first.startswith("uploaded: m (") and second.startswith("uploaded: m (2)")
    upload.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    status = visitor.predict(handle_file(str(upload)), api_name="/upload_checkpoint")[0]
    assert "m.safetensors is not a valid checkpoint" in status and "upload" not in status.split("is not")[0]
    for label in (first, second):  # both still there, and both still work
        assert visitor.predict(label, "It", 5, 4, 1.0, 1, api_name="/generate")[0].startswith("It")


def test_a_prime_longer_than_the_server_allows_is_refused(visitor):
    label = trained_model(visitor)
    _, status = visitor.predict(label, "It was " * 4000, 5, 4, 1.0, 1, api_name="/generate")
    assert "28,000 characters" in status and "20,000" in status


def test_a_batch_index_is_checked_against_the_shape_asked_for_not_the_previous_one(visitor):
    visitor.predict(100, 50, 0, 0, False, api_name="/preview_batch")  # one batch: the index slider's maximum is 1
    info = visitor.predict(1, 10, 500, 0, False, api_name="/preview_batch")[0]
    assert "Batch 500 of" in info or "batch 500 of" in info, info


def test_an_upload_on_a_full_disk_gets_a_message_in_the_visitors_language(server, monkeypatch):
    import errno

    import gradio.routes

    import demo.disk

    _, url = server
    files = {"files": ("m.safetensors", b"x" * 1000)}
    assert httpx.post(url + "gradio_api/upload", files=files).status_code == 200
    monkeypatch.setattr(demo.disk, "free_bytes", lambda folder: 10 << 20)  # less than the reserve: refused at once
    refused = httpx.post(url + "gradio_api/upload", files=files, headers={"accept-language": "zh-CN,zh;q=0.9"})
    assert refused.status_code == 507 and "服务器磁盘太满" in refused.text
    monkeypatch.setattr(demo.disk, "free_bytes", lambda folder: 1 << 40)

    async def disk_fills_up(*args, **kwargs):  # room at first, none by the time the file is written
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(gradio.routes, "upload_fn", disk_fills_up)
    failed = httpx.post(url + "gradio_api/upload", files=files)
    assert failed.status_code == 507 and failed.text.startswith("The server's disk is too full")
    assert "/" not in failed.text  # no server path


def test_past_the_cap_over_all_the_apps_files_an_upload_is_refused_in_the_visitors_words(server, monkeypatch):
    """The cap counts what the per-visitor budget does not see (Gradio's uploads and download copies): with the
    app's files at their cap, an upload is refused before a byte is written, as on a full disk."""
    app, url = server
    files = {"files": ("m.safetensors", b"x" * 1000)}
    monkeypatch.setattr(app.ctx.disk, "cap", app.ctx.disk.used() + 1500)
    monkeypatch.setattr(app.ctx.disk, "_measured", (-10.0, 0))
    refused = httpx.post(url + "gradio_api/upload", files=files, headers={"accept-language": "zh-CN"})
    assert refused.status_code == 507 and "服务器磁盘太满" in refused.text
    monkeypatch.setattr(app.ctx.disk, "cap", 1 << 40)
    monkeypatch.setattr(app.ctx.disk, "_measured", (-10.0, 0))
    assert httpx.post(url + "gradio_api/upload", files=files).status_code == 200


def test_an_upload_without_a_file_name_gets_a_message_not_a_bare_500(server):
    _, url = server
    nameless = httpx.post(url + "gradio_api/upload", files={"files": ("", b"hello")}, headers={"accept-language": "zh"})
    assert nameless.status_code == 400 and "无法读取这次上传" in nameless.text
    named = httpx.post(url + "gradio_api/upload", files={"files": ("a.txt", b"hello")})
    assert named.status_code == 200
