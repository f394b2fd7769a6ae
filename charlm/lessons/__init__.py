"""The chapter's experiments and views, as numbers a page or a notebook can show: the "hello" toy (§2,
``toy.py``), vanishing gradients (§3, ``gradients.py``), the cell race (§4, ``race.py``), what cells and gates do
while reading (§4, ``traces.py``), the network unrolled over a passage (§1, ``unrolled.py``), a long-range
recall test (§3, ``recall.py``), the tensor shapes of one step (§5.2-5.5, ``shapes.py``), ways of choosing the
next character (§5.12, ``strategies.py``), what a run's curves say (``coach.py``) and training or sampling one
step at a time (``step_by_step.py``).

Each uses the wings below (data, network, sampling, training) and adds no maths of its own to them."""
