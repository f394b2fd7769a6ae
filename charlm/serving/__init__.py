"""Serving a class from one process: a training as a job in a thread or in time-boxed chunks (``jobs.py``,
``chunks.py``), the kept threads they run in (``training_threads.py``), the cap on trainings at once and the
line of those waiting (``waiting_line.py``), and every visitor's generation with one model stepped together
(``generations.py``). None of this is in the chapter: it is what thirty students at once need."""
