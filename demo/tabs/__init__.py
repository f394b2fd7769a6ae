"""The page's tabs, one module each, in the order the chapter goes (and the page shows them).

A tab module has ``ID`` (its id in links and tests), ``TITLE`` (the text key of its name) and
``build(ctx)``, which lays out its components inside an open ``gr.Tab`` and wires their events
through ``ctx.on``. What it must redraw when the page opens, the language changes or the corpus
changes, it registers with ``ctx.refresh``; what it offers other tabs it puts in ``ctx.shared``.
"""

from . import batches, corpus, generate, ideas, inside, train

TABS = (ideas, corpus, batches, train, generate, inside)
