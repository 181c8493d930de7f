# Generated from docs/gpt-one-page.md by tools/tangle.py. Do not edit: change the chapter.
"""GPT on one page: a complete GPT-2 in tinygrad that learns tiny Shakespeare one character at a
time and then writes. It imports nothing from lama: save it as gpt.py and run `python gpt.py`."""
from __future__ import annotations

import argparse
import hashlib
import math
import os
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tinygrad import Tensor, TinyJit, dtypes, nn
from tinygrad.nn.optim import AdamW, OptimizerGroup
from tinygrad.nn.state import get_parameters


@dataclass(frozen=True)
class GPTConfig:
    vocab_size: int = 65      # V: the characters of tiny Shakespeare
    n_positions: int = 64     # P: the context window, the most tokens the model reads at once
    n_embd: int = 128         # C: the width of the residual stream
    n_layer: int = 4          # the number of blocks
    n_head: int = 4           # attention heads per block, each C // n_head channels wide


class CausalSelfAttention:
    def __init__(self, cfg: GPTConfig):
        self.c_attn = nn.Linear(cfg.n_embd, 3 * cfg.n_embd)   # queries, keys, values of all heads
        self.c_proj = nn.Linear(cfg.n_embd, cfg.n_embd)       # mixes the heads' outputs
        self.n_head = cfg.n_head

    def __call__(self, x: Tensor) -> Tensor:                  # (B, T, C) -> (B, T, C)
        B, T, C = x.shape
        hs = C // self.n_head                                  # the head size
        q, k, v = [t.reshape(B, T, self.n_head, hs).transpose(1, 2)   # (B, nh, T, hs) each
                   for t in self.c_attn(x).split(C, dim=-1)]
        scores = q @ k.transpose(-2, -1) / math.sqrt(hs)       # (B, nh, T, T)
        causal = Tensor.ones(T, T, dtype=dtypes.bool).tril()   # query i may see keys 0..i
        weights = causal.where(scores, -math.inf).softmax(-1)  # (B, nh, T, T), rows sum to 1
        y = (weights @ v).transpose(1, 2).reshape(B, T, C)     # the heads side by side
        return self.c_proj(y)


class MLP:
    def __init__(self, cfg: GPTConfig):
        self.c_fc = nn.Linear(cfg.n_embd, 4 * cfg.n_embd)
        self.c_proj = nn.Linear(4 * cfg.n_embd, cfg.n_embd)

    def __call__(self, x: Tensor) -> Tensor:                  # (B, T, C) -> (B, T, C)
        h = self.c_fc(x).gelu().contiguous()                  # (B, T, 4C): GPT-2's tanh GELU,
        return self.c_proj(h)                                 # stored, not recomputed per use


class Block:
    def __init__(self, cfg: GPTConfig):
        self.ln_1, self.attn = nn.LayerNorm(cfg.n_embd), CausalSelfAttention(cfg)
        self.ln_2, self.mlp = nn.LayerNorm(cfg.n_embd), MLP(cfg)

    def __call__(self, x: Tensor) -> Tensor:                  # (B, T, C) -> (B, T, C)
        x = x + self.attn(self.ln_1(x))                       # pre-LN: normalise what reads
        return x + self.mlp(self.ln_2(x))                     # the stream, never the stream


class GPT:
    def __init__(self, cfg: GPTConfig):
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)   # (V, C): tokens, and the output
        self.wpe = nn.Embedding(cfg.n_positions, cfg.n_embd)  # (P, C): positions
        self.h = [Block(cfg) for _ in range(cfg.n_layer)]
        self.ln_f = nn.LayerNorm(cfg.n_embd)
        # GPT-2's initialisation: the layers that write into the residual stream start smaller
        self.wte.weight = Tensor.normal(cfg.vocab_size, cfg.n_embd, std=0.02)
        self.wpe.weight = Tensor.normal(cfg.n_positions, cfg.n_embd, std=0.01)
        small = 0.02 / math.sqrt(2 * cfg.n_layer)
        for b in self.h:
            for layer, std in [(b.attn.c_attn, 0.02), (b.attn.c_proj, small),
                               (b.mlp.c_fc, 0.02), (b.mlp.c_proj, small)]:
                layer.weight = Tensor.normal(*layer.weight.shape, std=std)
                layer.bias = Tensor.zeros(*layer.bias.shape)
        for p in get_parameters(self):                        # draw the random numbers now,
            p.replace(p.contiguous()).realize()               # once, each into its own buffer

    def __call__(self, ids: Tensor) -> Tensor:                # (B, T) int -> logits (B, T, V)
        T = ids.shape[1]
        x = self.wte(ids) + self.wpe.weight[:T]               # (B, T, C)
        for block in self.h:
            x = block(x)                                      # (B, T, C)
        return self.ln_f(x) @ self.wte.weight.T               # (B, T, V): tied to wte


URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"


def tiny_shakespeare(url: str = URL) -> str:
    """$LAMA_DATA_DIR/tinyshakespeare/input.txt (default ~/.cache/lama/data), downloaded once."""
    root = os.environ.get("LAMA_DATA_DIR") or Path.home() / ".cache" / "lama" / "data"
    path = Path(root) / "tinyshakespeare" / "input.txt"
    source = path if path.is_file() else url
    data = path.read_bytes() if path.is_file() else urllib.request.urlopen(url, timeout=60).read()
    if hashlib.sha256(data).hexdigest() != SHA256:
        raise ValueError(f"{source}: not tiny Shakespeare (its sha256 differs)")
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.with_suffix(".tmp").write_bytes(data)
        path.with_suffix(".tmp").replace(path)                # the whole file, or none
    return data.decode("utf-8")


def get_batch(data: np.ndarray, batch_size: int, T: int, rng) -> tuple[Tensor, Tensor]:
    """Random windows of data: x (B, T) and the next token at every position, y (B, T)."""
    starts = rng.integers(0, len(data) - T, size=batch_size)
    x = np.stack([data[s:s + T] for s in starts])
    y = np.stack([data[s + 1:s + T + 1] for s in starts])
    return Tensor(x, dtype=dtypes.int32), Tensor(y, dtype=dtypes.int32)


def make_train_step(model: GPT, lr: float = 1e-3, weight_decay: float = 0.1):
    """step(x, y) -> loss: one AdamW step on the mean next-token cross-entropy. Call it in
    training mode."""
    params = get_parameters(model)                            # weight decay on matrices only
    optimizer = OptimizerGroup(
        AdamW([p for p in params if p.ndim >= 2], lr, b2=0.99, weight_decay=weight_decay),
        AdamW([p for p in params if p.ndim < 2], lr, b2=0.99, weight_decay=0.0))

    @TinyJit                                                  # compiled once, then replayed
    def step(x: Tensor, y: Tensor) -> Tensor:
        loss = model(x).sparse_categorical_crossentropy(y)   # mean over the B * T positions
        optimizer.zero_grad()
        loss.backward()
        return loss.realize(*optimizer.schedule_step())
    return step


def train(model: GPT, data: np.ndarray, steps: int, batch_size: int = 12, lr: float = 1e-3,
          seed: int = 1337, log_every: int = 100) -> list[float]:
    """`steps` AdamW steps on random windows of data -> the loss of every step."""
    step, rng, losses = make_train_step(model, lr), np.random.default_rng(seed), []
    with Tensor.train():                      # tinygrad's optimizers step in training mode only
        for i in range(1, steps + 1):
            losses.append(step(*get_batch(data, batch_size, model.cfg.n_positions, rng)).item())
            if i % log_every == 0:
                print(f"step {i}: loss {np.mean(losses[-log_every:]):.3f}", file=sys.stderr)
    return losses


def evaluate(model: GPT, data: np.ndarray, batches: int = 8, batch_size: int = 32) -> float:
    """The mean loss on `batches` random windows of data, the same windows every time."""
    rng, T = np.random.default_rng(0), model.cfg.n_positions
    losses = [model(x).sparse_categorical_crossentropy(y).item()
              for x, y in (get_batch(data, batch_size, T, rng) for _ in range(batches))]
    return float(np.mean(losses))


def generate(model: GPT, ids: list[int], n: int, temperature: float = 0.8, seed: int = 0):
    """ids and n more, sampled one at a time from the model's next-token distribution."""
    rng, P = np.random.default_rng(seed), model.cfg.n_positions
    logits_of = TinyJit(lambda x: model(x).realize())         # (1, P) -> (1, P, V), compiled once
    for _ in range(n):
        window = ids[-P:]                                     # the last P tokens, padded on the
        x = Tensor([window + [0] * (P - len(window))], dtype=dtypes.int32)  # right to one shape:
        z = logits_of(x).numpy()[0, len(window) - 1] / temperature  # causal, the padding comes
        p = np.exp(z - z.max())                                     # after what we read
        ids = ids + [int(rng.choice(len(p), p=p / p.sum()))]
    return ids


def main(steps: int = 2000) -> None:
    text = tiny_shakespeare()
    chars = sorted(set(text))                                 # the vocabulary: 65 characters
    index = {c: i for i, c in enumerate(chars)}
    data = np.array([index[c] for c in text], dtype=np.int32)
    n = int(0.9 * len(data))                                  # the last 10% are held out
    Tensor.manual_seed(1337)
    model = GPT(GPTConfig(vocab_size=len(chars)))
    train(model, data[:n], steps)
    print(f"validation loss {evaluate(model, data[n:]):.3f} "
          f"(a uniform guess: {math.log(len(chars)):.3f})")
    print("".join(chars[i] for i in generate(model, [index["\n"]], 500)))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Train GPT on one page, then let it write.")
    parser.add_argument("--steps", type=int, default=2000, help="training steps (default 2000)")
    try:
        main(parser.parse_args().steps)
    except (OSError, ValueError) as e:                         # no network, a damaged file
        print(f"{parser.prog}: {e}", file=sys.stderr)
        sys.exit(2)
