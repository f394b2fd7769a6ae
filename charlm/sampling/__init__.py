"""Sampling (chapter §5.12): feed a prime, then draw each next character from the top-N of the prediction and
feed it back.

Read ``reference.py`` (the chapter's loop with the PyTorch model, as written) and ``pick.py`` (the checks and
the draw) for the idea. ``sampler.py`` is the same walk with the weights copied into NumPy, an order of
magnitude faster one character at a time and tested to write the same text under the same seed; ``states.py``
holds its memory. ``fast/`` is what a busy server adds: products exact per row, compiled loops, and NumPy's
BLAS kept on one thread."""
