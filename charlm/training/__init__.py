"""Training (chapter §5.6-5.11): the settings and presets (``config.py``), the loop itself (``loop.py``: loss,
Adam, clipping, the memory carried from batch to batch), its learning-rate schedule, the held-out loss
(``evaluate.py``), starts from a blank memory (``cold_start.py``), where it runs (``device.py``), checkpoints
that resume exactly (``checkpoint.py``, ``optimizer_state.py``, ``resume.py``, ``history.py``) and the memory
a run needs, checked before it starts (``memory.py``). What the loop reports as it goes is in ``events.py``."""
