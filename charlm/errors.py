"""The one error type the library raises for problems a person can fix."""


class CharLMError(ValueError):
    """Bad input or settings: the message says what is wrong and what to do about it.

    Callers (the CLI, the web app) show ``str(error)`` to the user as it is, so every
    message is a full sentence that names the fix, never a bare exception repr.
    """
