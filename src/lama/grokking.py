# Generated from docs/grokking.md by tools/tangle.py. Do not edit: change the chapter.
"""Grokking (Power et al. 2022) in the setting of Nanda et al. (2023): a one-layer transformer
learns (a + b) mod p from 30% of all pairs, memorises them first and generalises thousands of
steps later.

    python -m lama.grokking --out docs/results/grokking
"""
import json
import math
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tinygrad import Tensor, nn
from tinygrad.helpers import Context
from tinygrad.nn.state import get_parameters, get_state_dict

from lama.block import Block, BlockConfig
from lama.checkpoint import Checkpoints, load_checkpoint
from lama.cli import (Parser, add_config_options, atomic_write_json, config_from_args, fail,
                      recorded_command)
from lama.embeddings import EmbeddingConfig, TokenPositionEmbedding
from lama.train import AdamW, TrainConfig, TrainingDiverged, log_stderr, make_eval_step, train

def make_split(p: int, frac: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """All p * p pairs (a, b), shuffled by `seed`: the first int(frac * p * p) for training, the
    rest for testing. -> train (n, 2), test (p * p - n, 2), int64."""
    if not 0.0 < frac < 1.0:
        raise ValueError(f"frac must be between 0 and 1 (exclusive), got {frac}")
    pairs = np.random.default_rng(seed).permutation(p * p)     # pair k is (k // p, k % p)
    n = int(frac * p * p)
    if n < 1 or n == p * p:
        raise ValueError(f"frac={frac} leaves an empty training or test set for p={p}")
    both = np.stack([pairs // p, pairs % p], axis=1)
    return both[:n], both[n:]

def encode(pairs: np.ndarray, p: int, multiple: int = 128) -> tuple[Tensor, Tensor, Tensor]:
    """Pairs (n, 2) -> ids (m, 3) "a b =" (the token "=" is p), targets (m,) (a + b) mod p and
    weights (m,): 1 for the n real rows, 0 for the padding up to m, a multiple of `multiple`."""
    n = len(pairs)
    m = -(-n // multiple) * multiple                            # round up
    padded = np.concatenate([pairs, np.zeros((m - n, 2), dtype=pairs.dtype)])
    ids = np.concatenate([padded, np.full((m, 1), p)], axis=1)
    answers = (padded[:, 0] + padded[:, 1]) % p
    return (Tensor(ids.astype(np.int32)), Tensor(answers.astype(np.int32)),
            Tensor((np.arange(m) < n).astype(np.float32)))

@dataclass(frozen=True)
class GrokConfig:
    """The model and the run (defaults: Nanda et al. 2023)."""
    p: int = field(default=113, metadata={"help": "the modulus (a prime); token p is '='"})
    frac: float = field(default=0.3, metadata={"help": "fraction of all pairs used for training"})
    n_embd: int = field(default=128, metadata={"help": "channels per position (d_model)"})
    n_head: int = field(default=4, metadata={"help": "attention heads"})
    lr: float = field(default=1e-3, metadata={"help": "learning rate after warmup"})
    weight_decay: float = field(default=1.0, metadata={"help": "AdamW's decay, on every parameter"})
    beta2: float = field(default=0.98, metadata={"help": "AdamW's beta2"})
    warmup_steps: int = field(default=10, metadata={"help": "linear warmup, then a constant rate"})
    steps: int = field(default=15000, metadata={"help": "full-batch training steps"})
    eval_interval: int = field(default=100, metadata={"help": "evaluate every this many steps"})
    checkpoint_interval: int = field(default=500, metadata={"help": "checkpoint every this many"})
    seed: int = field(default=0, metadata={"help": "seed of the split and the initial weights"})

    def __post_init__(self):
        if self.p < 3 or any(self.p % d == 0 for d in range(2, int(self.p ** 0.5) + 1)):
            raise ValueError(f"p must be a prime >= 3, got {self.p}")
        if not 0 < self.frac < 1 or int(self.frac * self.p * self.p) in (0, self.p * self.p):
            raise ValueError(f"frac must leave pairs for both training and testing, "
                             f"got {self.frac}")
        if self.n_embd < 1 or self.n_head < 1 or self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be a positive multiple of n_head "
                             f"({self.n_head})")
        if self.lr <= 0 or self.weight_decay < 0 or not 0 <= self.beta2 < 1:
            raise ValueError("lr must be positive, weight_decay at least 0 and beta2 in [0, 1)")
        for name in ("steps", "eval_interval", "checkpoint_interval", "warmup_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")

    def train_config(self) -> TrainConfig:
        """The loop's settings: a constant rate after warmup, no clipping."""
        return TrainConfig(steps=self.steps, lr=self.lr, min_lr=self.lr,
                           warmup_steps=self.warmup_steps, schedule="constant", grad_clip=0.0,
                           eval_interval=self.eval_interval,
                           checkpoint_interval=self.checkpoint_interval,
                           log_interval=self.eval_interval, seed=self.seed)

class GrokModel:
    """One transformer block without LayerNorm, ReLU MLP, learned positions, separate embedding and
    unembedding. ids (B, 3) -> logits (B, p) at the last position (or (B, 3, p) with
    last_only=False)."""

    def __init__(self, config: GrokConfig):
        C, p = config.n_embd, config.p
        self.config = config
        self.embed = TokenPositionEmbedding(EmbeddingConfig(p + 1, 3, C, "learned"))
        self.block = Block(BlockConfig(n_embd=C, n_head=config.n_head, norm="none",
                                       activation="relu"))
        self.unembed = nn.Linear(C, p, bias=False)
        # Nanda et al.'s initialisation: every matrix N(0, 1/C) (unembedding N(0, 1/p)), biases 0
        attn, mlp = self.block.attn, self.block.mlp
        for layer in (attn.c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj):
            layer.weight = Tensor.randn(*layer.weight.shape) / math.sqrt(C)
            layer.bias = Tensor.zeros(*layer.bias.shape)
        self.embed.wte.weight = Tensor.randn(p + 1, C) / math.sqrt(C)
        self.embed.wpe.weight = Tensor.randn(3, C) / math.sqrt(C)
        self.unembed.weight = Tensor.randn(p, C) / math.sqrt(p)
        Tensor.realize(*get_parameters(self))

    def __call__(self, ids: Tensor, last_only: bool = True) -> Tensor:
        x = self.embed(ids)                                        # (B, 3, C)
        if not last_only:
            return self.unembed(self.block(x))                     # (B, 3, p)
        return self.unembed(last_position(self.block, x))          # (B, p)

def last_position(block: Block, x: Tensor) -> Tensor:
    """The block's output at the last position only: x (B, T, C) -> (B, C). Exact for a block
    without LayerNorm: the last query attends to all T keys, and nothing else reads the others."""
    if block.norm != "none" or not block.residual:
        raise ValueError("last_position needs a block with norm='none' and residual connections")
    attn, C = block.attn, x.shape[-1]
    q, k, v = attn.c_attn(x).split(C, dim=-1)                     # (B, T, C) each
    q = q[:, -1:]                                                  # (B, 1, C): one query
    q, k, v = (attn.split_heads(t).contiguous() for t in (q, k, v))   # (B, nh, T or 1, hs)
    y, _ = attn.attend(q, k, v)                                    # (B, nh, 1, hs)
    h = x[:, -1:] + attn.project(y)                                # (B, 1, C)
    return (h + block.mlp(h))[:, 0]                                # (B, C)

def loss_and_accuracy(model: GrokModel, ids: Tensor, y: Tensor, w: Tensor) -> Tensor:
    """Cross-entropy and accuracy at the last position, over the rows with weight 1. -> (2,)"""
    logits = model(ids)                                            # (B, p)
    logp = logits.log_softmax(-1)
    picked = (Tensor.arange(logits.shape[-1]) == y.unsqueeze(-1)).where(logp, 0.0).sum(-1)   # (B,)
    correct = (logits.argmax(-1) == y).float()
    return Tensor.stack(-(picked * w).sum(), (correct * w).sum()) / w.sum()

def loss_fn(model: GrokModel, ids: Tensor, y: Tensor, w: Tensor) -> Tensor:
    return loss_and_accuracy(model, ids, y, w)[0]

def weight_norm(model) -> float:
    """The L2 norm of all parameters together."""
    squares = (float((p.numpy().astype(np.float64) ** 2).sum()) for p in get_parameters(model))
    return float(math.sqrt(sum(squares)))

MODEL_SETTINGS = ("p", "frac", "n_embd", "n_head", "weight_decay", "beta2")   # not in TrainConfig


class RunFolder(Checkpoints):
    """Checkpoints in out_dir that also rewrite out_dir/metrics.json at every save."""

    def __init__(self, out_dir, config: GrokConfig, command: str = ""):
        super().__init__(out_dir, meta={k: getattr(config, k) for k in MODEL_SETTINGS})
        self.config, self.command = config, command

    def save(self, model, optimizer, state: dict) -> None:
        super().save(model, optimizer, state)
        write_metrics(self.out / "metrics.json", self.command, self.config, state["history"])


def train_grokking(config: GrokConfig, out_dir=None, log=print,
                   command: str = "") -> tuple[GrokModel, list[dict]]:
    """Train from scratch (or resume from out_dir's checkpoint) and return the model and the
    history, one record every eval_interval steps. With an out_dir, every checkpoint also
    rewrites out_dir/metrics.json (the command, the configuration, the phases and the history)."""
    train_pairs, test_pairs = make_split(config.p, config.frac, config.seed)
    train_batch, test_batch = encode(train_pairs, config.p), encode(test_pairs, config.p)
    Tensor.realize(*train_batch, *test_batch)
    Tensor.manual_seed(config.seed)
    model = GrokModel(config)
    optimizer = AdamW(get_state_dict(model), lr=config.lr, betas=(0.9, config.beta2),
                      weight_decay=config.weight_decay, decay=lambda name, p: True)
    eval_step = make_eval_step(model, loss_and_accuracy)

    def eval_fn(model) -> dict:
        tr, te = eval_step(*train_batch).numpy(), eval_step(*test_batch).numpy()
        return {"train_loss": float(tr[0]), "train_acc": float(tr[1]), "test_loss": float(te[0]),
                "test_acc": float(te[1]), "weight_norm": weight_norm(model)}

    checkpoints = RunFolder(out_dir, config, command) if out_dir is not None else None
    full_batch = lambda split, rng: train_batch            # noqa: E731: every step, all pairs
    history = train(model, optimizer, full_batch, config.train_config(), checkpoints,
                    loss_fn=loss_fn, eval_fn=eval_fn, log=log)
    return model, history

def phases(history: list[dict], threshold: float = 0.99) -> dict:
    """The first step at which train accuracy, then test accuracy, reached `threshold` (None if
    never), and the wall time at each."""
    def first(key):
        hit = next((r for r in history if r[key] >= threshold), None)
        return (hit["step"], hit["elapsed_s"]) if hit else (None, None)
    (train_step, train_s), (test_step, test_s) = first("train_acc"), first("test_acc")
    return {"threshold": threshold, "train_step": train_step, "train_s": train_s,
            "test_step": test_step, "test_s": test_s}

def write_metrics(path: Path, command: str, config: GrokConfig, history: list[dict]) -> None:
    """The run's results as JSON, written atomically (never half a file)."""
    atomic_write_json(path, {"command": command, "config": asdict(config),
                             "phases": phases(history), "history": history})

PROG = "python -m lama.grokking"


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog=PROG, description="Train a one-layer transformer on (a + b) mod p with "
                    "full-batch AdamW and record train and test loss and accuracy (grokking).")
    add_config_options(parser, GrokConfig, aliases={"weight_decay": "--wd"})
    parser.add_argument("--out", required=True,
                        help="folder for metrics.json and the checkpoint; a run there is resumed")
    parser.add_argument("--beam", type=int, default=None, metavar="N",
                        help="search N-wide for faster kernels (tinygrad's BEAM): about 15 minutes "
                             "on first use, then cached in ~/.cache/tinygrad (default: off)")
    args = parser.parse_args(argv)
    config = config_from_args(parser, args, GrokConfig)
    if args.beam is not None and args.beam < 1:
        parser.error(f"--beam must be at least 1, got {args.beam}")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        parser.error(f"--out {out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    try:
        with Context(**({} if args.beam is None else {"BEAM": args.beam})):   # searched as compiled
            train_grokking(config, out, log=log_stderr, command=recorded_command(PROG, argv))
    except (ValueError, TrainingDiverged) as e:   # e.g. a checkpoint of another configuration
        return fail(PROG, str(e))
    print(out / "metrics.json")
    return 0

def load_run(out_dir) -> tuple[GrokConfig, GrokModel, dict]:
    """The configuration, the model at the last checkpoint and the metrics of a run written by
    `python -m lama.grokking --out out_dir`."""
    out = Path(out_dir)
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    config = GrokConfig(**metrics["config"])
    model = GrokModel(config)
    if load_checkpoint(out, model) is None:
        raise FileNotFoundError(f"{out} has no checkpoint.json: is it the --out of "
                                f"python -m lama.grokking?")
    return config, model, metrics

def fourier_basis(p: int) -> np.ndarray:
    """The orthonormal Fourier basis of functions on 0..p-1 (p odd), as rows (p, p): the constant,
    then cos(2 pi k x / p) and sin(2 pi k x / p) for k = 1 .. (p - 1) / 2."""
    x = np.arange(p)
    rows = [np.full(p, 1.0)]
    for k in range(1, (p - 1) // 2 + 1):
        rows += [np.cos(2 * np.pi * k * x / p), np.sin(2 * np.pi * k * x / p)]
    basis = np.stack(rows)
    return basis / np.linalg.norm(basis, axis=1, keepdims=True)


def frequency_norms(W: np.ndarray) -> np.ndarray:
    """W (p, C), one row per input 0..p-1 (the numbers' embeddings) -> ((p - 1) / 2,): for each
    frequency k, the norm of W's cos and sin components together,
    sqrt(|cos_k W|^2 + |sin_k W|^2)."""
    F = fourier_basis(W.shape[0]) @ W                              # (p, C): W in the Fourier basis
    return np.sqrt((F[1::2] ** 2).sum(-1) + (F[2::2] ** 2).sum(-1))

if __name__ == "__main__":
    sys.exit(main())
