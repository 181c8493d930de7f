# Generated from docs/block.md by tools/tangle.py. Do not edit: change the chapter, then run tools/tangle.py.
"""Sequence reversal learned by one transformer block: a causal model can only reverse what it has
already seen. Writes the per-position accuracy of a causal and a bidirectional model.

    python -m lama.reversal --out docs/results/reversal.json
"""
import argparse
import json
import math
import sys
import time
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
from tinygrad import Tensor, TinyJit, dtypes, nn
from tinygrad.helpers import Context
from tinygrad.nn.state import get_parameters

from lama.block import Block, BlockConfig, LayerNorm
from lama.embeddings import EmbeddingConfig, TokenPositionEmbedding


def reversal_batch(rng: np.random.Generator, batch_size: int, length: int, vocab_size: int):
    """Uniform random tokens x (batch_size, length) and their reversal y:
    y[:, t] = x[:, length - 1 - t]."""
    x = rng.integers(0, vocab_size, size=(batch_size, length), dtype=np.int32)
    return x, np.ascontiguousarray(x[:, ::-1])


class ReversalModel:
    """Token and position embeddings, one Block, a final LayerNorm and a readout at every
    position. tokens (B, length) -> logits (B, length, vocab_size)."""

    def __init__(self, vocab_size: int, length: int, config: BlockConfig):
        # What each token is, and where it is: reversal is all about where.
        embedding = EmbeddingConfig(vocab_size, length, config.n_embd)   # (V, C) and (T, C)
        self.embed = TokenPositionEmbedding(embedding)  # learned positions, as in GPT-2
        self.block = Block(config)
        self.ln_f = LayerNorm(config.n_embd, config.eps, config.bias)  # the block is pre-LN
        self.head = nn.Linear(config.n_embd, vocab_size, config.bias)

    def __call__(self, tokens: Tensor, return_weights: bool = False):
        """tokens (B, T) int -> logits (B, T, vocab_size); with return_weights also the
        attention weights (B, n_head, T, T)."""
        x, weights = self.block(self.embed(tokens), return_weights=True)  # (B, T, C)
        logits = self.head(self.ln_f(x))                                    # (B, T, vocab_size)
        return (logits, weights) if return_weights else logits

@dataclass
class ReversalConfig:
    length: int = 8           # tokens per sequence; even, so that the two halves are equal
    vocab_size: int = 10      # chance accuracy is 1 / vocab_size
    n_embd: int = 64
    n_head: int = 4
    causal: bool = True
    steps: int = 300
    batch_size: int = 64
    lr: float = 3e-3
    seed: int = 0
    eval_size: int = 2048     # held-out sequences for the accuracy per position


def train_reversal(cfg: ReversalConfig, log=None) -> tuple[ReversalModel, list[float]]:
    """Train a one-block model on reversal; return it and the loss of every step.
    Progress goes to `log` (a file such as sys.stderr) when given."""
    Tensor.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    config = BlockConfig(n_embd=cfg.n_embd, n_head=cfg.n_head, causal=cfg.causal)
    model = ReversalModel(cfg.vocab_size, cfg.length, config)
    params = get_parameters(model)
    Tensor.realize(*params)  # initialise now, rather than inside the first (compiled) step
    opt = nn.optim.AdamW(params, lr=cfg.lr, fused=True)  # fused: one update for all parameters

    @TinyJit
    def step(x: Tensor, y: Tensor) -> Tensor:
        loss = model(x).sparse_categorical_crossentropy(y)  # mean over all positions
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.realize()

    losses = []
    with Context(TRAINING=1):
        for i in range(cfg.steps):
            x, y = reversal_batch(rng, cfg.batch_size, cfg.length, cfg.vocab_size)
            losses.append(step(Tensor(x, dtype=dtypes.int32), Tensor(y, dtype=dtypes.int32)).item())
            if log is not None and (i % 50 == 0 or i == cfg.steps - 1):
                print(f"step {i:4d}  loss {losses[-1]:.4f}", file=log)
    return model, losses

def evaluate(model: ReversalModel, cfg: ReversalConfig) -> dict:
    """Accuracy and loss at each output position on cfg.eval_size held-out sequences, and the
    accuracy averaged over the first and the second half of the positions."""
    rng = np.random.default_rng(cfg.seed + 1)                            # not the training data
    x, y = reversal_batch(rng, cfg.eval_size, cfg.length, cfg.vocab_size)
    logits = model(Tensor(x, dtype=dtypes.int32))                        # (N, T, vocab_size)
    log_probs = logits.log_softmax(-1).numpy()
    accuracy = (log_probs.argmax(-1) == y).mean(0)                       # (T,)
    loss = -np.take_along_axis(log_probs, y[..., None], -1)[..., 0].mean(0)
    half = cfg.length // 2
    return {"accuracy": [round(float(a), 4) for a in accuracy],
            "loss": [round(float(l), 4) for l in loss],
            "first_half": round(float(accuracy[:half].mean()), 4),
            "second_half": round(float(accuracy[half:].mean()), 4)}

class OneLineErrors(argparse.ArgumentParser):
    def error(self, message):  # a user mistake gets one line and exit status 2, not the usage text
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


HELP = {"length": "tokens per sequence, even", "vocab_size": "distinct tokens; chance is 1/vocab_size",
        "n_embd": "channels of the block", "n_head": "attention heads", "steps": "training steps",
        "batch_size": "sequences per step", "lr": "AdamW's learning rate",
        "seed": "seed of the initial weights and of the data", "eval_size": "held-out sequences"}


def main(argv: list[str] | None = None) -> int:
    parser = OneLineErrors(
        prog="python -m lama.reversal",
        description="Train one transformer block to reverse random sequences, once with a causal mask "
                    "and once without, and report the accuracy at each output position as JSON.")
    defaults = ReversalConfig()
    for f in fields(ReversalConfig):
        if f.name != "causal":
            default = getattr(defaults, f.name)
            parser.add_argument(f"--{f.name.replace('_', '-')}", type=type(default), default=default,
                                help=HELP[f.name] + " (default: %(default)s)")
    parser.add_argument("--masks", nargs="+", choices=["causal", "bidirectional"],
                        default=["causal", "bidirectional"], help="the models to train (default: both)")
    parser.add_argument("--out", help="also write the JSON to this file (docs/results/reversal.json)")
    args = parser.parse_args(argv)
    settings = {f.name: getattr(args, f.name) for f in fields(ReversalConfig) if f.name != "causal"}
    if settings["length"] < 2 or settings["length"] % 2:
        parser.error(f"--length must be even and at least 2, got {settings['length']}")
    if settings["vocab_size"] < 2:
        parser.error(f"--vocab-size must be at least 2, got {settings['vocab_size']}")
    n_embd, n_head = settings["n_embd"], settings["n_head"]
    if n_embd <= 0 or n_head <= 0 or n_embd % n_head:
        parser.error(f"--n-embd ({n_embd}) must be a positive multiple of --n-head ({n_head})")
    if min(settings["steps"], settings["batch_size"], settings["eval_size"]) < 1 or settings["lr"] <= 0:
        parser.error("--steps, --batch-size, --eval-size and --lr must be positive")
    if args.out and not Path(args.out).resolve().parent.is_dir():
        parser.error(f"--out {args.out}: the folder {Path(args.out).resolve().parent} does not exist")

    result = {"command": "python -m lama.reversal " + " ".join(sys.argv[1:] if argv is None else argv),
              "settings": settings, "chance": 1 / settings["vocab_size"],
              "chance_loss": math.log(settings["vocab_size"]), "runs": {}}
    for name in args.masks:
        cfg = ReversalConfig(**settings, causal=name == "causal")
        print(f"training the {name} model", file=sys.stderr)
        start = time.perf_counter()
        model, losses = train_reversal(cfg, log=sys.stderr)
        print(f"{name}: {time.perf_counter() - start:.1f} s", file=sys.stderr)
        every_10th = [round(l, 4) for l in losses[::10]]
        result["runs"][name] = {**evaluate(model, cfg), "train_loss": every_10th}
    text = json.dumps(result, indent=1)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
