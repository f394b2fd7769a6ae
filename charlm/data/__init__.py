"""The data (chapter §5.1-5.3): the novel read as text, its characters numbered (``vocab.py``), the codes cut
into N×M mini-batches whose targets are the inputs shifted by one character (``batches.py``), and the
built-in texts a run can name instead of a file (``corpora.py``).

Nothing here knows about networks or training: the wings above read these arrays."""
