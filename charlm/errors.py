"""The one error type the library raises for problems a person can fix."""

from __future__ import annotations


class CharLMError(ValueError):
    """Bad input or settings: the message says what is wrong and what to do about it.

    Callers (the CLI, the web app) show ``str(error)`` to the user as it is, so every
    message is a full sentence that names the fix, never a bare exception repr.

    ``key`` and ``params`` let an interface show the same message in another language: the
    English sentence stays here, next to the check that raises it, and a translation keyed by
    ``key`` is filled in from ``params``. Nothing here knows which interfaces or languages exist.
    """

    def __init__(self, message: str, *, key: str | None = None, **params):
        super().__init__(message)
        self.key = key
        self.params = params

    def __reduce__(self):
        """Pickled with its key and parameters (a training in a process of its own sends its errors back to the
        app this way; by default an exception keeps only its message)."""
        return type(self), (str(self),), {"key": self.key, "params": self.params}
