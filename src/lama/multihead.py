# Generated from docs/multi-head.md by tools/tangle.py. Do not edit: change the chapter.
"""Multi-head attention: n_head heads side by side, one fused projection for the queries, keys and
values of all heads, and an output projection that mixes the heads."""
import numpy as np
from tinygrad import Tensor, nn

from lama.attention import bahdanau_score, dot_product_score, general_score
from lama.self_attention import causal_mask, masked_softmax, scaled_dot_product_attention

# The similarity functions of the attention chapter that a head can use; "scaled_dot" is the
# transformer's, and the default.
SCORES = ("dot", "scaled_dot", "general", "additive")

class MultiHeadAttention:
    """n_head heads of size n_embd // n_head, computed together. The parameter names follow GPT-2
    (c_attn, c_proj), so that its checkpoints load by name."""

    def __init__(self, n_embd: int, n_head: int, bias: bool = True, causal: bool = True,
                 dropout: float = 0.0, score: str = "scaled_dot"):
        if n_embd % n_head != 0:
            raise ValueError(f"n_embd={n_embd} is not divisible by n_head={n_head}: "
                             "every head gets n_embd // n_head channels")
        if score not in SCORES:
            raise ValueError(f"score must be one of {SCORES}, got {score!r}")
        self.c_attn = nn.Linear(n_embd, 3 * n_embd, bias)  # queries, keys, values of all heads
        self.c_proj = nn.Linear(n_embd, n_embd, bias)      # W_o: mixes the heads' outputs
        self.n_embd, self.n_head, self.head_size = n_embd, n_head, n_embd // n_head
        self.causal, self.dropout, self.score = causal, dropout, score
        hs = self.head_size
        if score == "general":   # one (hs, hs) matrix per head; starts as the scaled dot product
            # (made in numpy: a Tensor.eye-based tensor is folded to a constant and gets no .grad)
            eye = np.eye(hs, dtype=np.float32) * np.float32(hs ** -0.5)
            self.w_score = Tensor(np.tile(eye, (n_head, 1, 1)))          # (nh, hs, hs)
        if score == "additive":  # v_a . tanh(q W_q + k W_k) per head, hidden size d_a = hs
            self.W_q = Tensor.normal(n_head, hs, hs, std=hs ** -0.5)     # (nh, hs, d_a)
            self.W_k = Tensor.normal(n_head, hs, hs, std=hs ** -0.5)     # (nh, hs, d_a)
            self.v_a = Tensor.normal(n_head, hs, std=hs ** -0.5)         # (nh, d_a)

    def split_heads(self, x: Tensor) -> Tensor:
        """(B, T, n_embd) -> (B, nh, T, hs); head h gets channels h * hs to (h + 1) * hs."""
        B, T, _ = x.shape
        return x.reshape(B, T, self.n_head, self.head_size).transpose(1, 2)

    def merge_heads(self, y: Tensor) -> Tensor:
        """(B, nh, T, hs) -> (B, T, n_embd): the heads side by side (concatenated)."""
        B, _, T, _ = y.shape
        return y.transpose(1, 2).reshape(B, T, self.n_embd)

    def qkv(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Step 1. x (B, T, n_embd) -> q, k, v, each (B, nh, T, hs)."""
        q, k, v = self.c_attn(x).split(self.n_embd, dim=-1)  # (B, T, n_embd) each
        # contiguous: each head's channels stored together, so that the matmuls read them in order
        return tuple(self.split_heads(t).contiguous() for t in (q, k, v))

    def attend(self, q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None):
        """Step 2. q (B, nh, T_q, hs) attends over k, v (B, nh, T_k, hs); mask bool broadcastable
        to (B, nh, T_q, T_k), applied as given -> y (B, nh, T_q, hs), weights (B, nh, T_q, T_k)."""
        if self.score == "scaled_dot":
            return scaled_dot_product_attention(q, k, v, mask, self.dropout)
        weights = masked_softmax(self.scores(q, k), mask).contiguous()  # (B, nh, T_q, T_k)
        return weights.dropout(self.dropout) @ v, weights

    def project(self, y: Tensor) -> Tensor:
        """Step 3. y (B, nh, T, hs) -> (B, T, n_embd): the heads side by side, mixed by c_proj."""
        return self.c_proj(self.merge_heads(y)).dropout(self.dropout)

    def __call__(self, x: Tensor, mask: Tensor | None = None, return_weights: bool = False):
        """x (B, T, n_embd), mask bool broadcastable to (B, T, T), the same for every head (or to
        (B, nh, T, T)) -> (B, T, n_embd); with return_weights, (y, weights), the weights
        (B, nh, T, T)."""
        q, k, v = self.qkv(x)                               # (B, nh, T, hs) each
        if mask is not None and mask.ndim == 3:
            mask = mask.unsqueeze(1)  # (B, 1, T, T): one table for all heads
        if self.causal:
            causal = causal_mask(q.shape[-2], k.shape[-2])  # (T_q, T_k)
            mask = causal if mask is None else mask & causal
        y, weights = self.attend(q, k, v, mask)             # (B, nh, T, hs), (B, nh, T, T)
        y = self.project(y)                                 # (B, T, n_embd)
        return (y, weights) if return_weights else y

    def scores(self, q: Tensor, k: Tensor) -> Tensor:
        """The other similarity functions: q, k (B, nh, T, hs) -> scores (B, nh, T_q, T_k)."""
        if self.score == "dot":
            return dot_product_score(q, k)
        if self.score == "general":
            return general_score(q, k, self.w_score)  # (nh, hs, hs) broadcasts over the batch
        heads = [bahdanau_score(q[:, h], k[:, h], self.W_q[h], self.W_k[h], self.v_a[h])
                 for h in range(self.n_head)]         # (B, T_q, T_k) each
        return Tensor.stack(*heads, dim=1)             # "additive": each head has its own weights
