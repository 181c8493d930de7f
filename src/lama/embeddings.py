# Generated from docs/embeddings.md by tools/tangle.py. Do not edit: change the chapter.
"""Token embeddings and positions: ids (B, T) -> vectors (B, T, n_embd).

Chapter 2 of the lama book, docs/embeddings.md: a learned token table, plus either the sinusoidal
positions of Vaswani et al. (2017) or the learned position table of GPT-2 (Radford et al., 2019).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from tinygrad import Tensor, dtypes, nn

def sinusoidal_positions(n_positions: int, n_embd: int, base: float = 10000.0) -> Tensor:
    """The fixed position table of Vaswani et al. (2017), section 3.5.

    Returns a float32 Tensor of shape (n_positions, n_embd) whose row p encodes position p:
        PE[p, 2i]   = sin(p * w_i)
        PE[p, 2i+1] = cos(p * w_i),   with w_i = base ** (-2i / n_embd)
    n_embd must be even: each frequency w_i fills one (sin, cos) pair of channels.
    """
    if n_positions < 1:
        raise ValueError(f"n_positions must be at least 1, got {n_positions}")
    if n_embd < 2 or n_embd % 2 != 0:
        even = max(2, n_embd + n_embd % 2)
        raise ValueError(
            "sinusoidal positions need an even n_embd (each frequency fills a sin and a cos "
            f"channel), got n_embd={n_embd}; choose an even width such as {even}")
    p = Tensor.arange(n_positions, dtype=dtypes.float32).reshape(n_positions, 1)  # (P, 1)
    two_i = Tensor.arange(0, n_embd, 2, dtype=dtypes.float32)      # (C/2,): 0, 2, 4, ...
    # (C/2,): the frequencies base**(-2i/C), from 1 down to nearly 1/base
    w = (two_i * (-math.log(base) / n_embd)).exp()
    angle = p * w                                                  # (P, C/2): an outer product
    # (P, C/2, 2) -> (P, C): row p reads sin, cos, sin, cos, ... as in the paper
    return Tensor.stack(angle.sin(), angle.cos(), dim=-1).reshape(n_positions, n_embd)

KINDS = ("learned", "sinusoidal")


@dataclass(frozen=True)
class EmbeddingConfig:
    """The sizes of the embedding layer. The defaults are GPT-2 small's."""

    vocab_size: int = 50257   # V: the number of token ids (chapter 1's tokenizer has 50257)
    n_positions: int = 1024   # the longest sequence the model accepts
    n_embd: int = 768         # C: the width of every vector in the model
    kind: str = "learned"     # "learned" (GPT-2) or "sinusoidal" (Vaswani et al., 2017)

    def __post_init__(self):
        for name in ("vocab_size", "n_positions", "n_embd"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"EmbeddingConfig.{name} must be a positive int, "
                                 f"got {value!r} ({type(value).__name__})")
        if self.kind not in KINDS:
            raise ValueError(f"EmbeddingConfig.kind must be one of {KINDS}, got {self.kind!r}")
        if self.kind == "sinusoidal" and self.n_embd % 2 != 0:
            raise ValueError(
                "kind='sinusoidal' needs an even n_embd (each frequency fills a sin and a cos "
                f"channel), got n_embd={self.n_embd}; use {self.n_embd + 1}, or kind='learned'")

class TokenPositionEmbedding:
    """The first layer of the model: token ids (B, T) -> vectors (B, T, n_embd).

    The vector of token t of row b is  wte[ids[b, t]] * token_scale + position_table[start_pos + t].
    kind="learned":    position_table is wpe.weight, a learned (n_positions, n_embd) table (GPT-2).
    kind="sinusoidal": position_table is pe, the fixed sinusoidal_positions(n_positions, n_embd).
    """

    def __init__(self, config: EmbeddingConfig):
        self.config = config
        V, P, C = config.vocab_size, config.n_positions, config.n_embd
        self.wte = nn.Embedding(V, C)                                     # (V, C), learned
        if config.kind == "learned":
            # GPT-2's initialization: small random rows, positions half the size of tokens
            self.wte.weight = Tensor.normal(V, C, std=0.02)
            self.wpe = nn.Embedding(P, C)                                 # (P, C), learned
            self.wpe.weight = Tensor.normal(P, C, std=0.01)
            self.token_scale = 1.0
        else:
            # Vaswani et al. multiply tokens by sqrt(C); drawn with std 1/sqrt(C), they end up with
            # std 1 and length ~sqrt(C), next to sinusoidal rows of length sqrt(C/2)
            self.wte.weight = Tensor.normal(V, C, std=C ** -0.5)
            # (P, C), computed once and never trained
            self.pe = sinusoidal_positions(P, C).realize().is_param_(False)
            self.token_scale = math.sqrt(C)

    def position_table(self) -> Tensor:
        """All position vectors, (n_positions, n_embd): learned or fixed, depending on the kind."""
        return self.wpe.weight if self.config.kind == "learned" else self.pe

    def __call__(self, ids: Tensor, start_pos: int = 0) -> Tensor:
        """ids: (B, T) integer token ids -> (B, T, n_embd) float32 vectors.

        start_pos is the position of the first token: 0 for a whole sequence, larger when a
        generator feeds tokens after start_pos tokens it has already processed.
        """
        if ids.ndim != 2:
            raise ValueError(f"ids must have shape (B, T), got {ids.shape}; "
                             "for a single sequence use ids.reshape(1, -1)")
        T, P = ids.shape[1], self.config.n_positions
        if start_pos < 0:
            raise ValueError(f"start_pos must be 0 or more, got {start_pos}")
        if start_pos + T > P:
            raise ValueError(
                f"{T} tokens from start_pos={start_pos} need positions up to "
                f"{start_pos + T - 1}, but this model has n_positions={P} (positions "
                f"0..{P - 1}): crop the input, or build a model with a larger n_positions")
        tok = self.wte(ids) * self.token_scale                  # (B, T, C)
        pos = self.position_table()[start_pos:start_pos + T]    # (T, C): rows are positions
        return tok + pos                                        # (B, T, C): pos broadcast over B
