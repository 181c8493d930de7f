# Generated from docs/block.md by tools/tangle.py. Do not edit: change the chapter.
"""Sequence reversal learned by one transformer block: a causal model can only reverse what it has
already seen. Writes the per-position accuracy of a causal and a bidirectional model.

    python -m lama.reversal --out docs/results/reversal.json
"""
import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
from tinygrad import Tensor, TinyJit, dtypes, nn
from tinygrad.nn.state import get_parameters

from lama.block import Block, BlockConfig, LayerNorm
from lama.cli import Parser, add_config_options, atomic_write, config_from_args, recorded_command
from lama.embeddings import EmbeddingConfig, TokenPositionEmbedding
from lama.train import TrainConfig, lm_loss, train


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
        attention weights (B, nh, T, T)."""
        x, weights = self.block(self.embed(tokens), return_weights=True)  # (B, T, C)
        logits = self.head(self.ln_f(x))                                    # (B, T, vocab_size)
        return (logits, weights) if return_weights else logits

@dataclass
class ReversalConfig:
    """The reversal experiment: the task, the block and the training run."""
    length: int = field(default=8, metadata={"help": "tokens per sequence, even"})
    vocab_size: int = field(default=10, metadata={"help": "distinct tokens; chance: 1/vocab_size"})
    n_embd: int = field(default=64, metadata={"help": "channels of the block"})
    n_head: int = field(default=4, metadata={"help": "attention heads"})
    causal: bool = field(default=True, metadata={"help": "mask the future"})
    steps: int = field(default=300, metadata={"help": "training steps"})
    batch_size: int = field(default=64, metadata={"help": "sequences per step"})
    lr: float = field(default=3e-3, metadata={"help": "AdamW's learning rate"})
    seed: int = field(default=0, metadata={"help": "seed of the initial weights and of the data"})
    eval_size: int = field(default=2048, metadata={"help": "held-out sequences"})

    def __post_init__(self):
        if self.length < 2 or self.length % 2:   # even: the two halves are equal
            raise ValueError(f"length must be even and at least 2, got {self.length}")
        if self.vocab_size < 2:
            raise ValueError(f"vocab_size must be at least 2, got {self.vocab_size}")
        if self.n_embd <= 0 or self.n_head <= 0 or self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be a positive multiple of "
                             f"n_head ({self.n_head})")
        if min(self.steps, self.batch_size, self.eval_size) < 1 or self.lr <= 0:
            raise ValueError("steps, batch_size, eval_size and lr must be positive")


def train_reversal(cfg: ReversalConfig, log=None) -> tuple[ReversalModel, list[float]]:
    """Train a one-block model on reversal with lama.train; return it and the loss of every step.
    Progress goes to `log` (a file such as sys.stderr) when given."""
    Tensor.manual_seed(cfg.seed)
    config = BlockConfig(n_embd=cfg.n_embd, n_head=cfg.n_head, causal=cfg.causal)
    model = ReversalModel(cfg.vocab_size, cfg.length, config)
    params = get_parameters(model)
    Tensor.realize(*params)          # draw the initial weights now, with this seed's generator
    opt = nn.optim.AdamW(params, lr=cfg.lr, fused=True)  # fused: one update for all parameters

    def get_batch(split: str, rng: np.random.Generator) -> tuple[Tensor, Tensor]:
        x, y = reversal_batch(rng, cfg.batch_size, cfg.length, cfg.vocab_size)   # (B, T) each
        return Tensor(x, dtype=dtypes.int32), Tensor(y, dtype=dtypes.int32)

    @TinyJit
    def step(lr: Tensor, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """One update at tinygrad's constant learning rate (lr is cfg.lr at every step); the loss
        is realized after the update, as this experiment's recorded losses were."""
        loss = lm_loss(model, x, y)                      # mean over all positions
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.realize(), loss                      # no gradient norm: no clipping here

    # No evaluation during training: a record after every step (eval_interval=1, no metrics)
    # keeps each step's loss, as step_loss.
    schedule = TrainConfig(steps=cfg.steps, lr=cfg.lr, min_lr=cfg.lr, warmup_steps=0,
                           schedule="constant", grad_clip=0.0, eval_interval=1, log_interval=50,
                           seed=cfg.seed)
    progress = (lambda line: print(line, file=log)) if log is not None else None
    history = train(model, opt, get_batch, schedule, eval_fn=lambda model: {}, log=progress,
                    train_step=step)
    return model, [record["step_loss"] for record in history[1:]]

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

def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="python -m lama.reversal",
                    description="Train one transformer block to reverse random sequences, once "
                                "with a causal mask and once without, and report the accuracy at "
                                "each output position as JSON.")
    add_config_options(parser, ReversalConfig, exclude=("causal",))
    parser.add_argument("--masks", nargs="+", choices=["causal", "bidirectional"],
                        default=["causal", "bidirectional"],
                        help="the models to train (default: both)")
    parser.add_argument("--out", help="also write the JSON to this file "
                                      "(docs/results/reversal.json)")
    args = parser.parse_args(argv)
    cfg = config_from_args(parser, args, ReversalConfig)
    folder = Path(args.out).resolve().parent if args.out else None
    if folder is not None and not folder.is_dir():
        parser.error(f"--out {args.out}: the folder {folder} does not exist")

    settings = {k: v for k, v in asdict(cfg).items() if k != "causal"}
    result = {"command": recorded_command("python -m lama.reversal", argv), "settings": settings,
              "chance": 1 / cfg.vocab_size, "chance_loss": math.log(cfg.vocab_size), "runs": {}}
    for name in args.masks:
        cfg = replace(cfg, causal=name == "causal")
        print(f"training the {name} model", file=sys.stderr)
        start = time.perf_counter()
        model, losses = train_reversal(cfg, log=sys.stderr)
        print(f"{name}: {time.perf_counter() - start:.1f} s", file=sys.stderr)
        every_10th = [round(loss, 4) for loss in losses[::10]]
        result["runs"][name] = {**evaluate(model, cfg), "train_loss": every_10th}
    text = json.dumps(result, indent=1)
    if args.out:
        atomic_write(args.out, text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
