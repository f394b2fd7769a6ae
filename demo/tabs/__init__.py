"""The page's tabs, one module each, in the order the chapter goes (and the page shows them).

A tab module has ``ID`` (its id in links and tests), ``TITLE`` (the text key of its name), its handlers
(plain functions of the context and their inputs, ``fn(ctx, ..., request)``, callable in a test without a
server) and ``build(ctx, tab)``, which only lays out its components inside the open ``gr.Tab`` and wires the
handlers to them through ``ctx.on``. What it must redraw when the page opens, the language changes or the
corpus changes, it registers with ``ctx.refresh``; what it offers other tabs is a named field of
``ctx.offered`` (``context.Offered``).
"""

from . import batches, corpus, generate, ideas, inside, train

TABS = (ideas, corpus, batches, train, generate, inside)
