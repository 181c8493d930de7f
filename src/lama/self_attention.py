# Generated from docs/self-attention.md by tools/tangle.py. Do not edit: change the chapter.
"""Self-attention: one head, with causal and padding masks.

Masks are bool tensors, True where a query may attend a key, broadcastable to the scores
(..., T_q, T_k). A query with no key it may attend gets all-zero weights and a zero output.
"""
import math

from tinygrad import Tensor, dtypes, nn

from lama.attention import scaled_dot_product_score

def causal_mask(T_q: int, T_k: int | None = None) -> Tensor:
    """(T_q, T_k) bool: query i may attend key j when j <= i + (T_k - T_q).

    The queries are the last T_q of T_k positions; T_k defaults to T_q (the lower triangle)."""
    T_k = T_q if T_k is None else T_k
    if T_k < T_q:
        raise ValueError(f"causal_mask: {T_q} queries cannot be the last positions "
                         f"of only {T_k} keys")
    return Tensor.ones(T_q, T_k, dtype=dtypes.bool).tril(T_k - T_q)

def padding_mask(valid: Tensor) -> Tensor:
    """valid (B, T_k) bool, True for real tokens -> (B, 1, T_k): no query may attend a padded
    key."""
    if valid.dtype != dtypes.bool:
        raise TypeError(f"padding_mask: valid must be bool (True for real tokens), "
                        f"got {valid.dtype}")
    return valid.unsqueeze(-2)

def masked_softmax(scores: Tensor, mask: Tensor | None = None) -> Tensor:
    """Softmax over the last axis (the keys), where only the keys with mask True take part.

    scores (..., T_q, T_k), mask bool broadcastable to it -> weights (..., T_q, T_k). A row with no
    key allowed gets all-zero weights (not NaN)."""
    if mask is None:
        return scores.softmax(-1)
    if mask.dtype != dtypes.bool:
        raise TypeError(f"mask must be bool (True where a query may attend a key), "
                        f"got {mask.dtype}")
    scores = mask.where(scores, -math.inf)  # exp(-inf) = 0: masked keys get no weight
    # Subtract each row's maximum so that exp cannot overflow; a softmax does not change when a row
    # is shifted, so the maximum needs no gradient. An empty row's maximum is -inf: shift it by 0.
    top = scores.max(-1, keepdim=True).detach()
    top = (top == -math.inf).where(0.0, top)
    e = (scores - top).exp()
    total = e.sum(-1, keepdim=True)  # >= 1 when a key is allowed, exactly 0 for an empty row
    return e / (total == 0).where(1.0, total)

def scaled_dot_product_attention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None,
                                 dropout: float = 0.0) -> tuple[Tensor, Tensor]:
    """softmax(q k^T / sqrt(d), masked) v.

    q (..., T_q, d), k (..., T_k, d), v (..., T_k, d_v), mask bool broadcastable to (..., T_q, T_k)
    -> out (..., T_q, d_v), weights (..., T_q, T_k). A query with no allowed key gets out = 0.
    dropout applies to the weights in training mode only; the returned weights are before
    dropout."""
    weights = masked_softmax(scaled_dot_product_score(q, k), mask).contiguous()  # stored once
    return weights.dropout(dropout) @ v, weights

class SelfAttention:
    """One attention head: every position of x asks (query), offers (key) and hands over (value)."""

    def __init__(self, n_embd: int, head_size: int, bias: bool = True, causal: bool = True,
                 dropout: float = 0.0):
        self.query = nn.Linear(n_embd, head_size, bias)  # W_q: what each position looks for
        self.key = nn.Linear(n_embd, head_size, bias)    # W_k: what it can be found by
        self.value = nn.Linear(n_embd, head_size, bias)  # W_v: what it hands over
        self.causal, self.dropout = causal, dropout

    def __call__(self, x: Tensor, mask: Tensor | None = None, return_weights: bool = False):
        """x (B, T, n_embd), mask bool broadcastable to (B, T, T) -> out (B, T, head_size);
        with return_weights, (out, weights) with weights (B, T, T)."""
        q, k, v = self.query(x), self.key(x), self.value(x)  # (B, T, head_size) each
        if self.causal:
            causal = causal_mask(q.shape[-2], k.shape[-2])   # (T, T)
            mask = causal if mask is None else mask & causal
        out, weights = scaled_dot_product_attention(q, k, v, mask, self.dropout)
        return (out, weights) if return_weights else out
