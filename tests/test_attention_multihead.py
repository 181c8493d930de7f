"""lama.multihead (chapter "Multi-head attention") against numpy, single heads and finite differences."""
import itertools

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


@pytest.mark.parametrize("causal", [True, False])
def test_additive_score_is_bahdanaus_per_head(causal):
    """score="additive": s = v_a . tanh(W_q q + W_k k) with each head's own W_q, W_k (hs, hs) and v_a
    (hs,) (rows convention: q @ W_q), under a padding mask, against a loop over (query, key) pairs."""
    rng = np.random.default_rng(24)
    B, T, C, n_head = 2, 5, 12, 3
    hs = C // n_head
    attn = MultiHeadAttention(C, n_head, causal=causal, score="additive")
    assert attn.W_q.shape == attn.W_k.shape == (n_head, hs, hs) and attn.v_a.shape == (n_head, hs)
    p = random_params(rng, C)
    W_q, W_k = rng.standard_normal((n_head, hs, hs)) / 2, rng.standard_normal((n_head, hs, hs)) / 2
    v_a = rng.standard_normal((n_head, hs))
    load(attn, p)
    attn.W_q, attn.W_k, attn.v_a = t(W_q), t(W_k), t(v_a)
    x = rng.standard_normal((B, T, C))
    valid = np.array([[True] * T, [True, True, True, False, False]])
    y, weights = attn(t(x), padding_mask(Tensor(valid)), return_weights=True)

    qkv = x @ p["W_attn"].T + p["b_attn"]                      # (B, T, 3C)
    expected_w, heads = np.zeros((B, n_head, T, T)), np.zeros((B, T, C))
    for b, h, i in itertools.product(range(B), range(n_head), range(T)):
        q = qkv[b, i, h * hs:(h + 1) * hs]
        s = np.full(T, -np.inf)
        for j in range(T):
            if valid[b, j] and (j <= i or not causal):
                k = qkv[b, j, C + h * hs:C + (h + 1) * hs]
                s[j] = v_a[h] @ np.tanh(q @ W_q[h] + k @ W_k[h])
        w = np.exp(s - s.max())
        expected_w[b, h, i] = w / w.sum()
        values = qkv[b, :, 2 * C + h * hs:2 * C + (h + 1) * hs]
        heads[b, i, h * hs:(h + 1) * hs] = expected_w[b, h, i] @ values
    np.testing.assert_allclose(weights.numpy(), expected_w, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(y.numpy(), heads @ p["W_proj"].T + p["b_proj"], rtol=1e-4, atol=1e-5)
    if not causal:  # unlike the linear additive score, the weights depend on the query
        assert np.abs(weights.numpy()[0] - weights.numpy()[0, :, :1]).max() > 0.01


def test_additive_scores_start_small_whatever_the_head_size():
    """The 1/sqrt(fan-in) initialisation keeps the additive scores' spread below 1 at every head size."""
    rng = np.random.default_rng(25)
    spreads = []
    for hs in (16, 64, 256):
        Tensor.manual_seed(hs)
        attn = MultiHeadAttention(hs, 1, score="additive")
        x = rng.standard_normal((2, 16, hs))
        x = (x - x.mean(-1, keepdims=True)) / x.std(-1, keepdims=True)   # LayerNorm-ed inputs
        q, k, _ = attn.qkv(t(x))
        spreads.append(float(attn.scores(q, k).numpy().std()))
    assert max(spreads) < 1 and max(spreads) / min(spreads) < 1.5, spreads
