"""lama.block (chapter "The transformer block"): LayerNorm, GELU, the MLP and the pre-LN and post-LN
blocks against numpy and tinygrad."""
import math

import numpy as np
import pytest
from tinygrad import Tensor, nn

import attention_numpy as ref
from lama.block import MLP, Block, BlockConfig, LayerNorm, gelu, training


def t(a):
    return Tensor(np.asarray(a, dtype=np.float32))


@pytest.mark.parametrize("eps, bias", [(1e-5, True), (1e-3, False)])
def test_layernorm_matches_numpy_and_tinygrad(eps, bias):
    rng = np.random.default_rng(1)
    x = 5 * rng.standard_normal((2, 3, 16)) - 2
    w, b = rng.standard_normal(16), rng.standard_normal(16) if bias else None
    ln = LayerNorm(16, eps=eps, bias=bias)
    ln.weight = t(w)
    if bias:
        ln.bias = t(b)
    y = ln(t(x)).numpy()
    np.testing.assert_allclose(y, ref.layernorm(x, w, b, eps), rtol=1e-4, atol=1e-5)
    theirs = nn.LayerNorm(16, eps=eps)
    theirs.weight, theirs.bias = t(w), t(b if bias else np.zeros(16))
    np.testing.assert_allclose(y, theirs(t(x)).numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(LayerNorm(16, eps)(t(x)).numpy(), t(x).layernorm(eps=eps).numpy(), rtol=1e-5, atol=1e-5)
    assert (ln.bias is None) == (not bias)


def test_gelu_is_the_tanh_approximation():
    x = np.linspace(-8, 8, 4001)
    ours = gelu(t(x)).numpy()
    np.testing.assert_allclose(ours, ref.gelu(x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours, t(x).gelu().numpy(), rtol=1e-5, atol=1e-6)
    exact = x * 0.5 * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))
    assert np.abs(ours - exact).max() < 5e-4


def block_params(rng, C):
    p = {"W_attn": rng.standard_normal((3 * C, C)) / 3, "b_attn": rng.standard_normal(3 * C) / 4,
         "W_proj": rng.standard_normal((C, C)) / 3, "b_proj": rng.standard_normal(C) / 4,
         "W_fc": rng.standard_normal((4 * C, C)) / 3, "b_fc": rng.standard_normal(4 * C) / 4,
         "W_mlp_proj": rng.standard_normal((C, 4 * C)) / 3, "b_mlp_proj": rng.standard_normal(C) / 4}
    for name in ["ln_1", "ln_2"]:
        p[f"{name}_w"], p[f"{name}_b"] = 1 + rng.standard_normal(C) / 4, rng.standard_normal(C) / 4
    return p


def load_block(block, p):
    block.attn.c_attn.weight, block.attn.c_attn.bias = t(p["W_attn"]), t(p["b_attn"])
    block.attn.c_proj.weight, block.attn.c_proj.bias = t(p["W_proj"]), t(p["b_proj"])
    block.mlp.c_fc.weight, block.mlp.c_fc.bias = t(p["W_fc"]), t(p["b_fc"])
    block.mlp.c_proj.weight, block.mlp.c_proj.bias = t(p["W_mlp_proj"]), t(p["b_mlp_proj"])
    block.ln_1.weight, block.ln_1.bias = t(p["ln_1_w"]), t(p["ln_1_b"])
    block.ln_2.weight, block.ln_2.bias = t(p["ln_2_w"]), t(p["ln_2_b"])


def test_mlp_matches_numpy():
    rng = np.random.default_rng(2)
    p, x = block_params(rng, 8), rng.standard_normal((2, 3, 8))
    mlp = MLP(8)
    mlp.c_fc.weight, mlp.c_fc.bias = t(p["W_fc"]), t(p["b_fc"])
    mlp.c_proj.weight, mlp.c_proj.bias = t(p["W_mlp_proj"]), t(p["b_mlp_proj"])
    np.testing.assert_allclose(mlp(t(x)).numpy(), ref.mlp(x, p), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("norm, causal, eps", [("pre", True, 1e-5), ("post", True, 1e-5), ("pre", False, 1e-3)])
def test_block_matches_numpy(norm, causal, eps):
    rng = np.random.default_rng(3)
    B, T, C, n_head = 2, 5, 8, 2
    p, x = block_params(rng, C), rng.standard_normal((B, T, C))
    block = Block(BlockConfig(n_embd=C, n_head=n_head, norm=norm, causal=causal, eps=eps))
    load_block(block, p)
    mask = np.array([[True] * T, [True, True, True, False, False]])[:, None, :]
    for m in [None, mask]:
        y, weights = block(t(x), None if m is None else Tensor(m), return_weights=True)
        assert weights.shape == (B, n_head, T, T)
        np.testing.assert_allclose(y.numpy(), ref.block(x, p, n_head, norm, causal, m, eps), rtol=1e-4, atol=1e-4)


def test_a_causal_block_does_not_see_the_future():
    rng = np.random.default_rng(4)
    for norm in ["pre", "post"]:
        block = Block(BlockConfig(n_embd=8, n_head=2, norm=norm))
        x = rng.standard_normal((2, 5, 8))
        for pos in [0, 2]:
            changed = x.copy()
            changed[:, pos + 1:] = rng.standard_normal((2, 4 - pos, 8))
            np.testing.assert_array_equal(block(t(changed)).numpy()[:, :pos + 1], block(t(x)).numpy()[:, :pos + 1])


def test_dropout_acts_only_in_training_mode():
    rng = np.random.default_rng(5)
    Tensor.manual_seed(0)
    p, x = block_params(rng, 8), t(rng.standard_normal((2, 5, 8)))
    with_dropout, without = Block(BlockConfig(n_embd=8, n_head=2, dropout=0.3)), Block(BlockConfig(n_embd=8, n_head=2))
    load_block(with_dropout, p)
    load_block(without, p)
    expected = without(x).numpy()
    np.testing.assert_array_equal(with_dropout(x).numpy(), expected)
    with training():
        first, second = with_dropout(x).numpy(), with_dropout(x).numpy()
        np.testing.assert_array_equal(without(x).numpy(), expected)   # dropout=0 is off even in training
    assert np.abs(first - expected).max() > 1e-2 and np.abs(first - second).max() > 1e-2


@pytest.mark.parametrize("kwargs, message", [
    ({"norm": "sandwich"}, "norm must be"), ({"n_embd": 10, "n_head": 4}, "multiple of n_head"),
    ({"dropout": 1.0}, "dropout"), ({"eps": 0.0}, "eps")])
def test_config_refuses_bad_values_with_a_reason(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BlockConfig(**kwargs)


def test_parameter_names_are_gpt2s():
    from tinygrad.nn.state import get_state_dict

    names = set(get_state_dict(Block(BlockConfig(n_embd=8, n_head=2))))
    assert names == {"ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias", "attn.c_proj.weight",
                     "attn.c_proj.bias", "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight", "mlp.c_fc.bias",
                     "mlp.c_proj.weight", "mlp.c_proj.bias"}
    assert set(get_state_dict(Block(BlockConfig(n_embd=8, n_head=2, bias=False)))) == {
        "ln_1.weight", "attn.c_attn.weight", "attn.c_proj.weight", "ln_2.weight", "mlp.c_fc.weight", "mlp.c_proj.weight"}
