"""lama.fast, the CPU-fast decoder built from a GPT, against the plain path of lama.model and
lama.generate (the same logits up to float rounding, the same greedy tokens) and against Hugging
Face transformers on checkpoints in the hub's layout."""
from pathlib import Path

import numpy as np
import pytest
import torch
from tinygrad import Tensor, Variable, nn
from transformers import GPT2Config, GPT2LMHeadModel

from lama.fast import FastGenerator, fast_forward, one_position_linear, output_layer
from lama.generate import Generator, cached_forward, generate, new_cache
from lama.model import GPT, GPTConfig
from lama.weights import load_gpt2

TIGHT = dict(rtol=1e-5, atol=1e-5)


def save_hf(folder: Path, seed: int = 0, **config) -> GPT2LMHeadModel:
    torch.manual_seed(seed)
    V = config.setdefault("vocab_size", 101)
    hf = GPT2LMHeadModel(GPT2Config(bos_token_id=V - 1, eos_token_id=V - 1, **config)).eval()
    hf.save_pretrained(folder, safe_serialization=True)
    return hf


@pytest.fixture(scope="module")
def full_vocab():
    """A GPT with GPT-2's vocabulary: the output layer goes in two pieces."""
    Tensor.manual_seed(1)
    return GPT(GPTConfig(vocab_size=50257, n_positions=32, n_embd=64, n_layer=2, n_head=2))


@pytest.mark.parametrize("n_in, n_out, pieces", [(64, 48, 4), (256, 64, 4), (30, 7, 4), (96, 96, 3)])
def test_one_position_linear_is_the_linear_layer(n_in, n_out, pieces):
    Tensor.manual_seed(n_in)
    layer = nn.Linear(n_in, n_out)
    x = Tensor.randn(2, 1, n_in)
    np.testing.assert_allclose(one_position_linear(layer, x, pieces).numpy(), layer(x).numpy(),
                               rtol=1e-5, atol=1e-6)


def test_output_layer_is_the_tied_product(full_vocab):
    x = Tensor.randn(2, 3, 64)
    ours = output_layer(full_vocab, x).numpy()
    assert ours.shape == (2, 3, 50257)
    np.testing.assert_allclose(ours, (x @ full_vocab.wte.weight.T).numpy(), rtol=1e-5, atol=1e-6)


def test_fast_forward_matches_the_model(full_vocab):
    ids = np.random.default_rng(0).integers(0, 50257, size=(2, 17))
    plain = full_vocab(Tensor(ids)).numpy()
    np.testing.assert_allclose(fast_forward(full_vocab, Tensor(ids)).numpy(), plain, **TIGHT)
    last = fast_forward(full_vocab, Tensor(ids), at=-1).numpy()             # (B, 1, V)
    np.testing.assert_allclose(last[:, 0], plain[:, -1], **TIGHT)


def test_fast_cache_matches_the_plain_cache(full_vocab):
    """Prefill of 9 tokens, then decode steps (one_position_linear), fast against plain."""
    ids = Tensor(np.random.default_rng(1).integers(0, 50257, size=(1, 20)))
    plain_cache, fast_cache = new_cache(full_vocab.config), new_cache(full_vocab.config)
    a = cached_forward(full_vocab, ids[:, :9], plain_cache, 0).numpy()
    b = fast_forward(full_vocab, ids[:, :9], fast_cache, 0).numpy()
    np.testing.assert_allclose(b, a, **TIGHT)
    pos = Variable("pos", 1, 31)             # one compiled shape for every position
    for t in range(9, 20):
        a = cached_forward(full_vocab, ids[:, t:t + 1], plain_cache, pos.bind(t)).numpy()
        b = fast_forward(full_vocab, ids[:, t:t + 1], fast_cache, pos.bind(t)).numpy()
        np.testing.assert_allclose(b, a, **TIGHT, err_msg=f"position {t}")


def test_fast_generator_logits_match_the_plain_generator(full_vocab):
    prompt = np.random.default_rng(2).integers(0, 50257, size=11).tolist()
    plain, fast = Generator(full_vocab), FastGenerator(full_vocab)
    np.testing.assert_allclose(fast.prefill(prompt), plain.prefill(prompt), **TIGHT)
    for token in (5, 50256, 17, 4000, 9):
        np.testing.assert_allclose(fast.decode(token), plain.decode(token), **TIGHT)


@pytest.mark.parametrize("cache", [True, False])
def test_same_greedy_tokens(full_vocab, cache):
    prompt = [464, 3290, 318, 257] * 4
    fast = list(FastGenerator(full_vocab, cache).generate(prompt, 24))   # past the window of 32
    assert fast == generate(full_vocab, prompt, 24, cache=cache)[len(prompt):]


def test_same_samples_with_a_seed(full_vocab):
    kw = dict(temperature=0.9, top_k=50, seed=3)
    fast = list(FastGenerator(full_vocab).generate([1, 2, 3], 12, **kw))
    assert fast == generate(full_vocab, [1, 2, 3], 12, **kw)[3:]


def test_prefill_and_decode_match_transformers(tmp_path):
    """GPT-2's own vocabulary, the bucketed prompt and every decode step against transformers."""
    hf = save_hf(tmp_path, vocab_size=50257, n_positions=32, n_embd=64, n_layer=2, n_head=2)
    model = load_gpt2(tmp_path)
    ids = np.random.default_rng(2).integers(0, 50257, size=(1, 20))
    with torch.no_grad():
        theirs = hf(torch.tensor(ids)).logits.numpy()[0]                   # (20, V)
    gen = FastGenerator(model)
    ours = [gen.prefill(ids[0, :8].tolist())] + [gen.decode(int(t)) for t in ids[0, 8:]]
    assert np.abs(np.stack(ours) - theirs[7:]).max() <= 1e-4


def test_greedy_tokens_match_transformers(tmp_path):
    hf = save_hf(tmp_path, seed=3, n_positions=64, n_embd=32, n_layer=2, n_head=4)
    model = load_gpt2(tmp_path)
    prompt = [5, 17, 3, 99, 42]
    ours = prompt + list(FastGenerator(model).generate(prompt, 30))
    with torch.no_grad():
        theirs = hf.generate(torch.tensor([prompt]), max_new_tokens=30, do_sample=False,
                             min_new_tokens=30, pad_token_id=0)[0].tolist()
    assert ours == theirs


def test_half_weights_store_matrices_in_float16(full_vocab):
    from tinygrad import dtypes
    from tinygrad.nn.state import get_state_dict
    from lama.fast import half_weights
    full, half = get_state_dict(full_vocab), get_state_dict(half_weights(full_vocab))
    assert full.keys() == half.keys()
    for name, w in half.items():
        assert w.dtype == (dtypes.float16 if full[name].ndim == 2 else dtypes.float32), name
        assert np.array_equal(w.numpy(), full[name].numpy().astype(w.numpy().dtype)), name
    assert full_vocab.wte.weight.dtype == dtypes.float32           # the model itself is unchanged


def test_half_logits_are_close_to_float32_and_computed_in_float32(tmp_path):
    save_hf(tmp_path, vocab_size=50257, n_positions=32, n_embd=64, n_layer=2, n_head=2)
    model = load_gpt2(tmp_path)
    prompt = np.random.default_rng(4).integers(0, 50257, size=9).tolist()
    full, half = FastGenerator(model), FastGenerator(model, half=True)
    a, b = full.prefill(prompt), half.prefill(prompt)
    assert b.dtype == np.float32
    steps = [(a, b)] + [(full.decode(t), half.decode(t)) for t in (5, 50256, 17, 4000)]
    for a, b in steps:
        assert 0 < np.abs(a - b).max() < 1e-3 * np.abs(a).max()   # rounded weights, not float32
        assert np.argmax(a) == np.argmax(b)
