"""Independent numpy (float64) references for the attention chapters' tests.

Written from the definitions, one query (and one head) at a time with explicit loops, so that they
share no code and no vectorisation tricks with lama. Linear layers use nn.Linear's layout: weight
(out, in), y = x @ W.T + b.
"""
from __future__ import annotations

import math

import numpy as np


def linear(x, W, b=None):
    y = x @ W.T
    return y if b is None else y + b


def masked_softmax(scores, mask=None):
    """Softmax over the last axis among the allowed keys; a row with no allowed key is all zeros."""
    scores = np.asarray(scores, dtype=np.float64)
    allowed = np.ones(scores.shape, bool) if mask is None else np.broadcast_to(mask, scores.shape)
    out = np.zeros_like(scores)
    for idx in np.ndindex(scores.shape[:-1]):
        row, keep = scores[idx], allowed[idx]
        if keep.any():
            e = np.exp(row[keep] - row[keep].max())
            out[idx][keep] = e / e.sum()
    return out


def causal(T_q, T_k=None):
    """Query i (at position T_k - T_q + i) may attend key j <= that position."""
    T_k = T_q if T_k is None else T_k
    return np.array([[j <= T_k - T_q + i for j in range(T_k)] for i in range(T_q)])


def attention(q, k, v, mask=None):
    """softmax(q k^T / sqrt(d), masked) v for any leading axes; returns (out, weights)."""
    scores = np.einsum("...id,...jd->...ij", q, k) / math.sqrt(q.shape[-1])
    weights = masked_softmax(scores, mask)
    return np.einsum("...ij,...jd->...id", weights, v), weights


def self_attention(x, p, causal_=True, mask=None):
    """One head. p: Wq, bq, Wk, bk, Wv, bv in nn.Linear layout. x (B, T, C) -> (B, T, hs), weights."""
    T = x.shape[1]
    q, k, v = linear(x, p["Wq"], p["bq"]), linear(x, p["Wk"], p["bk"]), linear(x, p["Wv"], p["bv"])
    full = np.ones((T, T), bool) if mask is None else np.broadcast_to(mask, (x.shape[0], T, T))
    if causal_:
        full = full & causal(T)
    return attention(q, k, v, full)


def multi_head(x, p, n_head, causal_=True, mask=None):
    """Multi-head attention with GPT-2's fused layout, head by head. p: W_attn (3C, C), b_attn (3C,),
    W_proj (C, C), b_proj (C,). mask broadcastable to (B, T, T). -> y (B, T, C), weights (B, nh, T, T)."""
    B, T, C = x.shape
    hs = C // n_head
    outs, weights = [], []
    for h in range(n_head):
        rows = [slice(offset + h * hs, offset + (h + 1) * hs) for offset in (0, C, 2 * C)]
        head = {f"W{r}": p["W_attn"][s] for r, s in zip("qkv", rows)}
        head.update({f"b{r}": p["b_attn"][s] for r, s in zip("qkv", rows)})
        out, w = self_attention(x, head, causal_, mask)
        outs.append(out)
        weights.append(w)
    return linear(np.concatenate(outs, axis=-1), p["W_proj"], p["b_proj"]), np.stack(weights, axis=1)


def layernorm(x, w, b, eps=1e-5):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    y = (x - mean) / np.sqrt(var + eps) * w
    return y if b is None else y + b


def gelu(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def mlp(x, p):
    return linear(gelu(linear(x, p["W_fc"], p["b_fc"])), p["W_mlp_proj"], p["b_mlp_proj"])


def block(x, p, n_head, norm="pre", causal_=True, mask=None, eps=1e-5):
    """A transformer block; p holds ln_1/ln_2 (w, b), attention (as in multi_head) and MLP weights."""
    ln_1 = lambda z: layernorm(z, p["ln_1_w"], p["ln_1_b"], eps)
    ln_2 = lambda z: layernorm(z, p["ln_2_w"], p["ln_2_b"], eps)
    if norm == "pre":
        x = x + multi_head(ln_1(x), p, n_head, causal_, mask)[0]
        return x + mlp(ln_2(x), p)
    x = ln_1(x + multi_head(x, p, n_head, causal_, mask)[0])
    return ln_2(x + mlp(x, p))


def numeric_gradients(loss, arrays: dict[str, np.ndarray], eps: float = 1e-6) -> dict[str, np.ndarray]:
    """Central finite differences of the scalar loss() with respect to each array, changed in place."""
    grads = {}
    for name, a in arrays.items():
        g = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            old = a[idx]
            a[idx] = old + eps
            up = loss()
            a[idx] = old - eps
            down = loss()
            a[idx] = old
            g[idx] = (up - down) / (2 * eps)
        grads[name] = g
    return grads


def assert_gradients_match(ours: dict, numeric: dict[str, np.ndarray], rtol: float = 2e-3, atol: float = 2e-4):
    """Compare tinygrad gradients (Tensors, by name) with finite-difference ones: no NaN, then close."""
    for name, g in ours.items():
        g = g.numpy()
        assert not np.isnan(g).any(), name
        np.testing.assert_allclose(g, numeric[name], rtol=rtol, atol=atol, err_msg=name)
