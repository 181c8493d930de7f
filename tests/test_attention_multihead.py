"""lama.multihead (chapter "Multi-head attention") against numpy, single heads and finite differences."""
import numpy as np
import pytest
from tinygrad import Tensor

import attention_numpy as ref
from lama.multihead import MultiHeadAttention
from lama.self_attention import SelfAttention, padding_mask


def t(a):
    return Tensor(np.asarray(a, dtype=np.float32))


def random_params(rng, C):
    return {"W_attn": rng.standard_normal((3 * C, C)) / 2, "b_attn": rng.standard_normal(3 * C) / 4,
            "W_proj": rng.standard_normal((C, C)) / 2, "b_proj": rng.standard_normal(C) / 4}


def load(attn, p):
    attn.c_attn.weight, attn.c_attn.bias = t(p["W_attn"]), t(p["b_attn"])
    attn.c_proj.weight, attn.c_proj.bias = t(p["W_proj"]), t(p["b_proj"])


@pytest.mark.parametrize("n_head, causal", [(1, True), (2, False), (4, True)])
def test_multi_head_matches_numpy(n_head, causal):
    rng = np.random.default_rng(n_head)
    B, T, C = 2, 5, 8
    p, x = random_params(rng, C), rng.standard_normal((B, T, C))
    attn = MultiHeadAttention(C, n_head, causal=causal)
    load(attn, p)
    valid = np.array([[True] * T, [True, True, True, False, False]])
    for mask in [None, valid[:, None, :], np.tril(np.ones((T, T), bool))[::-1].copy()]:  # none, padding, a (T, T) table
        y, weights = attn(t(x), None if mask is None else Tensor(mask), return_weights=True)
        expected_y, expected_weights = ref.multi_head(x, p, n_head, causal, mask)
        assert y.shape == (B, T, C) and weights.shape == (B, n_head, T, T)
        np.testing.assert_allclose(weights.numpy(), expected_weights, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(y.numpy(), expected_y, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("n_embd, n_head", [(8, 2), (12, 3)])
def test_multi_head_is_single_heads_side_by_side(n_embd, n_head):
    rng = np.random.default_rng(n_embd)
    attn = MultiHeadAttention(n_embd, n_head)
    hs = attn.head_size
    heads = []
    for h in range(n_head):
        head = SelfAttention(n_embd, hs)
        for offset, linear in zip([0, n_embd, 2 * n_embd], [head.query, head.key, head.value]):
            rows = slice(offset + h * hs, offset + (h + 1) * hs)
            linear.weight, linear.bias = attn.c_attn.weight[rows], attn.c_attn.bias[rows]
        heads.append(head)
    x = t(rng.standard_normal((2, 4, n_embd)))
    mask = padding_mask(Tensor([[True] * 4, [True, True, False, False]]))
    y, weights = attn(x, mask, return_weights=True)
    outs = [head(x, mask, return_weights=True) for head in heads]
    concatenated = Tensor.cat(*[out for out, _ in outs], dim=-1)
    np.testing.assert_allclose(attn.c_proj(concatenated).numpy(), y.numpy(), rtol=1e-5, atol=1e-6)
    for h, (_, w) in enumerate(outs):
        np.testing.assert_allclose(w.numpy(), weights.numpy()[:, h], rtol=1e-5, atol=1e-7)


def test_multi_head_gradients_match_finite_differences():
    rng = np.random.default_rng(21)
    B, T, C, n_head = 2, 3, 4, 2
    p, x, R = random_params(rng, C), rng.standard_normal((B, T, C)), rng.standard_normal((B, T, C))
    mask = np.array([[True] * T, [False, True, True]])[:, None, :]   # one query with no key at all
    numeric = ref.numeric_gradients(lambda: (ref.multi_head(x, p, n_head, True, mask)[0] * R).sum(), {"x": x, **p})

    attn = MultiHeadAttention(C, n_head)
    load(attn, p)
    xt = t(x)
    (attn(xt, Tensor(mask)) * t(R)).sum().backward()
    ours = {"x": xt.grad, "W_attn": attn.c_attn.weight.grad, "b_attn": attn.c_attn.bias.grad,
            "W_proj": attn.c_proj.weight.grad, "b_proj": attn.c_proj.bias.grad}
    ref.assert_gradients_match(ours, numeric)


def test_a_mask_with_a_head_axis_is_used_per_head():
    rng = np.random.default_rng(22)
    B, T, C, n_head = 2, 4, 8, 2
    attn = MultiHeadAttention(C, n_head, causal=False)
    x = t(rng.standard_normal((B, T, C)))
    per_head = np.ones((B, n_head, T, T), bool)
    per_head[:, 1, :, 0] = False                        # head 1 may not look at position 0
    _, weights = attn(x, Tensor(per_head), return_weights=True)
    weights = weights.numpy()
    np.testing.assert_array_equal(weights[:, 1, :, 0], 0.0)
    assert weights[:, 0, :, 0].min() > 0


def test_causal_multi_head_attention_does_not_see_the_future():
    rng = np.random.default_rng(23)
    attn = MultiHeadAttention(8, 2)
    x = rng.standard_normal((2, 5, 8))
    changed = x.copy()
    changed[:, 3:] = rng.standard_normal((2, 2, 8))
    np.testing.assert_array_equal(attn(t(changed)).numpy()[:, :3], attn(t(x)).numpy()[:, :3])


def test_bad_sizes_are_refused_with_a_reason():
    with pytest.raises(ValueError, match="not divisible"):
        MultiHeadAttention(10, 4)
