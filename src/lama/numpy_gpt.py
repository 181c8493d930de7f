# Generated from docs/numpy-gpt.md by tools/tangle.py. Do not edit: change the chapter.
"""The book's character GPT written against lama.autograd (numpy only), lama's AdamW recipe in
numpy, and the command that trains it next to the tinygrad model it starts from:

    python -m lama.numpy_gpt --out docs/results/numpy-gpt

writes results.json (both runs' losses step by step, evaluations, samples, times) into --out."""
from __future__ import annotations

import math
import os
import platform
import sys
import time
import zlib
from dataclasses import asdict
from pathlib import Path

import numpy as np
from tinygrad import Tensor as TinyTensor
from tinygrad import dtypes
from tinygrad.nn.state import get_state_dict

from lama.autograd import Tensor, cross_entropy
from lama.block import training
from lama.cli import (Parser, add_config_options, atomic_write_json, config_from_args, fail,
                      recorded_command)
from lama.data import CharTokenizer, DataError, TokenBatches, split, tiny_shakespeare
from lama.shakespeare import ShakespeareConfig, build
from lama.train import AdamW as TinyAdamW
from lama.train import evaluate as tiny_evaluate
from lama.train import log_stderr, make_eval_step, make_train_step

def layer_norm(x: Tensor, weight: Tensor, bias: Tensor, eps: float) -> Tensor:
    """x (..., C) -> (..., C), each position normalised, then scaled and shifted per channel."""
    mean = x.mean(-1, keepdims=True)                          # (..., 1)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)           # (..., 1), biased as in lama
    return (x - mean) * (var + eps) ** -0.5 * weight + bias


def gelu(x: Tensor) -> Tensor:
    """GPT-2's GELU, tanh form, as lama.block.gelu (x ** 3 written as a product: faster)."""
    return 0.5 * x * (1.0 + (math.sqrt(2.0 / math.pi) * (x + 0.044715 * (x * x * x))).tanh())

class NumpyGPT:
    """lama.model.GPT's computation over lama.autograd Tensors: ids (B, T) -> logits (B, T, V).
    `params` maps lama's parameter names (get_state_dict(model)) to float32 arrays."""

    def __init__(self, config, params: dict[str, np.ndarray]):
        self.config = config
        self.params = {name: Tensor(np.array(a, dtype=np.float32), requires_grad=True)
                       for name, a in params.items()}

    @classmethod
    def from_tinygrad(cls, model) -> NumpyGPT:
        """A copy of a lama.model.GPT: the same configuration and the same weights."""
        return cls(model.config, {name: t.numpy() for name, t in get_state_dict(model).items()})

    def linear(self, x: Tensor, name: str) -> Tensor:
        """x (..., n_in) -> (..., n_out); tinygrad's nn.Linear stores weight as (n_out, n_in)."""
        return x @ self.params[f"{name}.weight"].T + self.params[f"{name}.bias"]

    def ln(self, x: Tensor, name: str) -> Tensor:
        p = self.params
        return layer_norm(x, p[f"{name}.weight"], p[f"{name}.bias"], self.config.eps)

    def attention(self, x: Tensor, name: str) -> Tensor:
        """Causal multi-head self-attention: x (B, T, C) -> (B, T, C)."""
        B, T, C = x.shape
        nh, hs = self.config.n_head, C // self.config.n_head
        qkv = self.linear(x, f"{name}.c_attn")                # (B, T, 3C)
        q, k, v = (qkv[:, :, i * C:(i + 1) * C].reshape(B, T, nh, hs).transpose(1, 2)
                   for i in range(3))                          # (B, nh, T, hs) each
        scores = q @ k.transpose(-2, -1) / math.sqrt(hs)       # (B, nh, T, T)
        future = np.triu(np.ones((T, T), dtype=bool), k=1)     # True above the diagonal
        weights = scores.masked_fill(future, -math.inf).softmax(-1)
        y = (weights @ v).transpose(1, 2).reshape(B, T, C)     # (B, T, C): heads side by side
        return self.linear(y, f"{name}.c_proj")

    def __call__(self, ids: np.ndarray) -> Tensor:
        """ids (B, T) int -> logits (B, T, V)."""
        B, T = ids.shape
        wte, wpe = self.params["wte.weight"], self.params["wpe.weight"]
        x = wte[ids] + wpe[:T]                                 # (B, T, C): gather + slice
        for i in range(self.config.n_layer):
            x = x + self.attention(self.ln(x, f"h.{i}.ln_1"), f"h.{i}.attn")
            h = gelu(self.linear(self.ln(x, f"h.{i}.ln_2"), f"h.{i}.mlp.c_fc"))   # (B, T, 4C)
            x = x + self.linear(h, f"h.{i}.mlp.c_proj")
        return self.ln(x, "ln_f") @ wte.T                      # (B, T, V): tied output layer

    def loss(self, x: np.ndarray, y: np.ndarray) -> Tensor:
        """Mean next-token cross-entropy: x, y (B, T) int -> scalar Tensor."""
        return cross_entropy(self(x), y)

class AdamW:
    """lama.train.AdamW in numpy: Adam with decoupled weight decay on the matrices (ndim >= 2)."""

    def __init__(self, params: dict[str, Tensor], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.01):
        self.params, self.lr = params, lr
        self.b1, self.b2, self.eps, self.wd = betas[0], betas[1], eps, weight_decay
        self.t = 0
        self.m = {name: np.zeros_like(p.data) for name, p in params.items()}
        self.v = {name: np.zeros_like(p.data) for name, p in params.items()}

    def zero_grad(self) -> None:
        for p in self.params.values():
            p.grad = None

    def clip_grad_norm(self, max_norm: float) -> float:
        """Scale all gradients together to a global L2 norm of at most max_norm; return the norm
        before clipping (lama.train.clip_grad_norm)."""
        grads = [p.grad for p in self.params.values() if p.grad is not None]
        norm = np.float32(np.sqrt(sum(np.sum(g * g, dtype=np.float32) for g in grads)))
        if max_norm > 0:
            scale = np.float32(min(max_norm / (norm + 1e-6), 1.0))
            for p in self.params.values():
                if p.grad is not None:
                    p.grad = p.grad * scale
        return float(norm)

    def step(self) -> None:
        self.t += 1
        c1, c2 = 1 - self.b1 ** self.t, 1 - self.b2 ** self.t      # bias corrections
        for name, p in self.params.items():
            if p.grad is None:
                continue
            m, v, g = self.m[name], self.v[name], p.grad
            m[...] = self.b1 * m + (1 - self.b1) * g
            v[...] = self.b2 * v + (1 - self.b2) * g * g
            update = (m / np.float32(c1)) / (np.sqrt(v / np.float32(c2)) + np.float32(self.eps))
            if p.ndim >= 2 and self.wd:
                update = update + np.float32(self.wd) * p.data           # decoupled: not in m, v
            p.data -= np.float32(self.lr) * update

def generate(model: NumpyGPT, ids: list[int], n: int, temperature: float = 0.8,
             seed: int = 0) -> list[int]:
    """n new token ids after `ids`, sampled one at a time from the last position's softmax."""
    rng = np.random.default_rng(seed)
    ids = list(ids)
    for _ in range(n):
        context = np.array([ids[-model.config.n_positions:]])      # (1, T)
        logits = model(context).data[0, -1].astype(np.float64) / temperature   # (V,)
        p = np.exp(logits - logits.max())
        ids.append(int(rng.choice(len(p), p=p / p.sum())))
    return ids[-n:]


def evaluate(model: NumpyGPT, get_batch, split: str, batches: int, seed: int) -> float:
    """Mean loss over the batches lama.train.evaluate draws for (seed, split)."""
    rng = np.random.default_rng([seed, zlib.crc32(split.encode())])
    losses = []
    for _ in range(batches):
        x, y = get_batch(split, rng)
        losses.append(model.loss(x.numpy(), y.numpy()).item())
    return float(np.mean(losses))

def run(cfg: ShakespeareConfig, out: str | os.PathLike, data_dir=None, log=log_stderr,
        command: str = "") -> dict:
    """Train lama's tinygrad GPT and its numpy twin side by side from the same weights on the same
    batches with the same recipe; write results.json into out and return its contents."""
    text = tiny_shakespeare(data_dir)
    tokenizer = CharTokenizer.from_text(text)
    train_ids, val_ids = split(tokenizer.encode(text))
    batches = TokenBatches(train_ids, val_ids, cfg.batch_size, cfg.block_size)
    model = build(cfg, tokenizer.vocab_size)     # the tinygrad GPT, seeded as lama.shakespeare does
    twin = NumpyGPT.from_tinygrad(model)                 # the same weights, copied
    betas = (0.9, cfg.beta2)
    tiny_optimizer = TinyAdamW(get_state_dict(model), lr=cfg.lr, betas=betas,
                               weight_decay=cfg.weight_decay)
    tiny_step = make_train_step(model, tiny_optimizer, grad_clip=cfg.grad_clip)
    optimizer = AdamW(twin.params, lr=cfg.lr, betas=betas, weight_decay=cfg.weight_decay)
    schedule = cfg.train_config()
    rng = np.random.default_rng(cfg.seed)                # lama.train.train's batch sampler
    steps = {name: {"loss": [], "grad_norm": [], "seconds": []} for name in ("tinygrad", "numpy")}
    with training():
        for step in range(cfg.steps):
            lr = schedule.lr_at(step)
            x, y = batches("train", rng)                 # one batch for both
            t = time.perf_counter()
            loss, norm = tiny_step(TinyTensor([lr], dtype=dtypes.float32), x, y)
            record(steps["tinygrad"], loss.item(), norm.item(), time.perf_counter() - t)
            t = time.perf_counter()
            optimizer.lr = lr
            loss = twin.loss(x.numpy(), y.numpy())
            optimizer.zero_grad()
            loss.backward()
            norm = optimizer.clip_grad_norm(cfg.grad_clip)
            optimizer.step()
            record(steps["numpy"], loss.item(), norm, time.perf_counter() - t)
            if (step + 1) % 10 == 0:
                log(f"step {step + 1:>5}/{cfg.steps}  loss: tinygrad "
                    f"{steps['tinygrad']['loss'][-1]:.4f}, numpy {steps['numpy']['loss'][-1]:.4f}")
    val = {"tinygrad": tiny_evaluate(make_eval_step(model), batches, "val", cfg.eval_batches,
                                     cfg.seed),
           "numpy": evaluate(twin, batches, "val", cfg.eval_batches, cfg.seed)}
    prompt = tokenizer.encode("\n").tolist()
    sample = tokenizer.decode(generate(twin, prompt, cfg.sample_chars, seed=cfg.seed))
    difference = np.abs(np.subtract(steps["tinygrad"]["loss"], steps["numpy"]["loss"]))
    results = {
        "command": command,
        "config": asdict(cfg),
        "parameters": sum(p.data.size for p in twin.params.values()),
        "uniform_loss": float(np.log(tokenizer.vocab_size)),
        "steps": steps,
        "max_abs_loss_difference": float(difference.max()),
        "val_loss": val,
        "sample": sample,
        "median_step_s": {name: float(np.median(s["seconds"][2:])) for name, s in steps.items()},
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),   # see the last section
    }
    Path(out).mkdir(parents=True, exist_ok=True)
    atomic_write_json(Path(out) / "results.json", results)
    return results


def record(log: dict, loss: float, norm: float, seconds: float) -> None:
    log["loss"].append(loss)
    log["grad_norm"].append(norm)
    log["seconds"].append(seconds)

PROG = "python -m lama.numpy_gpt"


def parser() -> Parser:
    p = Parser(prog=PROG, description="Train the book's character GPT twice from the same weights "
               "on the same batches: with tinygrad (lama.model) and with lama.autograd (numpy).")
    p.add_argument("--out", default="numpy-gpt",
                   help="where results.json goes (default: ./numpy-gpt)")
    p.add_argument("--data-dir", default=None,
                   help="data directory (default: $LAMA_DATA_DIR or ~/.cache/lama/data)")
    add_config_options(p, ShakespeareConfig, exclude=("eval_interval",))
    p.set_defaults(steps=300)
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    cfg = config_from_args(p, args, ShakespeareConfig)
    try:
        results = run(cfg, args.out, args.data_dir, command=recorded_command(PROG, argv))
    except (ValueError, DataError) as e:
        return fail(PROG, str(e))
    print(f"after {cfg.steps} steps: max |loss difference| {results['max_abs_loss_difference']:.2e}"
          f", val loss tinygrad {results['val_loss']['tinygrad']:.4f}, numpy "
          f"{results['val_loss']['numpy']:.4f}; results in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
