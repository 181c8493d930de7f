# Generated from docs/files.md by tools/tangle.py. Do not edit: change the chapter.
"""Checkpoints that a crash cannot destroy, and exact resumption of lama.train.train:

    history = train(model, optimizer, batches, config, Checkpoints("runs/x", meta={...}))

saves into runs/x at the evaluations and, run again, continues from the last checkpoint there.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
from dataclasses import asdict
from pathlib import Path

import numpy as np
from tinygrad import Tensor
from tinygrad.nn.state import get_state_dict, safe_load, safe_load_metadata, safe_save

from lama.cli import atomic_save, atomic_write_json
from lama.train import TrainConfig, TrainingDiverged

CHECKPOINT = "checkpoint.json"


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
                raise TrainingDiverged(f"not saving step {step}: {kind} tensor {name} is not "
                                       f"finite; the last good checkpoint in {out} is kept")
    files = {}
    for kind, named in tensors.items():
        files[kind] = f"{kind}-{step:07d}.safetensors"
        contiguous = {k: t.contiguous() for k, t in named.items()}
        atomic_save(out / files[kind], lambda tmp, named=contiguous: safe_save(
            named, str(tmp), metadata={"step": str(step)}))
    atomic_write_json(out / CHECKPOINT, {**state, "files": files})           # the commit
    with contextlib.suppress(OSError):  # make the rename itself durable
        fd = os.open(out, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
    for old in out.iterdir():  # older steps' tensors, and temporary files a crash left behind
        stale = re.fullmatch(r"(model|optimizer)-\d+\.safetensors", old.name) is not None \
            and old.name not in files.values()
        if stale or (old.name.startswith(".") and old.name.endswith(".tmp")):
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
        raise ValueError(f"{path} does not fit the {what}: missing {missing[:3]}, "
                         f"unexpected {extra[:3]}")
    for name, t in targets.items():
        if t.shape != source[name].shape:
            raise ValueError(f"{path}: {name} has shape {source[name].shape}, "
                             f"the {what} has {t.shape}")
        t.assign(source[name].to(t.device).cast(t.dtype))
    Tensor.realize(*targets.values())


def load_checkpoint(out_dir: str | os.PathLike, model=None, optimizer=None) -> dict | None:
    """The state saved in out_dir's checkpoint.json, or None if there is none. Loads its tensors
    into `model` and `optimizer` when they are given."""
    if optimizer is not None and model is None:
        raise ValueError("loading an optimizer's state needs its model too (to tell their "
                         "tensors apart)")
    path = Path(out_dir) / CHECKPOINT
    if not path.is_file():
        return None
    state = json.loads(path.read_text(encoding="utf-8"))
    if model is not None:
        _load_into(get_state_dict(model), path.parent / state["files"]["model"], "model",
                   state["step"])
    if optimizer is not None:
        _load_into(optimizer_state(optimizer, model), path.parent / state["files"]["optimizer"],
                   "optimizer", state["step"])
    return state

class Checkpoints:
    """The `checkpoints` of lama.train.train: save into out_dir, resume from it. `meta` (JSON-able,
    e.g. the model's settings) is saved with each checkpoint and must match on resuming."""

    def __init__(self, out_dir: str | os.PathLike, meta: dict | None = None, resume: bool = True):
        self.out, self.meta, self.allow_resume = Path(out_dir), meta or {}, resume

    def __str__(self) -> str:
        return str(self.out)

    def resume(self, model, optimizer, config: TrainConfig) -> dict | None:
        """Load the last checkpoint into model and optimizer and return its state (None if there
        is none). Refuses one of another configuration or meta, and overwriting one when
        resume=False."""
        saved = load_checkpoint(self.out)
        if saved is None:
            return None
        if not self.allow_resume:
            raise FileExistsError(f"{self.out} already has a checkpoint: resume it, or choose "
                                  f"another directory")
        free = {"log_interval"}
        if config.schedule == "constant" or config.decay_steps is not None:
            free.add("steps")                                 # the schedule does not depend on it
        then, then_meta = saved.get("config", {}), saved.get("meta", {})
        differ = {k: (v, then.get(k)) for k, v in asdict(config).items()
                  if k not in free and then.get(k) != v}
        differ |= {k: (v, then_meta.get(k)) for k, v in self.meta.items() if then_meta.get(k) != v}
        if differ:
            raise ValueError(f"the checkpoint in {self.out} was made with a different "
                             f"configuration (setting: (now, then)) {differ}: use the same one, "
                             f"or another directory")
        if saved["step"] > config.steps:
            raise ValueError(f"the checkpoint in {self.out} is at step {saved['step']}, "
                             f"beyond steps={config.steps}")
        return load_checkpoint(self.out, model, optimizer)

    def save(self, model, optimizer, state: dict) -> None:
        save_checkpoint(self.out, model, optimizer, {**state, "meta": self.meta})
