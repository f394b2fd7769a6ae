"""Every handler of the page runs guarded: an error becomes a message in the visitor's language where the
page shows messages, never a stack trace, and the other outputs keep what they showed (generators too)."""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable

import gradio as gr

from charlm import CharLMError

from . import i18n

log = logging.getLogger(__name__)


def request_of(args, kwargs) -> gr.Request | None:
    return next((a for a in (*args, *kwargs.values()) if isinstance(a, gr.Request)), None)


def guard(fn: Callable, n_outputs: int, message_at: int | None, lang_of: Callable) -> Callable:
    """``fn`` that never fails: an error becomes a message (in the visitor's language) in output
    ``message_at``, every other output is left as it was; generators too."""

    def failure(err: Exception, args, kwargs):
        if not isinstance(err, CharLMError):
            log.exception("handler %s failed", fn.__name__)
        if message_at is None:
            return gr.skip() if n_outputs <= 1 else tuple(gr.skip() for _ in range(n_outputs))
        message = i18n.message(err, lang_of(request_of(args, kwargs)))
        if n_outputs == 1:
            return message
        return tuple(message if i == message_at else gr.skip() for i in range(n_outputs))

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def stream(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except Exception as err:  # never a stack trace in the page
                yield failure(err, args, kwargs)

        return stream

    @functools.wraps(fn)
    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as err:  # never a stack trace in the page
            return failure(err, args, kwargs)

    return call
