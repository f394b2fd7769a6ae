"""The character-level recurrent network (chapter sections 5.3-5.5 and 5.8).

One-hot characters -> stacked LSTM (or GRU, or plain tanh RNN) -> dropout -> a linear layer
to one score per vocabulary character. Training runs the fused ``nn.LSTM``/``nn.GRU``/``nn.RNN``
kernels over whole windows; step-by-step generation uses the faster path in ``sample.py``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .errors import CharLMError
from .vocab import ONE_HOT_LIMIT

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}
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
        if self.cell not in CELLS:
            raise CharLMError(f"cell must be one of {', '.join(CELLS)}; got {self.cell!r}.", key="model_cell",
                              value=str(self.cell))
        if self.vocab_size < 1 or self.hidden_size < 1 or self.num_layers < 1:
            raise CharLMError("vocab_size, hidden_size and num_layers must all be at least 1.", key="model_sizes")
        if not 0.0 <= self.dropout < 1.0:
            raise CharLMError(f"dropout must be at least 0 and below 1; got {self.dropout}.", key="model_dropout",
                              value=self.dropout)
        if self.embedding_dim < 0:
            raise CharLMError("embedding_dim must be 0 (one-hot) or positive.", key="model_embedding")

    @classmethod
    def for_vocab(cls, vocab_size: int, **kwargs) -> "ModelConfig":
        """One-hot input up to ``ONE_HOT_LIMIT`` characters, an embedding beyond it."""
        embedding_dim = 0 if vocab_size <= ONE_HOT_LIMIT else DEFAULT_EMBEDDING_DIM
        return cls(vocab_size=vocab_size, embedding_dim=embedding_dim, **kwargs)

    def to_dict(self) -> dict:
        return asdict(self)


class CharRNN(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        if config.embedding_dim:
            self.embedding = nn.Embedding(config.vocab_size, config.embedding_dim)
            input_size = config.embedding_dim
        else:
            self.embedding = None
            input_size = config.vocab_size
        rnn_kwargs = {"nonlinearity": "tanh"} if config.cell == "rnn" else {}
        self.rnn = CELLS[config.cell](
            input_size, config.hidden_size, config.num_layers, batch_first=True,
            dropout=config.dropout if config.num_layers > 1 else 0.0, **rnn_kwargs,
        )
        self.dropout = nn.Dropout(config.dropout)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size)
        self._init_weights()

    def _init_weights(self) -> None:
        # The chapter's output layer: truncated normal (std 0.1) weights, zero biases.
        nn.init.trunc_normal_(self.decoder.weight, std=0.1, a=-0.2, b=0.2)
        nn.init.zeros_(self.decoder.bias)
        if self.config.cell == "lstm":
            # TensorFlow's BasicLSTMCell adds 1 to the forget gate; start the same way, so that at
            # first the cell keeps its memory instead of halving it at every step.
            hidden = self.config.hidden_size
            for layer in range(self.config.num_layers):
                getattr(self.rnn, f"bias_ih_l{layer}").data[hidden: 2 * hidden].fill_(1.0)
                getattr(self.rnn, f"bias_hh_l{layer}").data[hidden: 2 * hidden].fill_(0.0)

    def encode_input(self, x: torch.Tensor) -> torch.Tensor:
        if self.embedding is not None:
            return self.embedding(x)
        return F.one_hot(x, self.config.vocab_size).float()

    def init_state(self, batch_size: int) -> State:
        c = self.config
        zeros = torch.zeros(c.num_layers, batch_size, c.hidden_size, device=self.decoder.weight.device)
        return (zeros, zeros.clone()) if c.cell == "lstm" else zeros

    def forward(self, x: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """x: (N, M) character codes -> logits (N, M, vocab) and the state after the last step."""
        if state is None:
            state = self.init_state(x.shape[0])
        out, state = self.rnn(self.encode_input(x), state)
        return self.decoder(self.dropout(out)), state


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
