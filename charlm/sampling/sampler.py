"""Generating text (chapter section 5.12): feed a prime one character at a time, then keep
drawing the next character from the top-N of the predicted distribution and feeding it back.

The fused ``nn.LSTM`` is built for long sequences; called for one character at a time it
spends most of its time in setup (4-8 ms per step at 2×512 here). ``Sampler`` instead copies
the weights once into pre-transposed NumPy matrices and does each step as a few matrix-vector
products (``sampling/fast/products.py``), an order of magnitude faster, and gives the same text as
``reference_generate``, the straightforward ``nn.LSTM`` loop, under the same seed. The same step
serves many generations at once (``advance``, used by ``serving/generations.py``), each row exactly as alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import NamedTuple

import numpy as np

from charlm.data.vocab import Vocab
from charlm.errors import CharLMError
from charlm.network.cells import CELLS
from charlm.network.model import CharRNN
from charlm.sampling.fast.blas_threads import on_one_blas_thread
from charlm.sampling.fast.products import Int8Matrix, compiled, exact_product, parts, quantize
from charlm.sampling.pick import (
    check_finite_scores,
    check_settings,
    drawn_by_rule,
    pick_next,
    prepare_prime,
    softmax,
)
from charlm.sampling.states import SamplerState, StackedStates, stacked_from

# fp32: the weights as trained (the default: the same text as ``nn.LSTM``); int8: a quarter of the bytes, one
# scale per output unit, faster, and the text a little different (bench/bench_precision.py measures how much)
PRECISIONS = ("fp32", "int8")
RUN = 32  # characters per compiled call when one generation runs alone (``stream``)


@dataclass
class _Layer:
    w_in: np.ndarray | Int8Matrix  # (input, G·H): input weights, transposed so that a row vector multiplies them
    w_hh: np.ndarray | Int8Matrix  # (H, G·H): recurrent weights, transposed
    b_in: np.ndarray  # (G·H,)
    b_hh: np.ndarray  # (G·H,): zero except for the GRU, whose candidate gate needs it apart
    w_cat: np.ndarray | Int8Matrix | None  # (input + H, G·H): both stacked, for one product with [input, h]


class CompiledWeights(NamedTuple):
    """The weights as the compiled whole-step loops read them (one-hot input, a cell with compiled loops)."""

    ws: tuple[np.ndarray, ...]  # per layer: the recurrent matrix (layer 0) or [input, h] stacked (layers ≥ 1)
    scales: tuple[np.ndarray | None, ...]  # per layer: int8 scales per output unit (None: float32 weights)
    tables: tuple[np.ndarray, ...]  # layer 0: the input table (a row per character); above: the input bias
    w_out: np.ndarray  # the output layer
    s_out: np.ndarray | None
    b_out: np.ndarray


class LoopArguments(NamedTuple):
    """The first arguments of every compiled loop (``kernels._advance`` and its callers), in their order:
    the cell's number, the rows' memory (written in place) and the weights."""

    kind: int  # the cell, as ``kernels.KINDS`` numbers it
    x: tuple[np.ndarray, ...]  # per layer: its input rows (layer 0: h; above: [input, h] side by side)
    ws: tuple[np.ndarray, ...]
    scales: tuple[np.ndarray | None, ...]
    tables: tuple[np.ndarray, ...]
    g: np.ndarray  # scratch for one layer's gate pre-activations
    cs: tuple[np.ndarray, ...]  # per layer: the cell state (unused by cells without one)
    w_out: np.ndarray
    s_out: np.ndarray | None
    b_out: np.ndarray


class Sampler:
    """Step-by-step generation with the weights of a trained ``CharRNN`` copied into NumPy.

    The sampler holds only weights, so one sampler can serve several generations at once, each
    with its own ``SamplerState``, or stepped together as ``StackedStates`` (``advance``). Every product goes
    through ``exact_product``, so a row stepped with others gets exactly the bits it gets alone.
    """

    def __init__(self, model: CharRNN, vocab: Vocab, precision: str = "fp32"):
        cfg = model.config
        if precision not in PRECISIONS:
            raise CharLMError(
                f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}.",
                key="precision",
                choices=", ".join(PRECISIONS),
                value=precision,
            )
        self.precision = precision
        if cfg.vocab_size != len(vocab):
            raise CharLMError("The model and the vocabulary do not match in size.", key="model_vocab_mismatch")
        self.vocab, self.cell, self.H, self.L = vocab, cfg.cell, cfg.hidden_size, cfg.num_layers
        sd = {k: v.detach().float().cpu().numpy() for k, v in model.state_dict().items()}
        self.spec = CELLS[self.cell]
        self.layers: list[_Layer] = []
        for l in range(self.L):
            weights = tuple(sd[f"rnn.{name}_l{l}"] for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
            w_ih, w_hh, b_ih, b_hh = self.spec.prepare(weights, self.H)
            if self.spec.fused_input:  # input and recurrent parts are added before the step: so are the biases
                b_ih, b_hh = b_ih + b_hh, np.zeros_like(b_hh)
            w_in, w_rec = np.ascontiguousarray(w_ih.T), np.ascontiguousarray(w_hh.T)
            w_cat = np.ascontiguousarray(np.vstack([w_in, w_rec])) if l > 0 and self.spec.fused_input else None
            self.layers.append(_Layer(w_in, w_rec, b_ih, b_hh, w_cat))
        first = self.layers[0]
        if cfg.embedding_dim:
            self.embedding = np.ascontiguousarray(sd["embedding.weight"])
            self.input_table = None
        else:
            # one-hot × W_ih is just a row of W_ihᵀ: precompute row + bias per character.
            self.embedding = None
            self.input_table = first.w_in + first.b_in
        self.w_out = np.ascontiguousarray(sd["decoder.weight"].T)
        self.b_out = sd["decoder.bias"]
        if precision == "int8":  # every matrix a product reads; the one-hot input table stays a lookup in fp32
            for layer in self.layers:
                layer.w_in, layer.w_hh = quantize(layer.w_in), quantize(layer.w_hh)
                layer.w_cat = None if layer.w_cat is None else quantize(layer.w_cat)
            self.w_out = quantize(self.w_out)
        # what the compiled whole-step loops take (kernels._advance), for a cell that has them and a one-hot input
        weights = [parts(layer.w_hh if l == 0 else layer.w_cat) for l, layer in enumerate(self.layers)]
        self._compiled_weights = (
            None
            if not self.spec.compiled or self.input_table is None
            else CompiledWeights(
                tuple(w for w, _ in weights),
                tuple(scale for _, scale in weights),
                (self.input_table, *[layer.b_in[None] for layer in self.layers[1:]]),
                *parts(self.w_out),
                self.b_out[None],
            )
        )

    @property
    def nbytes(self) -> int:
        """The memory its weights take (a server keeps samplers up to a budget of these)."""
        arrays = [self.w_out, self.b_out, self.embedding, self.input_table]
        arrays += [a for layer in self.layers for a in (layer.w_in, layer.w_hh, layer.b_in, layer.b_hh, layer.w_cat)]
        return sum(a.nbytes for a in arrays if a is not None)

    def new_state(self) -> SamplerState:
        """A blank memory, as at the start of a text."""
        H, L = self.H, self.L
        xh = [None] + [np.zeros(2 * H, np.float32) for _ in range(1, L)]
        h = [np.zeros(H, np.float32)] + [xh[l][H:] for l in range(1, L)]
        c = [np.zeros(H, np.float32) for _ in range(L)]
        gates = np.zeros(self.layers[0].w_hh.shape[1], np.float32)
        return SamplerState(h, c, xh, gates)

    def copy_state(self, state: SamplerState) -> SamplerState:
        """A memory of its own equal to ``state``: a new state's arrays filled in, so that its views into itself
        (each layer's input and memory side by side) stay its own. A text read once can then be continued
        in several ways (the sampling lab's strategies)."""
        new = self.new_state()
        new.h[0][:] = state.h[0]
        for l in range(self.L):
            new.c[l][:] = state.c[l]
            if state.xh[l] is not None:
                new.xh[l][:] = state.xh[l]
        new.gates[:] = state.gates
        return new

    def stack_states(self, states: list[SamplerState]) -> StackedStates:
        """Copies of these generations' memories, one row each, to be stepped together."""
        xh = [None] + [np.stack([s.xh[l] for s in states]) for l in range(1, self.L)]
        return stacked_from(
            np.stack([s.h[0] for s in states]),
            [np.stack([s.c[l] for s in states]) for l in range(self.L)],
            xh,
            np.zeros((len(states), self.layers[0].w_hh.shape[1]), np.float32),
        )

    @staticmethod
    def _stacked(state: SamplerState) -> StackedStates:
        """A one-row view of a single memory: stepping it changes the state itself."""
        if state.stacked is None:
            xh = [None if a is None else a[None] for a in state.xh]
            state.stacked = stacked_from(state.h[0][None], [c[None] for c in state.c], xh, state.gates[None])
        return state.stacked

    def _from_below(self, rows: StackedStates, l: int, xs: np.ndarray) -> np.ndarray:
        """What layer ``l`` receives from below, input weights and bias applied, one row per generation."""
        layer = self.layers[l]
        if l == 0 and self.input_table is not None:
            return self.input_table[xs]
        below = rows.h[l - 1] if l > 0 else self.embedding[xs]
        part = exact_product(
            np.ascontiguousarray(below), layer.w_in, np.empty((len(rows), layer.w_in.shape[1]), np.float32)
        )
        part += layer.b_in
        return part

    def _loops(self, rows: StackedStates) -> tuple[ModuleType, LoopArguments] | None:
        """The compiled loops and their first arguments for these rows (``kernels._advance``), or None where
        they do not serve: a cell without a compiled layer, an embedding input, a host without numba."""
        loops = compiled() if self._compiled_weights is not None else None
        if loops is None:
            return None
        w = self._compiled_weights
        return loops, LoopArguments(
            loops.KINDS[self.spec.compiled],
            (rows.h[0], *rows.xh[1:]),
            w.ws,
            w.scales,
            w.tables,
            rows.gates,
            tuple(rows.c),
            w.w_out,
            w.s_out,
            w.b_out,
        )

    def advance(
        self, rows: StackedStates, xs: np.ndarray, want_logits: bool = True, record: list | None = None
    ) -> np.ndarray | None:
        """Advance every row by its input character ``xs[m]``; return the next-character scores, one row
        each. With ``record``, append per layer what the cells did (one row: for ``traces``)."""
        found, ids = self._loops(rows), np.ascontiguousarray(xs, np.int64)
        logits = np.empty((len(rows), len(self.b_out)), np.float32)
        if found is None:
            self._advance_numpy(rows, xs, record)
            if not want_logits:
                return None
            exact_product(np.ascontiguousarray(rows.h[-1]), self.w_out, logits)
            logits += self.b_out
        elif record is None:  # the whole step in one compiled call
            loops, args = found
            loops.feed_steps(*args, ids[None], logits)
        else:  # a layer at a time, to record each
            loops, a = found
            same = np.zeros(len(rows), np.int64)
            for l in range(self.L):
                loops.layer(
                    a.kind,
                    a.x[max(l - 1, 0)],
                    a.x[l],
                    a.ws[l],
                    a.scales[l],
                    a.tables[l],
                    same if l else ids,
                    a.g,
                    a.cs[l],
                )
                self.spec.record(a.g, rows.h[l], a.cs[l], self.H, record)
            loops.affine(a.x[-1], a.w_out, a.s_out, a.b_out, same, logits)
        return logits if want_logits else None

    @property
    def generates_rows(self) -> bool:
        """Whether ``generate_rows`` serves here (a cell with compiled loops, a one-hot input, numba)."""
        return self._compiled_weights is not None and compiled() is not None

    def generate_rows(
        self, rows: StackedStates, logits: np.ndarray, top_n: np.ndarray, temperature: np.ndarray, uniform: np.ndarray
    ) -> np.ndarray | None:
        """Draw and feed ``len(uniform)`` characters for every row in one compiled call (``kernels.generate_steps``:
        ``pick_next``'s rule, row m's uniform numbers ``uniform[:, m]`` from its own generator); ``logits``, the
        rows' scores, is updated in place. Returns the characters, one row per step, or None where the compiled
        loops do not serve (the caller then steps one character at a time)."""
        found = self._loops(rows)
        if found is None:
            return None
        loops, args = found
        out = np.empty(uniform.shape, np.int64)
        loops.generate_steps(*args, logits, top_n, temperature, uniform, out)
        return out

    def _advance_numpy(self, rows: StackedStates, xs: np.ndarray, record: list | None) -> None:
        """The layers one NumPy call at a time (the GRU, and any host without numba)."""
        cell_step, H, h, c = self.spec.step, self.H, rows.h, rows.c
        for l, layer in enumerate(self.layers):
            if self.spec.fused_input:  # one product: [input, h] against the stacked weights
                g = rows.gates
                if l == 0:
                    exact_product(h[0], layer.w_hh, g)
                    g += self._from_below(rows, 0, xs)
                else:
                    xh = rows.xh[l]
                    xh[:, :H] = h[l - 1]
                    exact_product(xh, layer.w_cat, g)
                    g += layer.b_in
                cell_step(g, None, h[l], c[l], H, record)
            else:
                recurrent = exact_product(np.ascontiguousarray(h[l]), layer.w_hh, np.empty_like(rows.gates))
                recurrent += layer.b_hh
                cell_step(self._from_below(rows, l, xs), recurrent, h[l], c[l], H, record)

    def step(
        self, state: SamplerState, x: int, want_logits: bool = True, record: list | None = None
    ) -> np.ndarray | None:
        """Advance the state by one input character; return the next-character scores.

        With ``record``, append per layer what the cells did at this step (for ``traces``).
        """
        logits = self.advance(self._stacked(state), np.array([x]), want_logits, record)
        return None if logits is None else logits[0]

    @on_one_blas_thread
    def feed(self, state: SamplerState, text: str) -> np.ndarray:
        """Run a (checked) prime through the network; return the scores after its last character."""
        ids = self.vocab.encode(text)
        found = self._loops(self._stacked(state))
        if found is not None:  # the whole prime in one compiled call
            loops, args = found
            logits = np.empty((1, len(self.b_out)), np.float32)
            loops.feed_steps(*args, np.ascontiguousarray(np.asarray(ids, np.int64).reshape(-1, 1)), logits)
            return logits[0]
        for x in ids[:-1]:
            self.step(state, int(x), want_logits=False)
        return self.step(state, int(ids[-1]))

    @on_one_blas_thread
    def check_outputs(self) -> None:
        """Refuse a model whose scores overflow: the scores after each character of its vocabulary, from a
        blank memory, must be finite numbers. Finite weights can still compute infinite scores (weights of
        1e30, say); caught when the model is loaded, such a model never reaches a view as "nan%"."""
        rows = self.stack_states([self.new_state() for _ in range(len(self.vocab))])
        check_finite_scores(self.advance(rows, np.arange(len(self.vocab)), True, None))

    @on_one_blas_thread
    def next_char_distribution(self, prime: str, temperature: float = 1.0, on_unknown: str = "error") -> np.ndarray:
        """P(next character | prime) over the whole vocabulary, at a temperature."""
        check_settings(self.vocab, 1, temperature)
        prime = prepare_prime(self.vocab, prime, on_unknown)
        return softmax(self.feed(self.new_state(), prime), temperature)

    @on_one_blas_thread
    def stream(
        self,
        prime: str | None = None,
        length: int = 500,
        top_n: int = 4,
        temperature: float = 1.0,
        seed: int | None = None,
        on_unknown: str = "error",
    ) -> Iterator[str]:
        """Yield ``length`` generated characters one by one (the prime itself is not yielded)."""
        check_settings(self.vocab, top_n, temperature, length)
        prime = prepare_prime(self.vocab, prime, on_unknown)
        rng = np.random.default_rng(seed)
        state = self.new_state()
        logits = self.feed(state, prime)
        chars, step, done = self.vocab.chars, self.step, 0
        if self.generates_rows and drawn_by_rule(top_n, len(self.vocab)):  # runs of steps, each one call
            rows, scores = self._stacked(state), logits[None].copy()
            settings = np.array([top_n]), np.array([temperature], np.float64)
            while length - done > 1:
                run = min(RUN, length - done - 1)
                uniform = np.array([[rng.random()] for _ in range(run)])  # one at a time, as pick_next draws
                for x in self.generate_rows(rows, scores, *settings, uniform)[:, 0].tolist():
                    yield chars[x]
                done += run
            logits = scores[0]
        for i in range(done, length):
            x = pick_next(logits, top_n, temperature, rng)
            yield chars[x]
            if i + 1 < length:
                logits = step(state, x)

    def generate(
        self,
        prime: str | None = None,
        length: int = 500,
        top_n: int = 4,
        temperature: float = 1.0,
        seed: int | None = None,
        on_unknown: str = "error",
    ) -> str:
        """The prime followed by ``length`` generated characters."""
        prime = prepare_prime(self.vocab, prime, on_unknown)
        return prime + "".join(self.stream(prime, length, top_n, temperature, seed))
