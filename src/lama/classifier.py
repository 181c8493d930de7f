# Generated from docs/classifier.md by tools/tangle.py. Do not edit: change the chapter.
"""An encoder-only transformer (BERT-style) that classifies a whole sequence: no causal mask, a
padding mask, a [CLS] summary token at position 0 and a linear classification head. Trained on
balanced brackets by

    python -m lama.classifier --out docs/results
"""
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tinygrad import Tensor, dtypes, nn
from tinygrad.nn.state import (get_state_dict, load_state_dict, safe_load, safe_load_metadata,
                               safe_save)

from lama.block import Block, BlockConfig, LayerNorm
from lama.brackets import KINDS, PAD, VOCAB_SIZE, BracketBatches, encode, make_examples
from lama.cli import Parser, add_config_options, atomic_save, atomic_write_json, config_from_args, \
    recorded_command
from lama.embeddings import EmbeddingConfig, TokenPositionEmbedding
from lama.self_attention import padding_mask
from lama.train import AdamW, TrainConfig, train

@dataclass
class EncoderConfig:
    """The sizes of an encoder classifier (defaults: the brackets experiment)."""
    vocab_size: int = VOCAB_SIZE   # token ids, [CLS] and padding included
    n_positions: int = 64          # the longest input, [CLS] included
    n_layer: int = 2
    n_embd: int = 32
    n_head: int = 4
    n_classes: int = 2
    dropout: float = 0.0
    positions: str = "sinusoidal"  # or "learned" (GPT-2, BERT); see "Positions"
    pad_id: int = PAD              # positions holding this id are padding: no one attends to them

    def __post_init__(self):
        if min(self.vocab_size, self.n_positions, self.n_layer, self.n_classes) < 1:
            raise ValueError("vocab_size, n_positions, n_layer and n_classes must be at least 1")
        if self.positions not in ("learned", "sinusoidal"):
            raise ValueError(f"positions must be 'learned' or 'sinusoidal', got {self.positions!r}")


class Encoder:
    """A bidirectional transformer with a classification head on position 0 ([CLS]).
    ids (B, T) int -> logits (B, n_classes)."""

    def __init__(self, config: EncoderConfig):
        self.config = config
        self.embed = TokenPositionEmbedding(
            EmbeddingConfig(config.vocab_size, config.n_positions, config.n_embd, config.positions))
        block = BlockConfig(n_embd=config.n_embd, n_head=config.n_head, dropout=config.dropout,
                            causal=False)   # checks n_embd, n_head and dropout
        self.blocks = [Block(block) for _ in range(config.n_layer)]
        self.ln_f = LayerNorm(config.n_embd)
        self.head = nn.Linear(config.n_embd, config.n_classes)

    def hidden(self, ids: Tensor, return_weights: bool = False):
        """ids (B, T) -> the final vectors (B, T, n_embd); with return_weights also a list of
        n_layer attention weights (B, n_head, T, T)."""
        mask = padding_mask(ids != self.config.pad_id)   # (B, 1, T): every query, only real keys
        x, weights = self.embed(ids), []                 # (B, T, C)
        for block in self.blocks:
            x, w = block(x, mask, return_weights=True)   # no causal mask: causal=False above
            weights.append(w)
        x = self.ln_f(x)
        return (x, weights) if return_weights else x

    def __call__(self, ids: Tensor) -> Tensor:
        return self.head(self.hidden(ids)[:, 0])         # (B, C) at [CLS] -> (B, n_classes)


def classification_loss(model: Encoder, ids: Tensor, labels: Tensor) -> Tensor:
    """Mean cross-entropy of the sequence labels: ids (B, T), labels (B,) int -> scalar."""
    return model(ids).sparse_categorical_crossentropy(labels)

@dataclass
class ExperimentConfig:
    """The brackets experiment: model, data and training settings (help: the command line's)."""
    n_layer: int = field(default=2, metadata={"help": "transformer blocks"})
    n_embd: int = field(default=32, metadata={"help": "channels per position"})
    n_head: int = field(default=4, metadata={"help": "attention heads"})
    positions: str = field(default="sinusoidal", metadata={"help": "'sinusoidal' or 'learned'"})
    max_length: int = field(default=40, metadata={"help": "longest training string (even)"})
    test_max_length: int = field(default=60, metadata={
        "help": "longest test string; the lengths above --max-length are the 'longer' test"})
    steps: int = field(default=3500, metadata={"help": "training steps"})
    batch_size: int = field(default=64, metadata={"help": "strings per step"})
    lr: float = field(default=5e-3, metadata={"help": "peak learning rate"})
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW's weight decay"})
    seed: int = field(default=0, metadata={"help": "seed of the weights, data and test sets"})
    test_size: int = field(default=2000, metadata={"help": "test strings per group"})
    mix: str = field(default="even", metadata={
        "help": "training batches: 'even' (the test's mix) or 'hard' (half the negatives "
                "swapped, lengths drawn in proportion to themselves; see BracketBatches)"})

    def __post_init__(self):
        if self.n_embd <= 0 or self.n_head <= 0 or self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be a positive multiple of "
                             f"n_head ({self.n_head})")
        if self.max_length < 2 or self.max_length % 2:
            raise ValueError(f"max_length must be even and at least 2, got {self.max_length}")
        if self.test_max_length < self.max_length + 2:
            raise ValueError(f"test_max_length must be at least max_length + 2, "
                             f"got {self.test_max_length}")
        if min(self.n_layer, self.steps, self.batch_size, self.test_size) < 1 or self.lr <= 0:
            raise ValueError("n_layer, steps, batch_size, test_size and lr must be positive")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be at least 0, got {self.weight_decay}")
        if self.positions not in ("learned", "sinusoidal"):
            raise ValueError(f"positions must be 'learned' or 'sinusoidal', got {self.positions!r}")
        if self.mix not in ("even", "hard"):
            raise ValueError(f"mix must be 'even' or 'hard', got {self.mix!r}")


def build(cfg: ExperimentConfig) -> Encoder:
    Tensor.manual_seed(cfg.seed)
    return Encoder(EncoderConfig(n_positions=cfg.test_max_length + 1, n_layer=cfg.n_layer,
                                 n_embd=cfg.n_embd, n_head=cfg.n_head, positions=cfg.positions))


def train_classifier(cfg: ExperimentConfig, log=None) -> tuple[Encoder, list[dict]]:
    """Train an encoder on balanced brackets with lama.train; return it and the history.
    `log` is called with progress lines (default: none)."""
    model = build(cfg)
    optimizer = AdamW(get_state_dict(model), lr=cfg.lr, weight_decay=cfg.weight_decay)
    config = TrainConfig(steps=cfg.steps, lr=cfg.lr, min_lr=cfg.lr / 10,
                         warmup_steps=min(50, cfg.steps // 10),
                         eval_interval=max(1, cfg.steps // 10), eval_batches=4, log_interval=50,
                         seed=cfg.seed)
    batches = BracketBatches(cfg.batch_size, cfg.max_length, cfg.mix)
    history = train(model, optimizer, batches, config, loss_fn=classification_loss, log=log)
    return model, history

def score(model: Encoder, strings: list[str], labels: np.ndarray, T: int,
          chunk: int = 500) -> dict:
    """The model on a labelled set: mean loss, accuracy, and per string p(balanced) and
    correctness. strings: n strings, labels (n,) -> dict; chunk strings per forward pass."""
    logp = np.concatenate([
        model(Tensor(encode(strings[i:i + chunk], T), dtype=dtypes.int32)).log_softmax(-1).numpy()
        for i in range(0, len(strings), chunk)])                          # (n, 2)
    correct = logp.argmax(-1) == labels
    return {"loss": float(-logp[np.arange(len(labels)), labels].mean()),
            "accuracy": float(correct.mean()), "p_balanced": np.exp(logp[:, 1]), "correct": correct}


def report(strings: list[str], labels: np.ndarray, kinds: list[str], trained: dict,
           untrained: dict, n_examples: int = 2, max_errors: int = 10) -> dict:
    """The JSON-able summary of one test set: accuracy and loss against the baselines, accuracy by
    length and by kind, and a few examples of each kind plus the model's errors."""
    lengths, kinds = np.array([len(s) for s in strings]), np.array(kinds)
    counting = np.array([s.count("(") == s.count(")") for s in strings]) == labels
    shown = [i for k in KINDS for i in np.flatnonzero(kinds == k)[:n_examples]]
    errors = np.flatnonzero(~trained["correct"])
    shown += [int(i) for i in errors[:max_errors] if i not in shown]
    correct = trained["correct"]
    return {
        "n": len(strings), "lengths": [int(lengths.min()), int(lengths.max())],
        "accuracy": trained["accuracy"], "loss": trained["loss"],
        "random_network": {"accuracy": untrained["accuracy"], "loss": untrained["loss"]},
        "baselines": {"chance": 0.5,
                      "majority_class": float(max(labels.mean(), 1 - labels.mean())),
                      "counting": float(counting.mean())},
        "errors": int(len(errors)),
        "by_length": {int(n): float(correct[lengths == n].mean()) for n in np.unique(lengths)},
        "by_kind": {k: float(correct[kinds == k].mean()) for k in KINDS},
        "examples": [{"string": strings[i], "kind": str(kinds[i]), "label": int(labels[i]),
                      "p_balanced": round(float(trained["p_balanced"][i]), 4),
                      "correct": bool(correct[i])} for i in shown],
    }

def run_experiment(cfg: ExperimentConfig, log=None) -> tuple[Encoder, dict]:
    """Train on brackets and score the result on held-out strings of the training lengths ("seen")
    and of longer lengths ("longer"). Returns the model and the JSON-able results."""
    start = time.perf_counter()
    model, history = train_classifier(cfg, log)
    wall_s = time.perf_counter() - start
    untrained, T = build(cfg), cfg.test_max_length + 1
    rng = np.random.default_rng([cfg.seed, 1])                 # not the training batches' stream
    groups = {"seen": range(2, cfg.max_length + 1, 2),
              "longer": range(cfg.max_length + 2, cfg.test_max_length + 1, 2)}
    tests = {}
    for name, lengths in groups.items():
        strings, labels, kinds = make_examples(cfg.test_size, lengths, "test", rng)
        tests[name] = report(strings, labels, kinds, score(model, strings, labels, T),
                             score(untrained, strings, labels, T))
    parameters = sum(t.numel() for t in get_state_dict(model).values() if t.is_param)
    return model, {"settings": asdict(cfg), "parameters": parameters,
                   "train_wall_s": round(wall_s, 1), "history": history, "test": tests}


def save_model(model: Encoder, path: str | Path) -> None:
    """The model's weights as safetensors, with its EncoderConfig in the metadata."""
    metadata = {"config": json.dumps(asdict(model.config))}
    atomic_save(path, lambda tmp: safe_save(get_state_dict(model), str(tmp), metadata=metadata))


def load_model(path: str | Path) -> Encoder:
    """An Encoder with the weights and config that save_model wrote to path."""
    config = EncoderConfig(**json.loads(safe_load_metadata(str(path))[2]["__metadata__"]["config"]))
    model = Encoder(config)
    load_state_dict(model, safe_load(str(path)), verbose=False)
    return model

def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="python -m lama.classifier",
                    description="Train an encoder-only transformer to tell balanced bracket "
                                "strings from unbalanced ones; report its test accuracy as JSON.")
    add_config_options(parser, ExperimentConfig)
    parser.add_argument("--out", help="write classifier.json and classifier.safetensors here")
    args = parser.parse_args(argv)
    cfg = config_from_args(parser, args, ExperimentConfig)
    if args.out and not Path(args.out).is_dir():
        parser.error(f"--out {args.out}: no such folder")

    model, results = run_experiment(cfg, log=lambda line: print(line, file=sys.stderr, flush=True))
    results = {"command": recorded_command("python -m lama.classifier", argv), **results}
    if args.out:
        atomic_write_json(Path(args.out, "classifier.json"), results)
        save_model(model, Path(args.out, "classifier.safetensors"))
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
