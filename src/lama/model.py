# Generated from docs/gpt2.md by tools/tangle.py. Do not edit: change the chapter.
"""GPT-2 (Radford et al., 2019): token and position embeddings, a stack of pre-LN transformer
blocks, a final LayerNorm and an output layer tied to the token embedding."""
from __future__ import annotations

import math
from dataclasses import dataclass, fields

from tinygrad import Tensor
from tinygrad.nn.state import get_parameters

from lama.block import Block, BlockConfig, LayerNorm
from lama.embeddings import EmbeddingConfig, TokenPositionEmbedding

@dataclass(frozen=True)
class GPTConfig:
    """The sizes of a GPT. The defaults are GPT-2 small's (124M parameters)."""
    vocab_size: int = 50257          # V: token ids 0..V-1
    n_positions: int = 1024          # P: the context window, the longest sequence the model reads
    n_embd: int = 768                # C: the width of the residual stream
    n_layer: int = 12                # L: the number of blocks
    n_head: int = 12                 # H: attention heads per block; head size C // n_head
    eps: float = 1e-5                # LayerNorm's epsilon (layer_norm_epsilon in config.json)
    bias: bool = True                # biases in the Linear layers and LayerNorms (GPT-2 has them)
    dropout: float = 0.0             # training mode only; Hugging Face's GPT2Config has 0.1

    def __post_init__(self):
        for name in ("vocab_size", "n_positions", "n_embd", "n_layer", "n_head"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"GPTConfig.{name} must be a positive int, got {value!r}")
        if self.n_embd % self.n_head != 0:
            raise ValueError(f"GPTConfig: n_embd={self.n_embd} is not divisible by "
                             f"n_head={self.n_head}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"GPTConfig.dropout must be in [0, 1), got {self.dropout}")
        if not self.eps > 0:
            raise ValueError(f"GPTConfig.eps must be positive, got {self.eps}")

    @property
    def head_size(self) -> int:
        return self.n_embd // self.n_head

    def block_config(self) -> BlockConfig:
        """The configuration of each of the n_layer blocks: causal, pre-LN, as in GPT-2."""
        return BlockConfig(n_embd=self.n_embd, n_head=self.n_head, dropout=self.dropout,
                           bias=self.bias, causal=True, norm="pre", eps=self.eps)

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
        if "layer_norm_epsilon" in hf:
            kwargs["eps"] = hf["layer_norm_epsilon"]
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

    def __init__(self, config: GPTConfig, init: bool = True):
        self.config = config
        C = config.n_embd
        embedding = EmbeddingConfig(config.vocab_size, config.n_positions, C, "learned")
        emb = TokenPositionEmbedding(embedding)
        self.wte, self.wpe = emb.wte, emb.wpe                  # (V, C) tokens, (P, C) positions
        self.h = [Block(config.block_config()) for _ in range(config.n_layer)]
        self.ln_f = LayerNorm(C, config.eps, config.bias)
        if not init:            # weights will be loaded: placeholders, no random numbers drawn
            for p in get_parameters(self):
                p.replace(Tensor.empty(*p.shape, dtype=p.dtype))
            return
        for block in self.h:                                   # GPT-2's initialisation
            for layer in (block.attn.c_attn, block.attn.c_proj, block.mlp.c_fc, block.mlp.c_proj):
                writes_residual = layer is block.attn.c_proj or layer is block.mlp.c_proj
                std = 0.02 / math.sqrt(2 * config.n_layer) if writes_residual else 0.02
                layer.weight = Tensor.normal(*layer.weight.shape, std=std)
                if layer.bias is not None:
                    layer.bias = Tensor.zeros(*layer.bias.shape)
        # Compute the random numbers now. A lazy tensor is a recipe, not numbers: left unrealized,
        # the weights would be drawn again inside every kernel that reads them.
        Tensor.realize(*get_parameters(self))

    def __call__(self, ids: Tensor, return_weights: bool = False):
        """ids (B, T) int -> logits (B, T, V); with return_weights, (logits, weights), weights a
        list of n_layer tensors (B, nh, T, T): each block's attention probabilities."""
        B, T = ids.shape
        if T > self.config.n_positions:
            raise ValueError(f"{T} tokens do not fit in the context window of "
                             f"{self.config.n_positions} positions")
        x = self.wte(ids) + self.wpe.weight[:T]                 # (B, T, C)
        x = x.dropout(self.config.dropout)
        weights = []
        for block in self.h:
            x, w = block(x, return_weights=True)                # (B, T, C), (B, nh, T, T)
            weights.append(w)
        logits = self.ln_f(x) @ self.wte.weight.T               # (B, T, V): the tied output layer
        return (logits, weights) if return_weights else logits

    def num_params(self) -> int:
        return sum(p.numel() for p in get_parameters(self))
