# Generated from docs/shakespeare.md by tools/tangle.py. Do not edit: change the chapter.
"""The book's character-level GPT on tiny Shakespeare, and the command that trains it:

    python -m lama.shakespeare --out docs/results/shakespeare

writes the trained model (config.json + model.safetensors, readable by python -m lama.gpt --weights)
and metrics.json (losses, samples, wall time) into --out; checkpoints for resuming go to --work
(default: runs/shakespeare)."""
from __future__ import annotations

import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tinygrad import Tensor
from tinygrad.nn.state import get_state_dict

from lama.checkpoint import Checkpoints
from lama.cli import (Parser, add_config_options, atomic_write_json, config_from_args, fail,
                      recorded_command)
from lama.data import CharTokenizer, DataError, TokenBatches, split, tiny_shakespeare
from lama.generate import Generator
from lama.model import GPT, GPTConfig
from lama.train import AdamW, TrainConfig, TrainingDiverged, log_stderr, train
from lama.weights import save_gpt2


@dataclass
class ShakespeareConfig:
    """The run: nanoGPT's CPU settings for tiny Shakespeare."""
    n_layer: int = field(default=4, metadata={"help": "transformer blocks"})
    n_head: int = field(default=4, metadata={"help": "attention heads per block"})
    n_embd: int = field(default=128, metadata={"help": "channels per position"})
    block_size: int = field(default=64, metadata={"help": "the context window, in characters"})
    batch_size: int = field(default=12, metadata={"help": "windows per training step"})
    steps: int = field(default=2000, metadata={"help": "optimizer steps"})
    lr: float = field(default=1e-3, metadata={"help": "peak learning rate"})
    min_lr: float = field(default=1e-4, metadata={"help": "learning rate at the end of the cosine"})
    warmup_steps: int = field(default=100, metadata={"help": "linear warmup steps"})
    beta2: float = field(default=0.99, metadata={"help": "AdamW's beta2"})
    weight_decay: float = field(default=0.1, metadata={"help": "AdamW's decay, on the matrices"})
    grad_clip: float = field(default=1.0, metadata={"help": "max gradient norm; 0: no clipping"})
    eval_interval: int = field(default=250, metadata={"help": "evaluate, sample and checkpoint "
                                                              "every this many steps"})
    eval_batches: int = field(default=20, metadata={"help": "batches per evaluation and split"})
    sample_chars: int = field(default=200, metadata={"help": "characters sampled per evaluation"})
    seed: int = field(default=1337, metadata={"help": "seed of the weights and the batches"})

    def __post_init__(self):   # a mistake is reported before any data is read
        for name in ("n_layer", "n_head", "n_embd", "block_size", "batch_size", "sample_chars"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd={self.n_embd} is not divisible by n_head={self.n_head}")
        if not 0 <= self.beta2 < 1 or self.weight_decay < 0:
            raise ValueError("beta2 must be in [0, 1) and weight_decay at least 0")
        self.train_config()    # checks the schedule's settings

    def train_config(self) -> TrainConfig:
        return TrainConfig(steps=self.steps, lr=self.lr, min_lr=self.min_lr,
                           warmup_steps=self.warmup_steps, grad_clip=self.grad_clip,
                           eval_interval=self.eval_interval, eval_batches=self.eval_batches,
                           seed=self.seed)

def build(cfg: ShakespeareConfig, vocab_size: int) -> GPT:
    """A GPT-2-shaped model of cfg's size for a vocabulary of vocab_size characters."""
    Tensor.manual_seed(cfg.seed)
    return GPT(GPTConfig(vocab_size=vocab_size, n_positions=cfg.block_size, n_embd=cfg.n_embd,
                         n_layer=cfg.n_layer, n_head=cfg.n_head))

class Sampler:
    """on_record for lama.train.train: adds record["sample"], text the model generates as it is."""

    def __init__(self, tokenizer: CharTokenizer, chars: int, seed: int, prompt: str = "\n"):
        self.tokenizer, self.chars, self.seed, self.prompt = tokenizer, chars, seed, prompt
        self.generator: Generator | None = None

    def __call__(self, record: dict, model: GPT) -> None:
        if self.generator is None:             # compiled once; it reads the weights as they are
            self.generator = Generator(model)
        ids = self.tokenizer.encode(self.prompt).tolist()
        new = self.generator.generate(ids, self.chars, temperature=0.8, seed=self.seed)
        record["sample"] = self.tokenizer.decode(list(new))

def run(cfg: ShakespeareConfig, out: str | os.PathLike, work: str | os.PathLike,
        data_dir: str | os.PathLike | None = None, log=log_stderr, command: str = "") -> dict:
    """Train the model of cfg, resuming from work if a checkpoint is there, and write the results
    into out. Returns the metrics that metrics.json holds."""
    text = tiny_shakespeare(data_dir)
    tokenizer = CharTokenizer.from_text(text)                        # 65 characters
    train_ids, val_ids = split(tokenizer.encode(text))               # 90% / 10%
    batches = TokenBatches(train_ids, val_ids, cfg.batch_size, cfg.block_size)
    model = build(cfg, tokenizer.vocab_size)
    optimizer = AdamW(get_state_dict(model), lr=cfg.lr, betas=(0.9, cfg.beta2),
                      weight_decay=cfg.weight_decay)
    start = time.perf_counter()
    history = train(model, optimizer, batches, cfg.train_config(),
                    Checkpoints(work, meta=asdict(cfg)), log=log,
                    on_record=Sampler(tokenizer, cfg.sample_chars, cfg.seed))
    out = Path(out)
    save_gpt2(model, out, extra={"tokenizer": {"kind": "char", "chars": tokenizer.chars}})
    timed = [r["tokens_per_s"] for r in history if r["tokens_per_s"]]
    metrics = {
        "command": command,
        "config": asdict(cfg),
        "parameters": model.num_params(),
        "uniform_loss": float(np.log(tokenizer.vocab_size)),
        "history": history,                              # step 0 is the untrained model
        "wall_s": history[-1]["elapsed_s"],              # training and evaluation, all sessions
        "tokens_per_s": float(np.mean(timed)) if timed else None,
        "this_session_s": time.perf_counter() - start,   # with compiling and sampling
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
    }
    atomic_write_json(out / "metrics.json", metrics)
    return metrics

PROG = "python -m lama.shakespeare"


def parser() -> Parser:
    p = Parser(prog=PROG, description="Train the book's character-level GPT on tiny Shakespeare; "
               "resumes from --work.")
    p.add_argument("--out", default="shakespeare",
                   help="where the model and metrics.json go (default: ./shakespeare)")
    p.add_argument("--work", default="runs/shakespeare",
                   help="checkpoints for resuming (default: runs/shakespeare)")
    p.add_argument("--data-dir", default=None,
                   help="data directory (default: $LAMA_DATA_DIR or ~/.cache/lama/data)")
    add_config_options(p, ShakespeareConfig)
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    cfg = config_from_args(p, args, ShakespeareConfig)
    try:
        metrics = run(cfg, args.out, args.work, args.data_dir,
                      command=recorded_command(PROG, argv))
    except (ValueError, DataError, FileExistsError, TrainingDiverged) as e:
        return fail(PROG, str(e))
    except KeyboardInterrupt:
        print("\ninterrupted; run the same command again to resume from the last checkpoint",
              file=sys.stderr)
        return 130
    last = metrics["history"][-1]
    print(f"val loss {last['val_loss']:.4f} after {last['step']} steps, {metrics['wall_s']:.0f} s; "
          f"model and metrics in {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
