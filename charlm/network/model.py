"""The character-level recurrent network (chapter sections 5.3-5.5 and 5.8).

One-hot characters -> stacked LSTM (or GRU, or plain tanh RNN) -> dropout -> a linear layer
to one score per vocabulary character. Training runs the fused ``nn.LSTM``/``nn.GRU``/``nn.RNN``
kernels over whole windows; step-by-step generation uses the faster path in ``sampling/sampler.py``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from charlm.data.vocab import MAX_VOCAB_SIZE, ONE_HOT_LIMIT
from charlm.errors import CharLMError
from charlm.network.cells import CELLS, bf16_kernel_works
from charlm.network.cudnn import layer_weights, pack_layers

# The largest model charlm builds (a checkpoint describing a larger one is refused before anything is allocated).
MAX_HIDDEN, MAX_LAYERS, MAX_EMBEDDING = 4096, 8, 4096
# For vocabularies too large for one-hot input (thousands of Chinese characters).
DEFAULT_EMBEDDING_DIM = 256

State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class ModelConfig:
    vocab_size: int
    cell: str = "lstm"
    hidden_size: int = 512
    num_layers: int = 2
    dropout: float = 0.5
    embedding_dim: int = 0  # 0: one-hot input, as in the chapter

    def __post_init__(self) -> None:
        # A checkpoint's description is untrusted: check types and bounds before anything is allocated.
        whole = ("vocab_size", "hidden_size", "num_layers", "embedding_dim")
        if (
            any(not isinstance(getattr(self, n), int) or isinstance(getattr(self, n), bool) for n in whole)
            or not isinstance(self.dropout, (int, float))
            or not isinstance(self.cell, str)
        ):
            raise CharLMError(
                "The model's sizes must be whole numbers, its dropout a number and its cell a name.", key="model_types"
            )
        if self.cell not in CELLS:
            raise CharLMError(
                f"cell must be one of {', '.join(CELLS)}; got {self.cell!r}.", key="model_cell", value=str(self.cell)
            )
        if self.vocab_size < 1 or self.hidden_size < 1 or self.num_layers < 1:
            raise CharLMError("vocab_size, hidden_size and num_layers must all be at least 1.", key="model_sizes")
        if not 0.0 <= self.dropout < 1.0:
            raise CharLMError(
                f"dropout must be at least 0 and below 1; got {self.dropout}.", key="model_dropout", value=self.dropout
            )
        if self.embedding_dim < 0:
            raise CharLMError("embedding_dim must be 0 (one-hot) or positive.", key="model_embedding")
        if (
            self.vocab_size > MAX_VOCAB_SIZE
            or self.hidden_size > MAX_HIDDEN
            or self.num_layers > MAX_LAYERS
            or self.embedding_dim > MAX_EMBEDDING
        ):
            raise CharLMError(
                f"The model is larger than charlm builds: at most {MAX_VOCAB_SIZE:,} characters, {MAX_HIDDEN} hidden "
                f"units, {MAX_LAYERS} layers and a {MAX_EMBEDDING}-wide embedding.",
                key="model_too_large",
                vocab=MAX_VOCAB_SIZE,
                hidden=MAX_HIDDEN,
                layers=MAX_LAYERS,
                embedding=MAX_EMBEDDING,
            )

    @classmethod
    def for_vocab(cls, vocab_size: int, **kwargs) -> ModelConfig:
        """One-hot input up to ``ONE_HOT_LIMIT`` characters, an embedding beyond it."""
        embedding_dim = 0 if vocab_size <= ONE_HOT_LIMIT else DEFAULT_EMBEDDING_DIM
        return cls(vocab_size=vocab_size, embedding_dim=embedding_dim, **kwargs)

    def to_dict(self) -> dict:
        return asdict(self)


class CharRNN(nn.Module):
    """One-hot (or embedded) characters -> a stack of recurrent layers -> dropout -> scores.

    The weights are drawn from ``generator`` (a fixed seed when none is given), never from
    torch's global random state: two trainings in two threads each get the weights their own
    seed says. The layers are first made on the "meta" device (shapes only, no drawing), then
    given memory and filled.
    """

    def __init__(self, config: ModelConfig, generator: torch.Generator | None = None, device: str = "cpu"):
        super().__init__()
        self.config = config
        self.layers_apart = False  # each layer's weights in a block of their own (on a GPU: ``cudnn.pack_layers``)
        cell = CELLS[config.cell]
        input_size = config.embedding_dim or config.vocab_size
        meta = torch.device("meta")
        self.embedding = (
            nn.Embedding(config.vocab_size, config.embedding_dim, device=meta) if config.embedding_dim else None
        )
        # dropout between layers is applied here (``_stack``), with the caller's generator
        self.rnn = cell.module(input_size, config.hidden_size, config.num_layers, batch_first=True, device=meta)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size, device=meta)
        if device != "meta":  # "meta": shapes only, nothing allocated (see ``parameter_shapes``)
            self.to_empty(device=device)
            self.reset_parameters(generator if generator is not None else torch.Generator().manual_seed(0))

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator) -> None:
        H = self.config.hidden_size
        bound = H**-0.5  # PyTorch's own recurrent initialisation, drawn from our generator
        for p in self.rnn.parameters():
            p.uniform_(-bound, bound, generator=generator)
        if self.embedding is not None:
            self.embedding.weight.normal_(generator=generator)
        # The chapter's output layer: truncated normal (std 0.1) weights, zero biases.
        nn.init.trunc_normal_(self.decoder.weight, std=0.1, a=-0.2, b=0.2, generator=generator)
        nn.init.zeros_(self.decoder.bias)
        cell = CELLS[self.config.cell]
        if cell.init is not None:
            cell.init(self.rnn, H, self.config.num_layers)

    def _apply(self, fn, recurse=True):
        """After a move (``.to("cuda")``, ``.float()``): on a GPU, each layer's weights in a block of their own
        for cuDNN (``cudnn.pack_layers``), and the stack then run one layer at a time."""
        moved = super()._apply(fn, recurse)
        self.layers_apart = pack_layers(self.rnn)
        return moved

    def layer_weights(self, layer: int) -> list[torch.Tensor]:
        """One recurrent layer's weights, in the order PyTorch's kernels take them."""
        return layer_weights(self.rnn, layer)

    def encode_input(self, x: torch.Tensor) -> torch.Tensor:
        x = x.long()  # a corpus keeps its codes small (``code_dtype``); lookups take int64 (no copy if they are)
        if self.embedding is not None:
            return self.embedding(x)
        return F.one_hot(x, self.config.vocab_size).float()

    def init_state(self, batch_size: int) -> State:
        c = self.config
        zeros = torch.zeros(c.num_layers, batch_size, c.hidden_size, device=self.decoder.weight.device)
        return (zeros, zeros.clone()) if CELLS[c.cell].has_cell_state else zeros

    def forward(
        self, x: torch.Tensor, state: State | None = None, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, State]:
        """x: (N, M) character codes -> logits (N, M, vocab) and the state after the last step.

        In training, dropout masks are drawn from ``generator`` (torch's global one if None).
        """
        if state is None:
            state = self.init_state(x.shape[0])
        inputs = self.encode_input(x)
        if torch.is_autocast_enabled("cpu") and not bf16_kernel_works(self.config.cell):
            with torch.autocast("cpu", enabled=False):
                out, state = self._recurrent(inputs.float(), state, generator)
        else:
            out, state = self._recurrent(inputs, state, generator)
        return self.decoder(self._drop(out, generator)), state

    def _recurrent(self, inputs: torch.Tensor, state: State, generator: torch.Generator | None):
        if self.layers_apart or (self.training and self.config.dropout and self.config.num_layers > 1):
            return self._stack(inputs, state, generator)
        return self.rnn(inputs, state)  # the fused kernel over the whole stack

    def _drop(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        p = self.config.dropout
        if not self.training or not p:
            return x
        keep = torch.empty_like(x).bernoulli_(1.0 - p, generator=generator)
        return x * keep / (1.0 - p)

    def _stack(self, x: torch.Tensor, state: State, generator: torch.Generator | None) -> tuple[torch.Tensor, State]:
        """The stack one layer at a time, with dropout between layers in training (as nn.LSTM's ``dropout``
        does, but drawing from ``generator``)."""
        kernel = CELLS[self.config.cell].kernel
        parts = state if isinstance(state, tuple) else (state,)
        finals = []
        for layer in range(self.config.num_layers):
            layer_state = tuple(p[layer : layer + 1] for p in parts)
            layer_state = layer_state if len(parts) > 1 else layer_state[0]
            x, final = kernel(x, layer_state, self.layer_weights(layer), self.training)
            finals.append(final if isinstance(final, tuple) else (final,))
            if layer + 1 < self.config.num_layers:
                x = self._drop(x, generator)
        stacked = tuple(torch.cat(p) for p in zip(*finals))
        return x, (stacked if len(stacked) > 1 else stacked[0])


def detach_state(state: State) -> State:
    """Cut the graph at a batch boundary (truncated BPTT) while keeping the values.

    The state carries context from one window to the next, but back-propagating through every
    window since the start of the epoch would cost ever more time and memory.
    """
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def parameter_count(config: ModelConfig) -> int:
    """How many numbers the model of ``config`` learns, without allocating them."""
    return sum(math.prod(shape) for shape in parameter_shapes(config).values())


def parameter_shapes(config: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Every weight's name and shape for ``config``, without allocating any of them."""
    return {name: tuple(t.shape) for name, t in CharRNN(config, device="meta").state_dict().items()}
