# Generated from docs/training.md by tools/tangle.py. Do not edit: change the chapter.
"""The training loop: AdamW, a warmup + cosine learning-rate schedule, gradient clipping,
evaluation, a TinyJit-compiled step, and a stop on divergence, with hooks for what differs
between experiments (evaluation, checkpoints, samples).

    optimizer = AdamW(get_state_dict(model), lr=1e-3, weight_decay=0.1)
    history = train(model, optimizer, TokenBatches(...), TrainConfig(steps=5000))
"""
from __future__ import annotations

import math
import sys
import time
import zlib
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np
from tinygrad import Tensor, TinyJit, dtypes
from tinygrad.nn.state import get_state_dict

from lama.block import training

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

    def __init__(self, params: dict[str, Tensor], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.01,
                 decay: Callable[[str, Tensor], bool] = decays_2d):
        named = {name: p for name, p in params.items() if p.is_param}   # skip buffers (BatchNorm's)
        if not named:
            raise ValueError("AdamW got no parameters to optimise")
        self.names, self.params = list(named), list(named.values())
        self.decayed = [decay(name, p) for name, p in named.items()]
        self.b1, self.b2, self.eps, self.wd = betas[0], betas[1], eps, weight_decay
        self.lr = Tensor([lr], dtype=dtypes.float32).contiguous()   # a tensor: the schedule sets it
        self.t = Tensor([0.0], dtype=dtypes.float32).contiguous()   # steps taken (bias correction)
        zeros = lambda p: Tensor.zeros(*p.shape, dtype=dtypes.float32).contiguous()   # noqa: E731
        self.m = {name: zeros(p) for name, p in named.items()}      # first moments
        self.v = {name: zeros(p) for name, p in named.items()}      # second moments
        Tensor.realize(self.lr, self.t, *self.m.values(), *self.v.values())

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def schedule_step(self) -> list[Tensor]:
        """Set up one update from the parameters' .grad; return the tensors to realize."""
        self.t.assign(self.t + 1)
        c1, c2 = 1 - self.b1 ** self.t, 1 - self.b2 ** self.t          # bias corrections, (1,)
        for name, p, decayed in zip(self.names, self.params, self.decayed):
            if p.grad is None:        # not used by the loss: no gradient, no update
                continue
            m, v, g = self.m[name], self.v[name], p.grad.float()
            m.assign(self.b1 * m + (1 - self.b1) * g)
            v.assign(self.b2 * v + (1 - self.b2) * g * g)
            update = (m / c1) / ((v / c2).sqrt() + self.eps)
            if decayed and self.wd:
                update = update + self.wd * p.detach()                  # decoupled: not in m, v
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

def realize_parameters(model) -> None:
    """Give every parameter a buffer of its own, before any step is captured ("One compiled
    step" below says why)."""
    parameters = list(get_state_dict(model).values())
    for p in parameters:
        p.replace(p.contiguous())      # a constant like Tensor.ones(C) owns no buffer until copied
    Tensor.realize(*parameters)


def make_eval_step(model, loss_fn: Callable = lm_loss, jit: bool = True) -> Callable[..., Tensor]:
    """The loss of one batch as a (compiled) function of the batch's tensors; one compiled
    version per batch shape."""
    compiled: dict[tuple, Callable[..., Tensor]] = {}
    realize_parameters(model)

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


def evaluate(eval_step: Callable[..., Tensor], get_batch: Callable, split: str, batches: int,
             seed: int) -> float:
    """Mean loss over `batches` batches of `split`, drawn from a generator seeded by (seed, split),
    outside training mode."""
    rng = np.random.default_rng([seed, zlib.crc32(split.encode())])
    with training(False):
        return float(np.mean([eval_step(*get_batch(split, rng)).item() for _ in range(batches)]))

def make_train_step(model, optimizer, loss_fn: Callable = lm_loss, grad_clip: float = 1.0,
                    jit: bool = True) -> Callable[..., tuple[Tensor, Tensor]]:
    """One optimizer step as a function step(lr, *batch) -> (loss, grad_norm), scalar Tensors.
    `lr` is a (1,) float32 Tensor: under TinyJit only tensor arguments change between calls."""
    realize_parameters(model)

    def step(lr: Tensor, *batch: Tensor) -> tuple[Tensor, Tensor]:
        for opt in getattr(optimizer, "optimizers", [optimizer]):   # tinygrad's OptimizerGroup
            opt.lr.assign(lr)                        # the schedule's value for this step
        loss = loss_fn(model, *batch)
        optimizer.zero_grad()
        loss.backward()
        norm = clip_grad_norm(optimizer.params, grad_clip)
        Tensor.realize(loss, norm, *optimizer.schedule_step())   # one schedule for all of it
        return loss, norm
    return TinyJit(step) if jit else step

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
    schedule: str = "cosine"       # after warmup: "cosine" down to min_lr, or "constant" at lr
    grad_clip: float = 1.0         # max global gradient norm; 0 turns clipping off
    eval_interval: int = 100       # evaluate every this many steps, and at the end
    checkpoint_interval: int | None = None   # checkpoint every this many; None: at each evaluation
    eval_batches: int = 20         # batches per evaluation and split
    log_interval: int = 10         # a progress line every this many steps
    seed: int = 1337               # seeds the batch sampler, the evaluation batches and dropout
    jit: bool = True               # compile the steps with TinyJit

    def __post_init__(self):
        for name in ("steps", "eval_interval", "eval_batches", "log_interval"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not 0 <= self.min_lr <= self.lr:
            raise ValueError(f"min_lr must be in [0, lr], got {self.min_lr} (lr {self.lr})")
        if self.warmup_steps < 0 or self.grad_clip < 0:
            raise ValueError("warmup_steps and grad_clip must be at least 0")
        if self.schedule not in ("cosine", "constant"):
            raise ValueError(f"schedule must be 'cosine' or 'constant', got {self.schedule!r}")
        if self.checkpoint_interval is not None and self.checkpoint_interval < 1:
            raise ValueError(f"checkpoint_interval must be at least 1, "
                             f"got {self.checkpoint_interval}")

    def lr_at(self, step: int) -> float:
        """The learning rate of the update made at `step` (from 0)."""
        if self.schedule == "constant" and self.warmup_steps == 0:
            return self.lr
        if self.schedule == "constant":
            return self.lr * min(1.0, (step + 1) / self.warmup_steps)
        return cosine_lr(step, self.lr, self.min_lr, self.warmup_steps,
                         self.steps if self.decay_steps is None else self.decay_steps)


def log_stderr(line: str) -> None:
    """The default progress printer: one line to standard error."""
    print(line, file=sys.stderr, flush=True)

def train(model, optimizer, get_batch: Callable, config: TrainConfig, checkpoints=None, *,
          loss_fn: Callable = lm_loss, eval_fn: Callable[[object], dict] | None = None,
          on_record: Callable[[dict, object], None] | None = None,
          log: Callable[[str], None] | None = log_stderr,
          train_step: Callable | None = None, eval_step: Callable | None = None) -> list[dict]:
    """Train `model` in place for config.steps optimizer steps and return the history of metrics
    (one record per evaluation). Raises TrainingDiverged on a non-finite loss or gradient."""
    log = log or (lambda line: None)
    rng = np.random.default_rng(config.seed)                 # draws the training batches
    state = checkpoints.resume(model, optimizer, config) if checkpoints is not None else None
    start, history, elapsed_before = 0, [], 0.0
    if state:
        start, history, elapsed_before = state["step"], state["history"], state["elapsed_s"]
        rng.bit_generator.state = state["rng"]
        log(f"resuming from step {start} ({checkpoints})")
    last_saved = start if state else None
    Tensor.manual_seed(config.seed + start)                   # dropout's masks (not saved, above)
    train_step = train_step or make_train_step(model, optimizer, loss_fn, config.grad_clip,
                                               config.jit)
    if eval_fn is None:                                       # the mean loss on both splits
        eval_step = eval_step or make_eval_step(model, loss_fn, config.jit)

        def eval_fn(model) -> dict:
            return {f"{split}_loss": evaluate(eval_step, get_batch, split, config.eval_batches,
                                              config.seed) for split in ("train", "val")}
    every = config.checkpoint_interval or config.eval_interval

    t0 = time.perf_counter()
    losses, seconds, tokens = [], [], []                      # per step, since the last record
    with training():
        for step in range(start, config.steps + 1):           # step = updates made so far
            last = step == config.steps
            if (step % config.eval_interval == 0 or last) and not (state and step == start):
                with training(False):
                    metrics = eval_fn(model)
                record = {"step": step, "step_loss": float(np.mean(losses)) if losses else None,
                          **metrics, "lr": config.lr_at(step),
                          "tokens_per_s": sum(tokens) / sum(seconds) if seconds else None,
                          "elapsed_s": elapsed_before + time.perf_counter() - t0}
                losses, seconds, tokens = [], [], []
                if not all(math.isfinite(v) for v in metrics.values() if isinstance(v, float)):
                    raise TrainingDiverged(f"the evaluation at step {step} is not finite: {record}",
                                           history)
                if on_record is not None:
                    hook_start = time.perf_counter()
                    with training(False):
                        on_record(record, model)
                    t0 += time.perf_counter() - hook_start       # not training time
                history.append(record)
                log(f"step {step}: " + ", ".join(f"{k.replace('_', ' ')} {v:.4g}"
                                                 for k, v in metrics.items()
                                                 if isinstance(v, float)))
                if checkpoints is not None and (step % every == 0 or last):
                    checkpoints.save(model, optimizer, {
                        "step": step, "config": asdict(config), "rng": rng.bit_generator.state,
                        "history": history, "elapsed_s": record["elapsed_s"]})
                    last_saved = step
            if last:
                break

            lr = config.lr_at(step)
            t = time.perf_counter()
            batch = get_batch("train", rng)
            loss, norm = train_step(Tensor([lr], dtype=dtypes.float32), *batch)
            loss, norm = loss.item(), norm.item()             # read now: the next replay overwrites
            seconds.append(time.perf_counter() - t)
            tokens.append(batch[0].numel())
            if not (math.isfinite(loss) and math.isfinite(norm)):
                good = f"step {last_saved} ({checkpoints})" if last_saved is not None else "none"
                raise TrainingDiverged(
                    f"training diverged at step {step}: loss {loss}, gradient norm {norm} "
                    f"(lr {lr:.3g}); stopped without saving, the last good checkpoint is {good}. "
                    f"Lower the learning rate or lengthen the warmup, then resume", history)
            losses.append(loss)
            if (step + 1) % config.log_interval == 0:         # the steps since the last line
                k = min(config.log_interval, len(losses))
                log(f"step {step + 1:>6}/{config.steps}  loss {np.mean(losses[-k:]):.4f}  "
                    f"lr {lr:.2e}  {sum(tokens[-k:]) / sum(seconds[-k:]):,.0f} tok/s")
    return history
