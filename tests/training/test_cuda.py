"""On a CUDA GPU (skipped without one; CI has none): train there, checkpoint, go on on the CPU, sample."""

import copy
import warnings

import pytest
import torch

from charlm import Corpus, Sampler, latest_checkpoint, load_checkpoint, preset, train
from charlm.network.model import CharRNN, ModelConfig

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")]
TEXT = "Happy families are all alike; every unhappy family is unhappy in its own way. " * 60


def test_train_on_the_gpu_then_resume_on_the_cpu_and_sample(tmp_path):
    corpus = Corpus.from_text(TEXT, val_fraction=0.1)
    cfg = preset("tiny", max_steps=30, num_layers=2, dropout=0.2, eval_every=10, epochs=50, keep_checkpoints=2)
    first = train(corpus, cfg.replace(device="cuda"), tmp_path, chunk_steps=15)
    assert first.reason == "chunk" and next(first.model.parameters()).is_cuda
    ckpt = load_checkpoint(latest_checkpoint(tmp_path))
    assert all(t.device.type == "cpu" for t in ckpt.model.state_dict().values())  # device-free
    rest = train(corpus, cfg.replace(device="cpu"), tmp_path, resume=ckpt)
    assert rest.progress.step == 30 and next(rest.model.parameters()).device.type == "cpu"
    assert rest.progress.train_loss[-1][1] < rest.progress.train_loss[0][1]
    text = Sampler(rest.model, corpus.vocab).generate("Happy ", 60, seed=1)  # (the text has no capital T)
    assert text.startswith("Happy ") and len(text) == 66


def test_gpu_and_cpu_losses_agree_from_the_same_start(tmp_path):
    """The first weights are drawn on the CPU, so both devices start alike; without dropout they stay close."""
    corpus = Corpus.from_text(TEXT, val_fraction=0.1)
    cfg = preset("tiny", max_steps=20, num_layers=2, dropout=0.0, epochs=50)
    gpu = [v for _, v in train(corpus, cfg.replace(device="cuda")).progress.train_loss]
    cpu = [v for _, v in train(corpus, cfg.replace(device="cpu")).progress.train_loss]
    assert abs(gpu[0] - cpu[0]) < 1e-3
    assert max(abs(a - b) for a, b in zip(gpu, cpu)) < 0.05


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_bf16_on_the_gpu_trains(cell):
    corpus = Corpus.from_text(TEXT, val_fraction=0.1)
    result = train(corpus, preset("tiny", max_steps=40, cell=cell, bf16=True, device="cuda", epochs=50))
    losses = [v for _, v in result.progress.train_loss]
    assert losses[-1] < losses[0] - 0.5


def test_the_stack_hands_cudnn_one_block_of_weights_per_layer():
    """cuDNN copies a call's weights into a new block (and warns) when they are not one block of their own:
    the layers are kept apart, each in one block, so a training step with dropout (layer by layer) and an
    evaluation run without a copy or a warning, and give the CPU's numbers."""
    model = CharRNN(ModelConfig(11, hidden_size=32, num_layers=2, dropout=0.3)).eval()
    x = torch.randint(0, 11, (4, 9), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        on_cpu = model(x)[0]
    gpu = copy.deepcopy(model).to("cuda")
    assert gpu.layers_apart
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gpu.train()
        gpu(x.cuda())[0].sum().backward()
        gpu.eval()
        with torch.no_grad():
            on_gpu = gpu(x.cuda())[0]
    assert not [w for w in caught if "contiguous chunk" in str(w.message)]
    torch.testing.assert_close(on_gpu.cpu(), on_cpu, atol=1e-4, rtol=1e-4)
    assert all(p.grad is not None for p in gpu.parameters())
