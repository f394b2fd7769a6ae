"""The recurrent cells charlm knows, one entry each (the chapter's RNN module and LSTM module).

A cell type is everything the rest of charlm needs to know about it, in one ``Cell``:

* ``module``/``kernel``: the fused PyTorch layer that trains it, and the same kernel for one
  layer (the model runs a stack layer by layer when it drops units between layers);
* ``blocks``: how many H-row blocks its weight matrices have (the LSTM's four gates, the GRU's
  three, the plain RNN's one);
* ``gates``: what it records while it reads a text step by step (``traces`` shows them);
* ``prepare``/``step``: the NumPy step the sampler runs one character at a time (for one generation
  or several side by side, one row each: slice the units along the last axis, ``g[..., :H]``), and how
  the PyTorch weights are rearranged for it once, when a sampler is built;
* ``compiled``/``record`` (optional): the same step as one compiled loop per layer in ``sampling/fast/kernels.py``,
  which a busy server needs (``sampling/fast/kernels.py`` says why), and what it records after that loop.

To add a cell, write its NumPy ``step`` and append one ``Cell`` to ``CELLS``: the model, the
sampler, the CLI's ``--cell`` and the app's choices all read this table. A test
(``tests/test_cells.py``) checks every entry's sampler against its PyTorch layer, and a compiled
loop, if it has one, against its NumPy step (``tests/test_kernels.py``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

Weights = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # w_ih, w_hh, b_ih, b_hh (PyTorch's layout)


def _sigmoid_(x: np.ndarray) -> np.ndarray:
    np.negative(x, out=x)
    np.exp(x, out=x)
    x += 1.0
    np.reciprocal(x, out=x)
    return x


def _kept(values: np.ndarray) -> np.ndarray:
    """A copy of one generation's values for a record (steps that record run one row at a time)."""
    return values.reshape(-1).copy()


# ------------------------------------------------------------------------------------------ LSTM
def _lstm_prepare(weights: Weights, H: int) -> Weights:
    """Gates come as (i, f, g, o); reorder to (i, f, o, g) so one slice holds the three sigmoid
    gates, and halve their rows: sigmoid(x) = (tanh(x/2) + 1) / 2, so one tanh over all four
    gates then does the work of a sigmoid and a tanh at every step."""
    order = np.r_[0 : 2 * H, 3 * H : 4 * H, 2 * H : 3 * H]
    out = []
    for a in weights:
        a = a[order].copy()
        a[: 3 * H] *= 0.5
        out.append(a)
    return tuple(out)


def _lstm_step(g: np.ndarray, _: None, h: np.ndarray, c: np.ndarray, H: int, record: list | None) -> None:
    """c = f·c + i·g; h = o·tanh(c), from the four gates' summed (halved) pre-activations ``g``: one row
    per generation (the last axis holds the units), so the same step serves one stream or many. ``g`` is
    left holding the gates and the candidate, as ``kernels.lstm_layer`` leaves it."""
    np.tanh(g, out=g)
    sig = g[..., : 3 * H]
    sig *= 0.5
    sig += 0.5
    c *= g[..., H : 2 * H]
    c += g[..., :H] * g[..., 3 * H :]
    np.tanh(c, out=h)
    h *= g[..., 2 * H : 3 * H]
    if record is not None:
        _lstm_record(g, h, c, H, record)


def _lstm_record(g: np.ndarray, h: np.ndarray, c: np.ndarray, H: int, record: list) -> None:
    """Gates (i, f, o) after the sigmoid, the candidate, the cell and hidden state, after a step."""
    record.append(
        {
            "input": _kept(g[..., :H]),
            "forget": _kept(g[..., H : 2 * H]),
            "output": _kept(g[..., 2 * H : 3 * H]),
            "candidate": _kept(g[..., 3 * H :]),
            "cell": _kept(c),
            "hidden": _kept(h),
        }
    )


def _lstm_init(rnn: nn.RNNBase, H: int, num_layers: int) -> None:
    """TensorFlow's BasicLSTMCell, which the chapter uses, adds 1 to the forget gate: start the
    same way, so that at first the cell keeps its memory instead of halving it at every step."""
    for layer in range(num_layers):
        getattr(rnn, f"bias_ih_l{layer}").data[H : 2 * H].fill_(1.0)
        getattr(rnn, f"bias_hh_l{layer}").data[H : 2 * H].fill_(0.0)


def _lstm_kernel(x, state, weights, train):
    out, h, c = torch.lstm(x, state, weights, True, 1, 0.0, train, False, True)
    return out, (h, c)


# ------------------------------------------------------------------------------------------- GRU
def _gru_step(gi: np.ndarray, gh: np.ndarray, h: np.ndarray, c: None, H: int, record: list | None) -> None:
    """The candidate needs the input and recurrent parts apart: n = tanh(W_in x + r·(W_hn h + b_hn))."""
    rz = gi[..., : 2 * H] + gh[..., : 2 * H]
    _sigmoid_(rz)
    n = np.tanh(gi[..., 2 * H :] + rz[..., :H] * gh[..., 2 * H :])
    z = rz[..., H:]
    h[...] = n + z * (h - n)
    if record is not None:
        record.append({"reset": _kept(rz[..., :H]), "update": _kept(z), "candidate": _kept(n), "hidden": _kept(h)})


def _gru_kernel(x, state, weights, train):
    return torch.gru(x, state, weights, True, 1, 0.0, train, False, True)


# ------------------------------------------------------------------------------------ plain RNN
def _rnn_step(g: np.ndarray, _: None, h: np.ndarray, c: None, H: int, record: list | None) -> None:
    np.tanh(g, out=h)
    if record is not None:
        _rnn_record(g, h, c, H, record)


def _rnn_record(g: np.ndarray, h: np.ndarray, c: None, H: int, record: list) -> None:
    record.append({"hidden": _kept(h)})


def _rnn_kernel(x, state, weights, train):
    return torch.rnn_tanh(x, state, weights, True, 1, 0.0, train, False, True)


def _unchanged(weights: Weights, H: int) -> Weights:
    return weights


@dataclass(frozen=True)
class Cell:
    name: str  # what the CLI, the app and checkpoints call it
    module: Callable[..., nn.RNNBase]  # the fused layer that trains it (whole stacks at once): nn.LSTM, ...
    kernel: Callable  # one layer of that kernel: (x, layer state, [w_ih, w_hh, b_ih, b_hh], train) -> (out, state)
    blocks: int  # its weight matrices are (blocks·H, ·)
    gates: tuple[str, ...]  # gate values it records per step, each between 0 (shut) and 1 (open)
    has_cell_state: bool  # an LSTM carries c besides h
    fused_input: bool  # True: the sampler adds the input and recurrent parts before ``step`` (one product)
    step: Callable  # NumPy: (pre-activation, recurrent part or None, h, c, H, record) -> None, h (and c) in place
    colour: str  # how figures draw it, the same in every figure
    mixes_candidate: bool = False  # it blends a new candidate memory (a tanh, -1 to 1) into its state, and records it
    prepare: Callable[[Weights, int], Weights] = _unchanged  # rearrange the weights once for ``step``
    init: Callable[[nn.RNNBase, int, int], None] | None = None  # after PyTorch's uniform initialisation
    # the same step compiled, one call per layer for every row (the name of its loop in sampling/fast/kernels.py;
    # None: the NumPy step serves), and what it records after that call: (g, h, c, H, record) -> None
    compiled: str | None = None
    record: Callable | None = None

    @property
    def recorded(self) -> tuple[str, ...]:
        """Everything ``step`` records: its gates, its candidate, the cell state if it has one, the hidden state."""
        return (
            self.gates
            + (("candidate",) if self.mixes_candidate else ())
            + (("cell",) if self.has_cell_state else ())
            + ("hidden",)
        )


CELLS: dict[str, Cell] = {
    c.name: c
    for c in (
        Cell(
            "lstm",
            nn.LSTM,
            _lstm_kernel,
            blocks=4,
            gates=("input", "forget", "output"),
            has_cell_state=True,
            fused_input=True,
            step=_lstm_step,
            colour="#2563eb",
            mixes_candidate=True,
            prepare=_lstm_prepare,
            init=_lstm_init,
            compiled="lstm_layer",
            record=_lstm_record,
        ),
        Cell(
            "gru",
            nn.GRU,
            _gru_kernel,
            blocks=3,
            gates=("reset", "update"),
            has_cell_state=False,
            fused_input=False,
            step=_gru_step,
            colour="#16a34a",
            mixes_candidate=True,
        ),
        Cell(
            "rnn",
            nn.RNN,
            _rnn_kernel,
            blocks=1,
            gates=(),
            has_cell_state=False,
            fused_input=True,
            step=_rnn_step,
            colour="#dc2626",
            compiled="rnn_layer",
            record=_rnn_record,
        ),
    )
}


def cell_names() -> tuple[str, ...]:
    """Every cell type, in the table's order (read when asked, so an entry added later counts)."""
    return tuple(CELLS)


def all_gates() -> tuple[str, ...]:
    return tuple(dict.fromkeys(g for c in CELLS.values() for g in c.gates))


@functools.cache
def bf16_kernel_works(name: str) -> bool:
    """Whether this CPU's build of the cell's fused kernel runs under bfloat16 autocast.

    oneDNN has no bf16 recurrent kernel on some CPUs (seen on an AMD EPYC: "could not create a
    primitive descriptor for the LSTM forward propagation primitive"); the model then runs its
    recurrent layers in fp32 and only the output layer in bf16.
    """
    layer = CELLS[name].module(4, 4, 1, batch_first=True, device="meta").to_empty(device="cpu")
    with torch.no_grad():
        for p in layer.parameters():
            p.zero_()
        try:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                layer(torch.zeros(1, 2, 4))
        except RuntimeError:
            return False
    return True


def simplest_first() -> list[str]:
    """The cells from the fewest gates to the most: the order the chapter introduces them."""
    return sorted(CELLS, key=lambda name: CELLS[name].blocks)
