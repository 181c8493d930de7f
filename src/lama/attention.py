# Generated from docs/attention.md by tools/tangle.py. Do not edit: change the chapter.
"""Attention as a lookup: score functions, the softmax over keys, and the weighted sum of values.

Shapes: queries q (..., T_q, d), keys k (..., T_k, d), values v (..., T_k, d_v). The leading axes
"..." (batch, heads) are shared by all three. Every score function returns (..., T_q, T_k).
"""
import math

from tinygrad import Tensor

def dot_product_score(q: Tensor, k: Tensor) -> Tensor:
    """s[..., i, j] = q_i . k_j.   q (..., T_q, d), k (..., T_k, d) -> (..., T_q, T_k)."""
    return q @ k.transpose(-2, -1)

def scaled_dot_product_score(q: Tensor, k: Tensor) -> Tensor:
    """s[..., i, j] = q_i . k_j / sqrt(d).   q (..., T_q, d), k (..., T_k, d) -> (..., T_q, T_k)."""
    # Divide by sqrt(d) so that the scores keep unit variance whatever d is (see the chapter's end).
    return q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])

def general_score(q: Tensor, k: Tensor, W: Tensor) -> Tensor:
    """s[..., i, j] = q_i^T W k_j.
    q (..., T_q, d_q), k (..., T_k, d_k), W (d_q, d_k) -> (..., T_q, T_k)."""
    return q @ W @ k.transpose(-2, -1)

def bahdanau_score(q: Tensor, k: Tensor, W_q: Tensor, W_k: Tensor, v_a: Tensor) -> Tensor:
    """s[..., i, j] = v_a . tanh(q_i W_q + k_j W_k), additive attention.   q (..., T_q, d_q),
    k (..., T_k, d_k), W_q (d_q, d_a), W_k (d_k, d_a), v_a (d_a,) -> (..., T_q, T_k)."""
    # Every (query, key) pair gets its own hidden vector; tanh mixes the two before v_a reduces it.
    hidden = ((q @ W_q).unsqueeze(-2) + (k @ W_k).unsqueeze(-3)).tanh()  # (..., T_q, T_k, d_a)
    return hidden @ v_a  # (..., T_q, T_k)

def additive_score(q: Tensor, k: Tensor, w_q: Tensor, w_k: Tensor) -> Tensor:
    """s[..., i, j] = w_q . q_i + w_k . k_j, additive attention without its tanh.
    q (..., T_q, d_q), k (..., T_k, d_k), w_q (d_q,), w_k (d_k,) -> (..., T_q, T_k).
    The query's term is constant along each row, so it cancels in the softmax."""
    return (q @ w_q).unsqueeze(-1) + (k @ w_k).unsqueeze(-2)  # (..., T_q, 1) + (..., 1, T_k)

def attend(scores: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
    """Softmax over the keys, then the weighted sum of the values.
    scores (..., T_q, T_k), v (..., T_k, d_v) -> out (..., T_q, d_v), weights (..., T_q, T_k)."""
    weights = scores.softmax(-1)  # each row is positive and sums to 1
    return weights @ v, weights

def entropy(weights: Tensor) -> Tensor:
    """Entropy in nats of each row of attention weights: (..., T_q, T_k) -> (..., T_q).
    log(T_k) for uniform weights, 0 when one key takes all the weight."""
    # 0 * log 0 is 0 in the limit; `where` keeps the NaN of 0 * -inf out of the sum.
    return -(weights > 0).where(weights * weights.log(), 0.0).sum(-1)
