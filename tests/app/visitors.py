"""What the hardening tests share: a small text, the Train form's values, how to read the message a visitor
sees, and a visitor holding a reference cycle (the fixtures are in conftest.py)."""

import time

from gradio_client.exceptions import AppError

from demo.sessions import SessionStore

TEXT = (
    "It was a bright cold day in April, and the clocks were striking thirteen. "
    "Winston Smith slipped quickly through the glass doors of Victory Mansions. "
) * 40


def still_works(c):
    info = c.predict(4, 10, 0, 0, False, api_name="/preview_batch")[0]
    assert "both 4×10" in info


def answer(call):
    """The message a visitor sees: the app's own, or Gradio's validation error."""
    try:
        out = call()
    except AppError as err:
        return str(err)
    return out[0] if isinstance(out, (tuple, list)) else out


UPLOADS = {
    "empty": (b"", "empty"),
    "binary": (bytes(range(256)) * 4, "binary"),
    "nul-laden": (b"hello\x00world" * 20, "binary"),
    "latin-1": ("Café crème brûlée, s'il vous plaît. ".encode("latin-1") * 10, "not valid UTF-8"),
    "utf-16": ("Hello, world. ".encode("utf-16") * 10, "UTF-16"),
    "one character": (b"x", "too short"),
}


FORM = ["quick", "lstm", 1, 32, 0.0, 8, 16, 0.01, 5.0, 50, 30]


def trained_model(c):
    assert "Training started" in c.predict(*FORM, api_name="/start_training")[0]
    deadline = time.time() + 60
    while "done" not in c.predict(api_name="/training_status")[0]:
        assert time.time() < deadline
        time.sleep(0.3)
    return next(v for _, v in c.predict(api_name="/model_choices")["choices"] if v.startswith("this session"))


class _Held:
    pass


def visitor_holding_a_cycle(store: SessionStore, session: str):
    """A browser visitor of ``store`` holding an object in a reference cycle (which reference counting alone never
    frees); a weak reference to that object."""
    import weakref

    held = _Held()
    held.itself = held
    store.get(session).browser = True
    store.get(session).corpus = held
    return weakref.ref(held)
