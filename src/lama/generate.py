# Generated from docs/generation.md by tools/tangle.py. Do not edit: change the chapter.
"""Generating tokens with a GPT: greedy decoding, temperature, top-k and top-p sampling, the KV
cache with a JIT-compiled decode step whose position is a symbolic tinygrad Variable, and the
tokenizer that comes with a checkpoint."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tinygrad import Tensor, TinyJit, Variable, dtypes

from lama.block import Block
from lama.model import GPT, GPTConfig
from lama.multihead import MultiHeadAttention
from lama.self_attention import causal_mask

def check_sampling(temperature: float, top_k: int | None, top_p: float | None) -> None:
    """Raise ValueError for settings that make no distribution."""
    if not temperature >= 0:
        raise ValueError(f"temperature must be 0 (greedy) or more, got {temperature}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top-k must be at least 1, got {top_k}")
    if top_p is not None and not 0 < top_p <= 1:
        raise ValueError(f"top-p must be in (0, 1], got {top_p}")


def sample_next(logits: np.ndarray, temperature: float = 1.0, top_k: int | None = None,
                top_p: float | None = None, rng: np.random.Generator | None = None) -> int:
    """One token id from logits (V,): greedy when temperature == 0, else sampled from
    softmax(logits / temperature), restricted to the top_k tokens and then to the top_p nucleus."""
    check_sampling(temperature, top_k, top_p)
    if temperature == 0:
        return int(np.argmax(logits))
    z = logits.astype(np.float64) / temperature                 # (V,)
    if top_k is not None and top_k < len(z):
        kth = np.partition(z, -top_k)[-top_k]                   # the k-th largest logit
        z = np.where(z < kth, -np.inf, z)
    p = np.exp(z - z.max())
    p /= p.sum()                                                # (V,) softmax
    if top_p is not None and top_p < 1:
        order = np.argsort(-p, kind="stable")                   # most likely first
        before = np.cumsum(p[order]) - p[order]                 # the mass ahead of each token
        keep = order[before < top_p]                            # always keeps the most likely token
        nucleus = np.zeros_like(p)
        nucleus[keep] = p[keep]
        p = nucleus / nucleus.sum()
    rng = rng if rng is not None else np.random.default_rng()
    return int(rng.choice(len(p), p=p))

def new_cache(config: GPTConfig, batch: int = 1) -> list[Tensor]:
    """An empty key/value cache: per block, a zero (2, batch, n_head, n_positions, head_size)."""
    shape = (2, batch, config.n_head, config.n_positions, config.head_size)
    return [Tensor.zeros(*shape).contiguous().realize() for _ in range(config.n_layer)]


def remember(cache: Tensor, k: Tensor, v: Tensor, start_pos) -> tuple[Tensor, Tensor]:
    """Write k, v (B, nh, T, hs) into cache at positions start_pos.. -> the keys and the values
    of all positions so far, (B, nh, start_pos+T, hs) each."""
    T = k.shape[2]
    cache[:, :, :, start_pos:start_pos + T, :].assign(Tensor.stack(k, v)).realize()
    return cache[0, :, :, :start_pos + T, :], cache[1, :, :, :start_pos + T, :]


def cached_attention(attn: MultiHeadAttention, x: Tensor, cache: Tensor, start_pos) -> Tensor:
    """Multi-head attention of the T new positions x (B, T, C), at positions start_pos.., over
    themselves and the start_pos positions before them, whose keys and values are in cache
    (2, B, n_head, n_positions, head_size). -> (B, T, C)"""
    T = x.shape[1]
    q, k, v = attn.qkv(x)                                   # (B, nh, T, hs) each
    keys, values = remember(cache, k, v, start_pos)          # (B, nh, start_pos+T, hs) each
    mask = causal_mask(T, start_pos + T) if T > 1 else None  # (T, start_pos+T)
    y, _ = attn.attend(q, keys, values, mask)                # (B, nh, T, hs)
    return attn.project(y)                                   # (B, T, C)


def cached_block(block: Block, x: Tensor, cache: Tensor, start_pos) -> Tensor:
    """A pre-LN Block on the new positions x (B, T, C), attending through the cache. -> (B, T, C)"""
    x = x + cached_attention(block.attn, block.ln_1(x), cache, start_pos)
    return x + block.mlp(block.ln_2(x))


def cached_forward(model: GPT, ids: Tensor, cache: list[Tensor], start_pos) -> Tensor:
    """GPT.__call__ for ids (B, T) at positions start_pos.., whose earlier keys and values are in
    cache (one tensor per block, see new_cache) -> logits (B, T, V)."""
    T = ids.shape[1]
    x = model.wte(ids) + model.wpe.weight[start_pos:start_pos + T]      # (B, T, C)
    for block, block_cache in zip(model.h, cache):
        x = cached_block(block, x, block_cache, start_pos)
    return model.ln_f(x) @ model.wte.weight.T                            # (B, T, V)

class Generator:
    """Generates token ids with a GPT. With cache=True (the default) it keeps the keys and values
    of all earlier positions and runs one token per step, through a TinyJit-compiled decode step."""

    def __init__(self, model: GPT, cache: bool = True):
        self.model, self.n_positions = model, model.config.n_positions
        self.cache = new_cache(model.config) if cache else None
        self.pos = 0                                   # how many positions the cache holds
        self.start_pos = Variable("start_pos", 1, self.n_positions - 1)
        self.step = TinyJit(self.forward)             # the decode step, compiled once

    def forward(self, ids: Tensor, start_pos) -> Tensor:
        """ids (1, T) at positions start_pos.. -> the logits (1, T, V), realized; through the
        cache (which it fills) if there is one."""
        if self.cache is None:
            return self.model(ids).realize()
        return cached_forward(self.model, ids, self.cache, start_pos).realize()

    def prefill(self, ids: list[int]) -> np.ndarray:
        """Run ids from position 0 (filling the cache, if any) -> the logits (V,) of the next
        token."""
        logits = self.forward(Tensor([ids], dtype=dtypes.int32), 0)     # (1, T, V)
        self.pos = len(ids)
        return logits[0, -1].numpy()

    def decode(self, token: int) -> np.ndarray:
        """Run one token at position self.pos, through the cache -> the logits (V,) of the next
        token."""
        ids = Tensor([[token]], dtype=dtypes.int32)                      # (1, 1)
        logits = self.step(ids, self.start_pos.bind(self.pos)).numpy()[0, -1]
        self.pos += 1
        return logits

    def generate(self, prompt: list[int], max_new_tokens: int, temperature: float = 0.0,
                 top_k: int | None = None, top_p: float | None = None, seed: int | None = None,
                 vocab: int | None = None) -> Iterator[int]:
        """Yield max_new_tokens token ids that continue prompt, one at a time. temperature 0 is
        greedy; the same seed gives the same tokens. vocab: choose only among ids below it (the
        tokenizer's)."""
        check_sampling(temperature, top_k, top_p)
        P = self.n_positions
        if not 0 < len(prompt) <= P:
            raise ValueError(f"the prompt has {len(prompt)} tokens; it must have 1 to {P} "
                             "(the context window)")
        if max_new_tokens < 0:
            raise ValueError(f"max_new_tokens must be 0 or more, got {max_new_tokens}")
        rng = np.random.default_rng(seed)
        ids = list(prompt)
        for i in range(max_new_tokens):
            if i == 0:
                logits = self.prefill(ids)
            elif self.cache is None:
                logits = self.prefill(ids[-P:])        # no cache: the whole window, every step
            elif self.pos == P:
                logits = self.prefill(ids[-(P // 2):]) # the window is full: again on its last half
            else:
                logits = self.decode(ids[-1])
            token = sample_next(logits[:vocab], temperature, top_k, top_p, rng)
            ids.append(token)
            yield token


def generate(model: GPT, prompt: list[int], max_new_tokens: int, cache: bool = True,
             **sampling) -> list[int]:
    """The token ids of prompt followed by max_new_tokens generated ones (see
    Generator.generate)."""
    new = Generator(model, cache).generate(prompt, max_new_tokens, **sampling)
    return list(prompt) + list(new)

@dataclass(frozen=True)
class TextTokenizer:
    """encode(text) -> ids, decode(ids) -> text, and n_vocab, the number of ids."""
    encode: Callable[[str], list[int]]
    decode: Callable[[list[int]], str]
    n_vocab: int


def load_tokenizer(path: str | Path) -> TextTokenizer:
    """The tokenizer of the checkpoint at path (a folder with config.json, or a file with a
    config.json beside it): the characters its config.json names, else GPT-2's BPE."""
    path = Path(path)
    config = path / "config.json" if path.is_dir() else path.with_name("config.json")
    spec = None
    if config.is_file():
        spec = json.loads(config.read_text(encoding="utf-8")).get("tokenizer")
    if spec is None:
        from lama.bpe import ENDOFTEXT, GPT2Tokenizer
        try:
            bpe = GPT2Tokenizer.load()
        except OSError as e:
            reason = str(e).splitlines()[0]
            raise ValueError(f"GPT-2's tokenizer is not available: {reason}") from None
        return TextTokenizer(lambda text: bpe.encode(text, allowed_special={ENDOFTEXT}),
                             bpe.decode, bpe.n_vocab)
    if not isinstance(spec, dict) or spec.get("kind") != "char" or not isinstance(
            spec.get("chars"), str):
        raise ValueError(f'{config}: "tokenizer" must be {{"kind": "char", "chars": "..."}}')
    from lama.data import CharTokenizer
    chars = CharTokenizer(spec["chars"])
    return TextTokenizer(lambda text: chars.encode(text).tolist(), chars.decode, chars.vocab_size)
