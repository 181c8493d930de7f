# Generated from docs/training.md by tools/tangle.py. Do not edit: change the chapter, then run tools/tangle.py.
"""The training loop: AdamW, a warmup + cosine learning-rate schedule, gradient clipping,
evaluation, a TinyJit-compiled step, atomic checkpoints with exact resumption, and a stop on
divergence.

    optimizer = AdamW(get_state_dict(model), lr=1e-3, weight_decay=0.1)
    history = train(model, optimizer, TokenBatches(...), TrainConfig(steps=5000), out_dir="runs/x")
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import re
import sys
import tempfile
import time
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from tinygrad import Tensor, TinyJit, dtypes
from tinygrad.helpers import Context
from tinygrad.nn.state import get_state_dict, safe_load, safe_load_metadata, safe_save

def lm_loss(model, x: Tensor, y: Tensor) -> Tensor:
    """Mean next-token cross-entropy: x (B, T) int, y (B, T) int -> scalar. `model(x)` must return
    logits (B, T, V)."""
    return model(x).sparse_categorical_crossentropy(y)

def decays_2d(name: str, param: Tensor) -> bool:
    """nanoGPT's rule: weight decay for matrices and embeddings, not for biases and LayerNorm."""
    return param.ndim >= 2


class AdamW:
    """Adam with decoupled weight decay (Kingma and Ba 2015; Loshchilov and Hutter 2019).
    `params` maps names to parameter tensors, e.g. get_state_dict(model); `decay(name, tensor)`
    says which of them weight decay applies to."""

    def __init__(self, params: dict[str, Tensor], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.01,
                 decay: Callable[[str, Tensor], bool] = decays_2d):
        named = {name: p for name, p in params.items() if p.is_param}  # skip buffers (e.g. BatchNorm's)
        if not named:
            raise ValueError("AdamW got no parameters to optimise")
        self.names, self.params = list(named), list(named.values())
        self.decayed = [decay(name, p) for name, p in named.items()]
        self.b1, self.b2, self.eps, self.wd = betas[0], betas[1], eps, weight_decay
        self.lr = Tensor([lr], dtype=dtypes.float32).contiguous()     # a tensor: the schedule changes it
        self.t = Tensor([0.0], dtype=dtypes.float32).contiguous()     # steps taken, for bias correction
        self.m = {name: Tensor.zeros(*p.shape, dtype=dtypes.float32).contiguous() for name, p in named.items()}
        self.v = {name: Tensor.zeros(*p.shape, dtype=dtypes.float32).contiguous() for name, p in named.items()}
        Tensor.realize(self.lr, self.t, *self.m.values(), *self.v.values())

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def schedule_step(self) -> list[Tensor]:
        """Set up one update from the parameters' .grad; return the tensors to realize."""
        self.t.assign(self.t + 1)
        c1, c2 = 1 - self.b1 ** self.t, 1 - self.b2 ** self.t                # bias corrections, (1,)
        for name, p, decayed in zip(self.names, self.params, self.decayed):
            if p.grad is None:        # not used by the loss: no gradient, no update
                continue
            m, v, g = self.m[name], self.v[name], p.grad.float()
            m.assign(self.b1 * m + (1 - self.b1) * g)
            v.assign(self.b2 * v + (1 - self.b2) * g * g)
            update = (m / c1) / ((v / c2).sqrt() + self.eps)
            if decayed and self.wd:
                update = update + self.wd * p.detach()                        # decoupled: not in m, v
            p.assign((p.detach() - self.lr * update).cast(p.dtype))
        return [self.t, *self.params, *self.m.values(), *self.v.values()]

    def step(self):
        Tensor.realize(*self.schedule_step())

def cosine_lr(step: int, lr: float, min_lr: float, warmup_steps: int, decay_steps: int) -> float:
    """The learning rate at `step` (from 0): linear warmup to `lr` over `warmup_steps`, then a
    half cosine down to `min_lr` at `decay_steps`, and `min_lr` after that."""
    if step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    if step >= decay_steps:
        return min_lr
    progress = (step - warmup_steps) / (decay_steps - warmup_steps)   # 0 -> 1 along the cosine
    return min_lr + 0.5 * (lr - min_lr) * (1.0 + math.cos(math.pi * progress))

def clip_grad_norm(params: list[Tensor], max_norm: float) -> Tensor:
    """Scale the .grad of all `params` together so that their global L2 norm is at most `max_norm`
    (no clipping when max_norm <= 0). Returns the norm before clipping, a scalar Tensor."""
    grads = [p.grad for p in params if p.grad is not None]
    norm = Tensor.stack(*[g.float().square().sum() for g in grads]).sum().sqrt()
    if max_norm > 0:
        scale = (max_norm / (norm + 1e-6)).minimum(1.0)          # 1 when the norm is small enough
        for p in params:
            if p.grad is not None:
                p.grad = p.grad * scale.cast(p.grad.dtype)
    return norm

def make_eval_step(model, loss_fn: Callable = lm_loss, jit: bool = True) -> Callable[..., Tensor]:
    """The loss of one batch as a (compiled) function of the batch's tensors; one compiled
    version per batch shape."""
    compiled: dict[tuple, Callable[..., Tensor]] = {}
    Tensor.realize(*get_state_dict(model).values())  # see "One compiled step": never capture the init

    def loss_of(*batch: Tensor) -> Tensor:
        return loss_fn(model, *batch).realize()

    def eval_step(*batch: Tensor) -> Tensor:
        if not jit:
            return loss_of(*batch)
        key = tuple((t.shape, t.dtype) for t in batch)
        if key not in compiled:
            compiled[key] = TinyJit(loss_of)
        return compiled[key](*batch)
    return eval_step


def evaluate(eval_step: Callable[..., Tensor], get_batch: Callable, split: str, batches: int, seed: int) -> float:
    """Mean loss over `batches` batches of `split`, drawn from a generator seeded by (seed, split),
    outside training mode."""
    rng = np.random.default_rng([seed, zlib.crc32(split.encode())])
    with Context(TRAINING=0):
        return float(np.mean([eval_step(*get_batch(split, rng)).item() for _ in range(batches)]))

def make_train_step(model, optimizer, loss_fn: Callable = lm_loss, grad_clip: float = 1.0,
                    jit: bool = True) -> Callable[..., tuple[Tensor, Tensor]]:
    """One optimizer step as a function step(lr, *batch) -> (loss, grad_norm), scalar Tensors.
    `lr` is a (1,) float32 Tensor: under TinyJit only tensor arguments change between calls."""
    Tensor.realize(*get_state_dict(model).values())  # the parameters must be buffers before a capture

    def step(lr: Tensor, *batch: Tensor) -> tuple[Tensor, Tensor]:
        for opt in getattr(optimizer, "optimizers", [optimizer]):   # tinygrad's OptimizerGroup has several
            opt.lr.assign(lr)                        # the schedule's value for this step
        loss = loss_fn(model, *batch)
        optimizer.zero_grad()
        loss.backward()
        norm = clip_grad_norm(optimizer.params, grad_clip)
        Tensor.realize(loss, norm, *optimizer.schedule_step())   # one schedule for all of it
        return loss, norm
    return TinyJit(step) if jit else step

CHECKPOINT = "checkpoint.json"


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call write(tmp) on a temporary file beside `path`, flush it to disk, and rename it to `path`
    (atomic). On any error the temporary file is removed and `path` is untouched."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def optimizer_state(optimizer, model) -> dict[str, Tensor]:
    """The optimizer's own tensors (moments, step count, learning rate), without the model's
    parameters, which it also holds. Works for lama's AdamW and for tinygrad's optimizers."""
    model_tensors = {id(t) for t in get_state_dict(model).values()}
    return {k: t for k, t in get_state_dict(optimizer).items() if id(t) not in model_tensors}


def save_checkpoint(out_dir: str | os.PathLike, model, optimizer, state: dict) -> Path:
    """Write the checkpoint of step state["step"] into out_dir: model and optimizer tensors as
    safetensors, then `state` (JSON-able) as checkpoint.json, the commit. Returns its path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    step = int(state["step"])
    tensors = {"model": get_state_dict(model), "optimizer": optimizer_state(optimizer, model)}
    for kind, named in tensors.items():
        for name, t in named.items():
            if not np.isfinite(t.numpy()).all():
                raise TrainingDiverged(f"not saving step {step}: {kind} tensor {name} is not finite; "
                                       f"the last good checkpoint in {out} is kept")
    files = {}
    for kind, named in tensors.items():
        files[kind] = f"{kind}-{step:07d}.safetensors"
        _atomic_write(out / files[kind], lambda tmp, named=named: safe_save(
            {k: t.contiguous() for k, t in named.items()}, str(tmp), metadata={"step": str(step)}))
    text = json.dumps({**state, "files": files}, indent=1)
    _atomic_write(out / CHECKPOINT, lambda tmp: tmp.write_text(text + "\n", encoding="utf-8"))  # the commit
    with contextlib.suppress(OSError):  # make the rename itself durable
        fd = os.open(out, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
    for old in out.iterdir():  # older steps' tensors, and temporary files that a crash left behind
        if (re.fullmatch(r"(model|optimizer)-\d+\.safetensors", old.name) and old.name not in files.values()) \
                or (old.name.startswith(".") and old.name.endswith(".tmp")):
            with contextlib.suppress(OSError):
                old.unlink()
    return out / CHECKPOINT

def _load_into(targets: dict[str, Tensor], path: Path, what: str, step: int) -> None:
    _, _, header = safe_load_metadata(str(path))
    if header.get("__metadata__", {}).get("step") != str(step):
        raise ValueError(f"{path} does not hold the tensors of step {step}")
    source = safe_load(str(path))
    if set(source) != set(targets):
        missing, extra = sorted(set(targets) - set(source)), sorted(set(source) - set(targets))
        raise ValueError(f"{path} does not fit the {what}: missing {missing[:3]}, unexpected {extra[:3]}")
    for name, t in targets.items():
        if t.shape != source[name].shape:
            raise ValueError(f"{path}: {name} has shape {source[name].shape}, the {what} has {t.shape}")
        t.assign(source[name].to(t.device).cast(t.dtype))
    Tensor.realize(*targets.values())


def load_checkpoint(out_dir: str | os.PathLike, model=None, optimizer=None) -> dict | None:
    """The state saved in out_dir's checkpoint.json, or None if there is none. Loads its tensors
    into `model` and `optimizer` when they are given."""
    if optimizer is not None and model is None:
        raise ValueError("loading an optimizer's state needs its model too (to tell their tensors apart)")
    path = Path(out_dir) / CHECKPOINT
    if not path.is_file():
        return None
    state = json.loads(path.read_text(encoding="utf-8"))
    if model is not None:
        _load_into(get_state_dict(model), path.parent / state["files"]["model"], "model", state["step"])
    if optimizer is not None:
        _load_into(optimizer_state(optimizer, model), path.parent / state["files"]["optimizer"],
                   "optimizer", state["step"])
    return state

class TrainingDiverged(RuntimeError):
    """The loss or the gradient became NaN or infinite. `history` holds the metrics up to then."""

    def __init__(self, message: str, history: list[dict] | None = None):
        super().__init__(message)
        self.history = history or []

@dataclass
class TrainConfig:
    """How to train: the length of the run, the schedule, clipping, evaluation and checkpoints."""
    steps: int = 1000              # optimizer steps in the whole run
    lr: float = 1e-3               # peak learning rate, reached at the end of warmup
    min_lr: float = 1e-4           # the floor of the cosine decay (nanoGPT: lr / 10)
    warmup_steps: int = 100        # linear warmup over this many steps
    decay_steps: int | None = None   # where the cosine reaches min_lr; None: at `steps`
    grad_clip: float = 1.0         # max global gradient norm; 0 turns clipping off
    eval_interval: int = 100       # evaluate and write a checkpoint every this many steps
    eval_batches: int = 20         # batches per evaluation and split
    log_interval: int = 10         # a progress line every this many steps
    seed: int = 1337               # seeds the batch sampler, the evaluation batches and dropout
    jit: bool = True               # compile the steps with TinyJit

    def __post_init__(self):
        if min(self.steps, self.eval_interval, self.eval_batches, self.log_interval) < 1:
            raise ValueError("steps, eval_interval, eval_batches and log_interval must be at least 1")
        if not 0 <= self.min_lr <= self.lr or self.warmup_steps < 0 or self.grad_clip < 0:
            raise ValueError("need 0 <= min_lr <= lr, warmup_steps >= 0 and grad_clip >= 0")

    def lr_at(self, step: int) -> float:
        return cosine_lr(step, self.lr, self.min_lr, self.warmup_steps,
                         self.steps if self.decay_steps is None else self.decay_steps)


def log_stderr(line: str) -> None:
    """The default progress printer: one line to standard error."""
    print(line, file=sys.stderr, flush=True)

def _resume(out: Path, model, optimizer, config: TrainConfig, resume: bool) -> dict | None:
    """Load the checkpoint in `out` into model and optimizer and return its state; None if there
    is none. Refuses a checkpoint of another configuration, and overwriting one (resume=False)."""
    saved = load_checkpoint(out)
    if saved is None:
        return None
    if not resume:
        raise FileExistsError(f"{out} already has a checkpoint: resume it, or choose another directory")
    differ = {k: (v, saved["config"].get(k)) for k, v in asdict(config).items()
              if k != "log_interval" and saved["config"].get(k) != v}
    if differ:
        raise ValueError(f"the checkpoint in {out} was made with a different configuration "
                         f"(setting: (now, then)) {differ}: use the same one, or another directory")
    return load_checkpoint(out, model, optimizer)


def train(model, optimizer, get_batch: Callable, config: TrainConfig, out_dir: str | os.PathLike | None = None,
          loss_fn: Callable = lm_loss, resume: bool = True, meta: dict | None = None,
          log: Callable[[str], None] | None = log_stderr,
          on_record: Callable[[dict, object], None] | None = None) -> list[dict]:
    """Train `model` in place for config.steps optimizer steps and return the history of metrics.

    get_batch(split, rng) -> tuple of Tensors, split "train" or "val", all randomness from the numpy
    Generator rng, the same shapes every call; loss_fn(model, *batch) -> scalar Tensor. With an
    out_dir, a checkpoint is written every config.eval_interval steps and at the end, and training
    resumes from one that is there. Raises TrainingDiverged on a non-finite loss or gradient.
    on_record(record, model), if given, runs after each evaluation, outside training mode, and may
    add entries to the record (e.g. samples); its time is not counted in elapsed_s."""
    out = Path(out_dir) if out_dir is not None else None
    log = log or (lambda line: None)
    rng = np.random.default_rng(config.seed)                 # draws the training batches
    state = _resume(out, model, optimizer, config, resume) if out is not None else None
    start, history, elapsed_before = (state["step"], state["history"], state["elapsed_s"]) if state else (0, [], 0.0)
    if state:
        rng.bit_generator.state = state["rng"]
        log(f"resuming from step {start} in {out}")
    Tensor.manual_seed(config.seed + start)                   # dropout's masks (not saved; see above)
    train_step = make_train_step(model, optimizer, loss_fn, config.grad_clip, config.jit)
    eval_step = make_eval_step(model, loss_fn, config.jit)

    t0 = time.perf_counter()
    losses, seconds, tokens = [], [], []                      # per step, since the last record
    with Context(TRAINING=1):
        for step in range(start, config.steps + 1):           # step = updates made so far
            if (step % config.eval_interval == 0 or step == config.steps) and not (state and step == start):
                record = {
                    "step": step,
                    "step_loss": float(np.mean(losses)) if losses else None,
                    "train_loss": evaluate(eval_step, get_batch, "train", config.eval_batches, config.seed),
                    "val_loss": evaluate(eval_step, get_batch, "val", config.eval_batches, config.seed),
                    "lr": config.lr_at(step),
                    "tokens_per_s": sum(tokens) / sum(seconds) if seconds else None,
                    "elapsed_s": elapsed_before + time.perf_counter() - t0,
                }
                losses, seconds, tokens = [], [], []
                if not (math.isfinite(record["train_loss"]) and math.isfinite(record["val_loss"])):
                    raise TrainingDiverged(f"the evaluation at step {step} is not finite: {record}", history)
                if on_record is not None:
                    hook_start = time.perf_counter()
                    with Context(TRAINING=0):
                        on_record(record, model)
                    t0 += time.perf_counter() - hook_start       # not training time
                history.append(record)
                log(f"step {step}: train loss {record['train_loss']:.4f}, val loss {record['val_loss']:.4f}")
                if out is not None:
                    save_checkpoint(out, model, optimizer, {
                        "step": step, "config": asdict(config), "rng": rng.bit_generator.state,
                        "history": history, "elapsed_s": record["elapsed_s"], "meta": meta or {}})
            if step == config.steps:
                break

            lr = config.lr_at(step)
            t = time.perf_counter()
            batch = get_batch("train", rng)
            loss, norm = train_step(Tensor([lr], dtype=dtypes.float32), *batch)
            loss, norm = loss.item(), norm.item()             # read now: the next replay overwrites them
            seconds.append(time.perf_counter() - t)
            tokens.append(batch[0].numel())
            if not (math.isfinite(loss) and math.isfinite(norm)):
                last = f"step {history[-1]['step']} in {out}" if out is not None and history else "none"
                raise TrainingDiverged(
                    f"training diverged at step {step}: loss {loss}, gradient norm {norm} (lr {lr:.3g}); "
                    f"stopped without saving, the last good checkpoint is {last}. Lower the learning rate "
                    f"or lengthen the warmup, then resume", history)
            losses.append(loss)
            if (step + 1) % config.log_interval == 0:         # over the steps since the last line or record
                k = min(config.log_interval, len(losses))
                log(f"step {step + 1:>6}/{config.steps}  loss {np.mean(losses[-k:]):.4f}  lr {lr:.2e}  "
                    f"{sum(tokens[-k:]) / sum(seconds[-k:]):,.0f} tok/s")
    return history
