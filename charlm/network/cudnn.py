"""On a CUDA GPU: each recurrent layer's weights packed in a block of their own, in cuDNN's layout.

Why: the stack runs one layer at a time when it trains with dropout (``CharRNN._stack``: the masks drawn from
the run's own generator, so that a resumed run is exact), and cuDNN wants each call's weights as one block.
PyTorch packs the whole stack into one block; handed one layer of it, cuDNN copies that layer into a new block
at every call (and warns that it does). Packed a layer per block, the stack then runs layer by layer on the GPU,
in evaluation too. The weights stay the same parameters (their storage moves), so an optimizer holding them is
unaffected. Nothing changes on the CPU.
"""

from __future__ import annotations

import torch
from torch import nn

WEIGHT_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")  # one recurrent layer's, as PyTorch names them


def layer_weights(rnn: nn.RNNBase, layer: int) -> list[torch.Tensor]:
    """One recurrent layer's weights, in the order PyTorch's kernels take them."""
    return [getattr(rnn, f"{name}_l{layer}") for name in WEIGHT_NAMES]


@torch.no_grad()
def pack_layers(rnn: nn.RNNBase) -> bool:
    """Each layer of ``rnn`` in one block of cuDNN's layout; False (nothing done) off a CUDA GPU with cuDNN, or
    for a single layer (PyTorch's own block is then that layer's)."""
    first = rnn.weight_ih_l0
    if rnn.num_layers < 2 or not first.is_cuda or not torch.backends.cudnn.is_acceptable(first):
        return False
    if not torch._use_cudnn_rnn_flatten_weight():
        return False
    from torch.backends.cudnn import rnn as cudnn_rnn

    mode = cudnn_rnn.get_cudnn_mode(rnn.mode)
    with torch.cuda.device_of(first):
        for layer in range(rnn.num_layers):
            weights = layer_weights(rnn, layer)
            input_size = weights[0].shape[1]
            torch._cudnn_rnn_flatten_weight(weights, 4, input_size, mode, rnn.hidden_size, 0, 1, True, False)
    return True
