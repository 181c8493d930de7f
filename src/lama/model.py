# Generated from docs/gpt2.md by tools/tangle.py. Do not edit: change the chapter, then run tools/tangle.py.
"""GPT-2 (Radford et al., 2019): token and position embeddings, a stack of pre-LN transformer
blocks, a final LayerNorm and an output layer tied to the token embedding."""
from __future__ import annotations

import math
from dataclasses import dataclass, fields

from tinygrad import Tensor, nn
from tinygrad.nn.state import get_parameters

from lama.block import Block, BlockConfig, LayerNorm
from lama.embeddings import EmbeddingConfig, TokenPositionEmbedding
from lama.multihead import MultiHeadAttention
from lama.self_attention import causal_mask, scaled_dot_product_attention

@dataclass(frozen=True)
class GPTConfig:
    """The sizes of a GPT. The defaults are GPT-2 small's (124M parameters)."""
    vocab_size: int = 50257          # V: token ids 0..V-1
    n_positions: int = 1024          # P: the context window, the longest sequence the model reads
    n_embd: int = 768                # C: the width of the residual stream
    n_layer: int = 12                # the number of blocks
    n_head: int = 12                 # attention heads per block; head size C // n_head
    layer_norm_epsilon: float = 1e-5
    bias: bool = True                # biases in the Linear layers and LayerNorms (GPT-2 has them)
    dropout: float = 0.0             # used in training mode only; GPT-2 trained with 0.1

    def __post_init__(self):
        for name in ("vocab_size", "n_positions", "n_embd", "n_layer", "n_head"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"GPTConfig.{name} must be a positive int, got {value!r}")
        if self.n_embd % self.n_head != 0:
            raise ValueError(f"GPTConfig: n_embd={self.n_embd} is not divisible by n_head={self.n_head}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"GPTConfig.dropout must be in [0, 1), got {self.dropout}")
        if not self.layer_norm_epsilon > 0:
            raise ValueError(f"GPTConfig.layer_norm_epsilon must be positive, got {self.layer_norm_epsilon}")

    @property
    def head_size(self) -> int:
        return self.n_embd // self.n_head

    def block_config(self) -> BlockConfig:
        """The configuration of each of the n_layer blocks: causal, pre-LN, as in GPT-2."""
        return BlockConfig(n_embd=self.n_embd, n_head=self.n_head, dropout=self.dropout, bias=self.bias,
                           causal=True, norm="pre", eps=self.layer_norm_epsilon)

    @classmethod
    def from_hf(cls, hf: dict) -> GPTConfig:
        """Read a Hugging Face GPT2Config dictionary (the contents of config.json)."""
        act = hf.get("activation_function", "gelu_new")
        if act not in ("gelu_new", "gelu_pytorch_tanh"):
            raise ValueError(f"activation_function {act!r} is not GPT-2's tanh GELU ('gelu_new')")
        names = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in hf.items() if k in names and k not in ("bias", "dropout")}
        if "n_positions" not in kwargs and "n_ctx" in hf:
            kwargs["n_positions"] = hf["n_ctx"]
        return cls(**kwargs)


# The four sizes OpenAI released; every one has heads of 64 channels.
PRESETS = {
    "gpt2": GPTConfig(),                                            # 124M parameters
    "gpt2-medium": GPTConfig(n_embd=1024, n_layer=24, n_head=16),   # 355M
    "gpt2-large": GPTConfig(n_embd=1280, n_layer=36, n_head=20),    # 774M
    "gpt2-xl": GPTConfig(n_embd=1600, n_layer=48, n_head=25),       # 1558M
}

class GPT:
    """GPT-2. ids (B, T) -> logits (B, T, vocab_size)."""

    def __init__(self, config: GPTConfig):
        self.config = config
        C = config.n_embd
        emb = TokenPositionEmbedding(EmbeddingConfig(config.vocab_size, config.n_positions, C, "learned"))
        self.wte, self.wpe = emb.wte, emb.wpe                  # (V, C) tokens, (P, C) positions
        self.h = [Block(config.block_config()) for _ in range(config.n_layer)]
        self.ln_f = LayerNorm(C, config.layer_norm_epsilon, config.bias)
        for block in self.h:                                   # GPT-2's initialisation
            for layer in (block.attn.c_attn, block.attn.c_proj, block.mlp.c_fc, block.mlp.c_proj):
                writes_residual = layer is block.attn.c_proj or layer is block.mlp.c_proj
                std = 0.02 / math.sqrt(2 * config.n_layer) if writes_residual else 0.02
                layer.weight = Tensor.normal(*layer.weight.shape, std=std)
                if layer.bias is not None:
                    layer.bias = Tensor.zeros(*layer.bias.shape)
        # Compute the random numbers now. A lazy tensor is a recipe, not numbers: left unrealized, the
        # weights would be drawn again inside every kernel that reads them.
        Tensor.realize(*get_parameters(self))

    def __call__(self, ids: Tensor, start_pos=0, cache: list[Tensor] | None = None,
                 at: int | None = None, return_weights: bool = False):
        """ids (B, T) int -> logits (B, T, V); with at (an index into T, -1 for the last), only the
        logits of that position, (B, 1, V), which saves the output layer's work for the others.
        With return_weights (no cache), (logits, weights): a list of n_layer (B, n_head, T, T).

        start_pos: the position of ids[:, 0]; more than 0 only with a cache that holds the keys and
        values of the start_pos tokens before (see new_cache). An int, or a bound tinygrad Variable
        when T == 1 (one compiled decode step for every position; see the generation chapter)."""
        B, T = ids.shape
        if isinstance(start_pos, int):
            if start_pos < 0 or start_pos + T > self.config.n_positions:
                raise ValueError(f"{T} tokens from position {start_pos} do not fit in the context window "
                                 f"of {self.config.n_positions} positions")
            if start_pos > 0 and cache is None:
                raise ValueError("start_pos > 0 needs the cache of the tokens before it")
        x = self.wte(ids) + self.wpe.weight[start_pos:start_pos + T]      # (B, T, C)
        x = x.dropout(self.config.dropout)
        weights = []
        for i, block in enumerate(self.h):
            if return_weights:
                x, w = block(x, return_weights=True)                      # w (B, n_head, T, T)
                weights.append(w)
            else:
                x = block(x) if cache is None else cached_block(block, x, cache[i], start_pos)
        if at is not None:
            at = at + T if isinstance(at, int) and at < 0 else at         # an int or a bound Variable
            x = x[:, at:at + 1]                                            # (B, 1, C)
        logits = self.output(self.ln_f(x).contiguous())                    # (B, T, V)
        return (logits, weights) if return_weights else logits

    def output(self, x: Tensor) -> Tensor:
        """The tied output layer: x (B, T, C) -> logits (B, T, V) = x @ wte.weight.T. For a large
        vocabulary the rows go in two products, the first 256 * (V // 256) and the rest, which tinygrad
        compiles to faster kernels on a CPU than one product over an odd number of rows."""
        W, V = self.wte.weight, self.config.vocab_size               # (V, C)
        cut = V // 256 * 256
        if V < 4096 or cut == V:
            return x @ W.T
        return (x @ W[:cut].T).contiguous().cat((x @ W[cut:].T).contiguous(), dim=-1)

    def new_cache(self, batch: int = 1) -> list[Tensor]:
        """An empty key/value cache: per block, a zero (2, batch, n_head, n_positions, head_size) tensor."""
        c = self.config
        return [Tensor.zeros(2, batch, c.n_head, c.n_positions, c.head_size).contiguous().realize()
                for _ in self.h]

    def num_params(self) -> int:
        return sum(p.numel() for p in get_parameters(self))

def plain_linear(layer: nn.Linear, x: Tensor) -> Tensor:
    return layer(x)


def cached_attention(attn: MultiHeadAttention, x: Tensor, cache: Tensor, start_pos, linear=plain_linear) -> Tensor:
    """Multi-head attention of the T new positions in x (B, T, C), at positions start_pos.., to
    themselves and the start_pos positions before them, whose keys and values are in cache
    (2, B, n_head, n_positions, head_size). Writes the new keys and values into cache.
    linear(layer, x) applies a Linear layer (default: layer(x))."""
    B, T, C = x.shape
    q, k, v = linear(attn.c_attn, x).contiguous().split(C, dim=-1)      # (B, T, C) each
    q, k, v = attn.split_heads(q), attn.split_heads(k), attn.split_heads(v)  # (B, nh, T, hs)
    cache[:, :, :, start_pos:start_pos + T, :].assign(Tensor.stack(k, v)).realize()
    keys = cache[0, :, :, :start_pos + T, :]                             # (B, nh, start_pos+T, hs)
    values = cache[1, :, :, :start_pos + T, :]
    mask = causal_mask(T, start_pos + T) if T > 1 else None              # (T, start_pos+T)
    y, _ = scaled_dot_product_attention(q, keys, values, mask)           # (B, nh, T, hs)
    return linear(attn.c_proj, attn.merge_heads(y))                      # (B, T, C)


def cached_block(block: Block, x: Tensor, cache: Tensor, start_pos) -> Tensor:
    """A pre-LN Block on the new positions x (B, T, C), with cached_attention. -> (B, T, C)
    One new position (T == 1, a decode step) takes its Linear layers through one_position_linear."""
    linear = one_position_linear if x.shape[1] == 1 else plain_linear
    x = (x + cached_attention(block.attn, block.ln_1(x).contiguous(), cache, start_pos, linear)).contiguous()
    mlp = block.mlp
    h = mlp.activation(linear(mlp.c_fc, block.ln_2(x).contiguous())).contiguous()   # (B, T, 4C)
    return (x + linear(mlp.c_proj, h)).contiguous()


def one_position_linear(layer: nn.Linear, x: Tensor, pieces: int = 4) -> Tensor:
    """layer(x) for x (B, 1, n_in) -> (B, 1, n_out), as a sum over `pieces` slices of the inputs
    of the sums within each slice: the same numbers up to rounding, and faster kernels on a CPU."""
    n_out, n_in = layer.weight.shape
    if n_in % pieces:
        return layer(x)
    w = layer.weight.reshape(n_out, pieces, n_in // pieces)                       # (n_out, p, n_in/p)
    partial = (x.reshape(x.shape[0], 1, 1, pieces, n_in // pieces) * w).sum(-1)  # (B, 1, n_out, p)
    y = partial.contiguous().sum(-1)                                              # (B, 1, n_out)
    return y if layer.bias is None else y + layer.bias
