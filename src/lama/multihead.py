# Generated from docs/multi-head.md by tools/tangle.py. Do not edit: change the chapter, then run tools/tangle.py.
"""Multi-head attention: n_head heads side by side, one fused projection for the queries, keys and
values of all heads, and an output projection that mixes the heads."""
from tinygrad import Tensor, nn

from lama.self_attention import causal_mask, scaled_dot_product_attention

class MultiHeadAttention:
    """n_head heads of size n_embd // n_head, computed together. The parameter names follow GPT-2
    (c_attn, c_proj), so that its checkpoints load by name."""

    def __init__(self, n_embd: int, n_head: int, bias: bool = True, causal: bool = True,
                 dropout: float = 0.0):
        if n_embd % n_head != 0:
            raise ValueError(f"n_embd={n_embd} is not divisible by n_head={n_head}: "
                             "every head gets n_embd // n_head channels")
        self.c_attn = nn.Linear(n_embd, 3 * n_embd, bias)  # queries, keys, values of all heads at once
        self.c_proj = nn.Linear(n_embd, n_embd, bias)      # W_o: mixes the heads' outputs
        self.n_embd, self.n_head, self.head_size = n_embd, n_head, n_embd // n_head
        self.causal, self.dropout = causal, dropout

    def split_heads(self, x: Tensor) -> Tensor:
        """(B, T, n_embd) -> (B, n_head, T, head_size); head h gets channels h*head_size onwards."""
        B, T, _ = x.shape
        return x.reshape(B, T, self.n_head, self.head_size).transpose(1, 2)

    def merge_heads(self, y: Tensor) -> Tensor:
        """(B, n_head, T, head_size) -> (B, T, n_embd): the heads side by side (the concatenation)."""
        B, _, T, _ = y.shape
        return y.transpose(1, 2).reshape(B, T, self.n_embd)

    def __call__(self, x: Tensor, mask: Tensor | None = None, return_weights: bool = False):
        """x (B, T, n_embd), mask bool broadcastable to (B, T, T), the same for every head (or to
        (B, n_head, T, T)) -> (B, T, n_embd); with return_weights, (y, weights (B, n_head, T, T))."""
        q, k, v = self.c_attn(x).split(self.n_embd, dim=-1)  # (B, T, n_embd) each
        # contiguous: each head's channels stored together, so that the matmuls read them in order
        q, k, v = (self.split_heads(t).contiguous() for t in (q, k, v))  # (B, nh, T, hs) each
        if mask is not None and mask.ndim == 3:
            mask = mask.unsqueeze(1)  # (B, 1, T, T): one table for all heads
        if self.causal:
            causal = causal_mask(q.shape[-2], k.shape[-2])  # (T_q, T_k)
            mask = causal if mask is None else mask & causal
        y, weights = scaled_dot_product_attention(q, k, v, mask, self.dropout)  # (B, nh, T, hs)
        y = self.c_proj(self.merge_heads(y)).dropout(self.dropout)  # (B, T, n_embd)
        return (y, weights) if return_weights else y
