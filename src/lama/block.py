# Generated from docs/block.md by tools/tangle.py. Do not edit: change the chapter.
"""The transformer block: LayerNorm, the GELU MLP, residual connections, dropout, and the pre-LN
(GPT-2) and post-LN (original transformer) arrangements of them."""
import math
from dataclasses import dataclass

from tinygrad import Tensor, nn

from lama.multihead import MultiHeadAttention

class LayerNorm:
    """Normalise each position's vector to mean 0 and variance 1, then scale by `weight` and shift
    by `bias` (both per channel). x (..., n_embd) -> (..., n_embd)."""

    def __init__(self, n_embd: int, eps: float = 1e-5, bias: bool = True):
        self.weight = Tensor.ones(n_embd)                      # gamma: starts as the identity scale
        self.bias = Tensor.zeros(n_embd) if bias else None     # beta
        self.eps = eps

    def __call__(self, x: Tensor) -> Tensor:
        mean = x.mean(-1, keepdim=True)                        # (..., 1)
        var = ((x - mean) ** 2).mean(-1, keepdim=True)         # biased: divide by n_embd
        x = (x - mean) / (var + self.eps).sqrt() * self.weight
        return x if self.bias is None else x + self.bias

def gelu(x: Tensor) -> Tensor:
    """GELU, x * Phi(x), in the tanh approximation that GPT-2 uses. Elementwise, any shape."""
    return 0.5 * x * (1.0 + (math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)).tanh())

# The MLP's nonlinearity, by name: GPT-2's GELU, or the original transformer's ReLU.
ACTIVATIONS = {"gelu": gelu, "relu": Tensor.relu}


class MLP:
    """Position-wise: widen to 4 * n_embd, GELU (or ReLU), project back.
    x (B, T, n_embd) -> (B, T, n_embd)."""

    def __init__(self, n_embd: int, bias: bool = True, dropout: float = 0.0,
                 activation: str = "gelu"):
        self.c_fc = nn.Linear(n_embd, 4 * n_embd, bias)
        self.c_proj = nn.Linear(4 * n_embd, n_embd, bias)
        self.dropout, self.activation = dropout, ACTIVATIONS[activation]

    def __call__(self, x: Tensor) -> Tensor:
        h = self.activation(self.c_fc(x)).contiguous()        # (B, T, 4C); stored, see below
        return self.c_proj(h).dropout(self.dropout)           # (B, T, C)

def training(on: bool = True):
    """tinygrad's training switch as a context manager: inside `with training():` dropout is
    active and the optimisers step; `with training(False):` turns it off again, e.g. to evaluate
    inside a training loop."""
    return Tensor.train(on)

@dataclass
class BlockConfig:
    """The sizes and switches of a transformer block (defaults: GPT-2 small)."""
    n_embd: int = 768       # channels per position, C
    n_head: int = 12        # attention heads; n_embd must be divisible by n_head
    dropout: float = 0.0    # on attention weights and on what each sub-block adds (training only)
    bias: bool = True       # biases in the Linear layers and the LayerNorms
    causal: bool = True     # a position attends only to itself and earlier positions
    norm: str = "pre"       # "pre": x + f(LN(x)) as in GPT-2; "post": LN(x + f(x)) as in Vaswani
                            # et al.; "none": x + f(x), no LayerNorm at all
    eps: float = 1e-5       # LayerNorm epsilon (GPT-2's layer_norm_epsilon)
    activation: str = "gelu"  # the MLP's nonlinearity: "gelu" (GPT-2) or "relu"
    residual: bool = True   # False: each sub-block's output replaces x instead of being added to it
    score: str = "scaled_dot"  # the heads' similarity function (see MultiHeadAttention's SCORES)

    def __post_init__(self):
        if self.norm not in ("pre", "post", "none"):
            raise ValueError(f"norm must be 'pre', 'post' or 'none', got {self.norm!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, "
                             f"got {self.activation!r}")
        if self.n_embd <= 0 or self.n_head <= 0 or self.n_embd % self.n_head != 0:
            raise ValueError(f"n_embd={self.n_embd} must be a positive multiple of "
                             f"n_head={self.n_head}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.eps <= 0:
            raise ValueError(f"eps must be positive, got {self.eps}")


class Block:
    """One transformer block: attention and an MLP, each with a residual connection and a LayerNorm,
    arranged pre-LN or post-LN (or, for experiments, without LayerNorm or without the residual
    connections). x (B, T, n_embd) -> (B, T, n_embd)."""

    def __init__(self, config: BlockConfig):
        C = config.n_embd
        normed = config.norm != "none"
        self.ln_1 = LayerNorm(C, config.eps, config.bias) if normed else None
        self.attn = MultiHeadAttention(C, config.n_head, config.bias, config.causal, config.dropout,
                                       config.score)
        self.ln_2 = LayerNorm(C, config.eps, config.bias) if normed else None
        self.mlp = MLP(C, config.bias, config.dropout, config.activation)
        self.norm, self.residual = config.norm, config.residual

    def add(self, x: Tensor, fx: Tensor) -> Tensor:
        """The residual connection x + f(x); without it, f(x) alone."""
        return x + fx if self.residual else fx

    def __call__(self, x: Tensor, mask: Tensor | None = None, return_weights: bool = False):
        """x (B, T, n_embd), mask as for MultiHeadAttention -> (B, T, n_embd); with return_weights,
        (x, weights (B, nh, T, T))."""
        if self.norm == "post":
            a, weights = self.attn(x, mask, return_weights=True)
            x = self.ln_1(self.add(x, a))     # normalise the sum
            x = self.ln_2(self.add(x, self.mlp(x)))
        else:                                 # "pre", or "none": the same without LayerNorm
            same = lambda t: t  # noqa: E731
            ln_1, ln_2 = (self.ln_1, self.ln_2) if self.ln_1 is not None else (same, same)
            a, weights = self.attn(ln_1(x), mask, return_weights=True)
            x = self.add(x, a)                # the residual stream itself is never normalised
            x = self.add(x, self.mlp(ln_2(x)))
        return (x, weights) if return_weights else x
