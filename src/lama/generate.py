# Generated from docs/generation.md by tools/tangle.py. Do not edit: change the chapter, then run tools/tangle.py.
"""Generating tokens with a GPT: greedy decoding, temperature, top-k and top-p sampling, and the
KV cache with a JIT-compiled decode step whose position is a symbolic tinygrad Variable."""
from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator

import numpy as np
from tinygrad import Device, Tensor, TinyJit, Variable, dtypes
from tinygrad.helpers import Context

from lama.model import GPT, GPTConfig

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
        before = np.cumsum(p[order]) - p[order]                 # the mass of the tokens ahead of each
        keep = order[before < top_p]                            # always keeps the most likely token
        nucleus = np.zeros_like(p)
        nucleus[keep] = p[keep]
        p = nucleus / nucleus.sum()
    rng = rng if rng is not None else np.random.default_rng()
    return int(rng.choice(len(p), p=p))

class Generator:
    """Generates token ids with a GPT. With cache=True (the default) it keeps the keys and values of
    all earlier positions and runs one token per step, through a TinyJit-compiled decode step."""

    def __init__(self, model: GPT, cache: bool = True, jit: bool = True, beam: int | None = None):
        self.model, self.n_positions = model, model.config.n_positions
        self.cache = model.new_cache() if cache else None
        self.pos = 0                                   # how many positions the cache holds
        self.start_pos = Variable("start_pos", 1, self.n_positions - 1)
        self.at = Variable("at", 0, self.n_positions - 1)
        self.jit = jit
        self.step = TinyJit(self._decode) if jit else self._decode
        self.beam = beam                               # tinygrad's BEAM for the decode step; None: as set
        self.windows: dict[int, TinyJit] = {}         # bucket length -> compiled forward pass

    def _decode(self, ids: Tensor, start_pos) -> Tensor:
        """ids (1, 1) at position start_pos -> logits (1, 1, V); writes its keys and values."""
        return self.model(ids, start_pos, self.cache, at=-1).realize()

    def _window(self, ids: Tensor, at) -> Tensor:
        """ids (1, L) from position 0 -> the logits (1, 1, V) at position at; fills the cache, if any."""
        return self.model(ids, 0, self.cache, at=at).realize()

    def bucket(self, n: int) -> int:
        """The padded length for n tokens: a power of two from 16, at most n_positions."""
        size = 16
        while size < n:
            size *= 2
        return min(size, self.n_positions)

    def prefill(self, ids: list[int]) -> np.ndarray:
        """Run ids from position 0 (filling the cache, if any) -> the logits (V,) of the next token.
        The ids are padded at the end to a bucket length; causality keeps the padding invisible."""
        T, L = len(ids), self.bucket(len(ids))
        padded = Tensor([ids + [0] * (L - T)], dtype=dtypes.int32)                 # (1, L)
        if self.jit:
            window = self.windows.setdefault(L, TinyJit(self._window))
            logits = window(padded, self.at.bind(T - 1))                           # (1, 1, V)
        else:
            logits = self._window(padded, T - 1)
        self.pos = T
        return logits.numpy()[0, -1]

    def decode(self, token: int) -> np.ndarray:
        """Run one token at position self.pos, through the cache -> the logits (V,) of the next token."""
        ids = Tensor([[token]], dtype=dtypes.int32)
        with Context(**({} if self.beam is None else {"BEAM": self.beam})):     # searched when compiled
            logits = self.step(ids, self.start_pos.bind(self.pos)).numpy()[0, -1]
        self.pos += 1
        return logits

    def generate(self, prompt: list[int], max_new_tokens: int, temperature: float = 0.0,
                 top_k: int | None = None, top_p: float | None = None, seed: int | None = None,
                 vocab: int | None = None) -> Iterator[int]:
        """Yield max_new_tokens token ids that continue prompt, one at a time. temperature 0 is greedy;
        the same seed gives the same tokens. vocab: choose only among ids below it (the tokenizer's)."""
        check_sampling(temperature, top_k, top_p)
        P = self.n_positions
        if not 0 < len(prompt) <= P:
            raise ValueError(f"the prompt has {len(prompt)} tokens; it must have 1 to {P} (the context window)")
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
                logits = self.prefill(ids[-(P // 2):]) # the window is full: start again on its last half
            else:
                logits = self.decode(ids[-1])
            token = sample_next(logits[:vocab], temperature, top_k, top_p, rng)
            ids.append(token)
            yield token


def generate(model: GPT, prompt: list[int], max_new_tokens: int, cache: bool = True, **sampling) -> list[int]:
    """The token ids of prompt followed by max_new_tokens generated ones (see Generator.generate)."""
    return list(prompt) + list(Generator(model, cache).generate(prompt, max_new_tokens, **sampling))

def time_per_token(config: GPTConfig, positions: list[int], repeats: int = 5) -> dict:
    """Median seconds to produce the token after `t` tokens, for each t in positions, with and without
    the KV cache. Random weights: the time does not depend on their values."""
    Tensor.manual_seed(0)
    model = GPT(config)
    gen = Generator(model, cache=True)
    rng = np.random.default_rng(0)
    ids = rng.integers(0, config.vocab_size, size=max(positions) + 1).tolist()
    result = {"positions": positions, "cache_ms": [], "no_cache_ms": []}
    gen.prefill(ids[:1])
    for p in range(1, 4):                        # the JIT records the decode step on its second call
        gen.decode(ids[p])
    for t in positions:
        gen.pos = t                              # the cache content does not matter for the time
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            gen.decode(ids[t])
            gen.pos = t
            times.append(time.perf_counter() - start)
        result["cache_ms"].append(1e3 * float(np.median(times)))
        x = Tensor([ids[:t]], dtype=dtypes.int32)
        model(x, at=-1).numpy()        # compile this shape first
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            model(x, at=-1).numpy()
            times.append(time.perf_counter() - start)
        result["no_cache_ms"].append(1e3 * float(np.median(times)))
        print(f"t={t:5d}  cache {result['cache_ms'][-1]:8.1f} ms   no cache {result['no_cache_ms'][-1]:8.1f} ms",
              flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lama.generate",
                                     description="Measure the time per generated token with and without the KV cache.")
    parser.add_argument("--out", default="docs/results/kv-cache.json", help="where to write the JSON")
    parser.add_argument("--positions", type=int, nargs="+", default=[16, 64, 128, 256, 384, 512, 768, 1000])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    config = GPTConfig(n_embd=256, n_layer=4, n_head=4)
    result = time_per_token(config, args.positions, args.repeats)
    result |= {"config": config.__dict__, "device": Device.DEFAULT,
               "command": "python -m lama.generate --out " + args.out}
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
