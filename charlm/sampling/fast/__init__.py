"""The sampler's fast path, for a server stepping a class's generations together: products whose every row
is bit for bit what it is alone (``products.py``, float32 or int8 weights), the same steps as compiled loops
(``kernels.py``, numba, loaded when first needed) and NumPy's BLAS held to one thread while it serves
(``blas_threads.py``). Everything here is tested against the plain NumPy and PyTorch forms."""
