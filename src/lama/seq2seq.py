# Generated from docs/encoder-decoder.md by tools/tangle.py. Do not edit: change the chapter.
"""Cross-attention and the encoder-decoder transformer (Vaswani et al. 2017): the classifier
chapter's Encoder reads the source; a decoder of causal self-attention, cross-attention and an MLP
writes the target; teacher forcing for training and greedy decoding for use. It learns to sort
digits:

    python -m lama.seq2seq --out docs/results/seq2seq
"""
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tinygrad import Tensor, dtypes, nn
from tinygrad.nn.state import get_state_dict

from lama.block import MLP, BlockConfig, LayerNorm
from lama.brackets import split_of
from lama.classifier import Encoder, EncoderConfig
from lama.cli import Parser, add_config_options, atomic_write_json, config_from_args, \
    recorded_command
from lama.embeddings import EmbeddingConfig, TokenPositionEmbedding
from lama.multihead import MultiHeadAttention
from lama.self_attention import padding_mask
from lama.train import AdamW, TrainConfig, evaluate, make_eval_step, train

class CrossAttention(MultiHeadAttention):
    """Multi-head attention from one sequence to another: the queries come from x (the decoder),
    the keys and values from memory (the encoder's output). No causal mask: all of the memory may
    be read. x (B, T_tgt, n_embd), memory (B, T_src, n_embd) -> (B, T_tgt, n_embd)."""

    def __init__(self, n_embd: int, n_head: int, bias: bool = True, dropout: float = 0.0):
        super().__init__(n_embd, n_head, bias, causal=False, dropout=dropout)
        self.q_attn = nn.Linear(n_embd, n_embd, bias)       # W_q: the queries, from x
        self.c_attn = nn.Linear(n_embd, 2 * n_embd, bias)   # W_k, W_v: keys and values, from memory

    def qkv(self, x: Tensor, memory: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Step 1. x (B, T_tgt, n_embd), memory (B, T_src, n_embd) -> q (B, nh, T_tgt, hs) and
        k, v (B, nh, T_src, hs)."""
        k, v = self.c_attn(memory).split(self.n_embd, dim=-1)     # (B, T_src, n_embd) each
        return tuple(self.split_heads(t).contiguous() for t in (self.q_attn(x), k, v))

    def __call__(self, x: Tensor, memory: Tensor, mask: Tensor | None = None,
                 return_weights: bool = False):
        """mask: bool, broadcastable to (B, T_tgt, T_src), such as padding_mask(src_valid) of shape
        (B, 1, T_src) -> (B, T_tgt, n_embd); with return_weights, (y, weights), the weights
        (B, n_head, T_tgt, T_src)."""
        q, k, v = self.qkv(x, memory)
        if mask is not None and mask.ndim == 3:
            mask = mask.unsqueeze(1)              # (B, 1, ., T_src): one table for all heads
        y, weights = self.attend(q, k, v, mask)   # (B, nh, T_tgt, hs), (B, nh, T_tgt, T_src)
        y = self.project(y)                       # (B, T_tgt, n_embd)
        return (y, weights) if return_weights else y

class DecoderBlock:
    """One decoder layer: causal self-attention over the target, cross-attention to the memory, an
    MLP; each with a residual connection and a LayerNorm, arranged pre-LN or post-LN as in Block.
    x (B, T_tgt, n_embd), memory (B, T_src, n_embd) -> (B, T_tgt, n_embd)."""

    def __init__(self, config: BlockConfig):
        if config.norm not in ("pre", "post") or not config.causal:
            raise ValueError(f"a decoder block is causal, with norm 'pre' or 'post'; got "
                             f"causal={config.causal}, norm={config.norm!r}")
        C = config.n_embd
        self.ln_1 = LayerNorm(C, config.eps, config.bias)
        self.attn = MultiHeadAttention(C, config.n_head, config.bias, True, config.dropout)
        self.ln_cross = LayerNorm(C, config.eps, config.bias)
        self.cross = CrossAttention(C, config.n_head, config.bias, config.dropout)
        self.ln_2 = LayerNorm(C, config.eps, config.bias)
        self.mlp = MLP(C, config.bias, config.dropout, config.activation)
        self.norm = config.norm

    def __call__(self, x: Tensor, memory: Tensor, src_mask: Tensor | None = None,
                 return_weights: bool = False):
        """src_mask as for CrossAttention -> (B, T_tgt, n_embd); with return_weights, (x, the
        cross-attention weights (B, n_head, T_tgt, T_src))."""
        if self.norm == "post":                   # Vaswani et al.: LN(x + sublayer(x))
            x = self.ln_1(x + self.attn(x))
            c, weights = self.cross(x, memory, src_mask, return_weights=True)
            x = self.ln_cross(x + c)
            x = self.ln_2(x + self.mlp(x))
        else:                                     # pre-LN: x + sublayer(LN(x))
            x = x + self.attn(self.ln_1(x))
            c, weights = self.cross(self.ln_cross(x), memory, src_mask, return_weights=True)
            x = x + c
            x = x + self.mlp(self.ln_2(x))
        return (x, weights) if return_weights else x

PAD, BOS, EOS = 0, 1, 2        # padding, the start of every target, the end of every target
DIGITS = 10                    # the digits 0..9 are the tokens 3..12
VOCAB_SIZE = 3 + DIGITS


@dataclass
class Seq2SeqConfig:
    """The sizes of an encoder-decoder (defaults: the sorting experiment)."""
    vocab_size: int = VOCAB_SIZE   # source and target share one vocabulary here
    n_positions: int = 16          # the longest source, and the longest target
    n_layer: int = 2               # blocks in the encoder, and as many in the decoder
    n_embd: int = 64
    n_head: int = 4
    dropout: float = 0.0
    positions: str = "sinusoidal"  # as in Vaswani et al.; or "learned"
    pad_id: int = PAD              # source positions holding it are padding: no one reads them


class Seq2Seq:
    """An encoder-decoder transformer: src (B, T_src), tgt (B, T_tgt) ids -> logits
    (B, T_tgt, vocab_size), the prediction of the target token after each target position."""

    def __init__(self, config: Seq2SeqConfig):
        self.config = config
        self.encoder = Encoder(EncoderConfig(
            config.vocab_size, config.n_positions, config.n_layer, config.n_embd, config.n_head,
            dropout=config.dropout, positions=config.positions, pad_id=config.pad_id))
        del self.encoder.head      # the classifier's head reads [CLS]; the decoder reads them all
        self.embed = TokenPositionEmbedding(EmbeddingConfig(
            config.vocab_size, config.n_positions, config.n_embd, config.positions))
        block = BlockConfig(n_embd=config.n_embd, n_head=config.n_head, dropout=config.dropout)
        self.blocks = [DecoderBlock(block) for _ in range(config.n_layer)]
        self.ln_f = LayerNorm(config.n_embd)                   # the stack is pre-LN
        self.head = nn.Linear(config.n_embd, config.vocab_size)

    def encode(self, src: Tensor) -> Tensor:
        """src (B, T_src) ids -> the memory (B, T_src, n_embd): the encoder's final vectors."""
        return self.encoder.hidden(src)

    def decode(self, tgt: Tensor, memory: Tensor, src_valid: Tensor, return_weights: bool = False):
        """tgt (B, T_tgt) ids, memory (B, T_src, n_embd), src_valid (B, T_src) bool (False at
        padding) -> logits (B, T_tgt, vocab_size); with return_weights also the cross-attention
        weights of every layer, a list of n_layer (B, n_head, T_tgt, T_src)."""
        mask = padding_mask(src_valid)                    # (B, 1, T_src): real source keys only
        x, weights = self.embed(tgt), []                  # (B, T_tgt, C)
        for block in self.blocks:
            x, w = block(x, memory, mask, return_weights=True)
            weights.append(w)
        logits = self.head(self.ln_f(x))                  # (B, T_tgt, vocab_size)
        return (logits, weights) if return_weights else logits

    def __call__(self, src: Tensor, tgt: Tensor) -> Tensor:
        return self.decode(tgt, self.encode(src), src != self.config.pad_id)

def seq2seq_loss(model: Seq2Seq, src: Tensor, tgt_in: Tensor, tgt_out: Tensor) -> Tensor:
    """Teacher forcing: src (B, T_src), tgt_in (B, T_tgt) = BOS + target, tgt_out (B, T_tgt) =
    target + EOS, padded with PAD -> the mean cross-entropy over the labels that are not PAD."""
    return model(src, tgt_in).sparse_categorical_crossentropy(tgt_out, ignore_index=PAD)

def greedy_decode(model: Seq2Seq, src: np.ndarray, steps: int | None = None,
                  blind: bool = False) -> np.ndarray:
    """The most likely token at each step, fed back in, until EOS: src (B, T_src) ids -> output
    (B, steps) ids, PAD after each row's EOS (steps defaults to T_src + 1, n_positions at most).
    blind=True hides the whole source from the cross-attention (every position masked)."""
    B, steps = len(src), src.shape[1] + 1 if steps is None else steps
    memory = model.encode(Tensor(src, dtype=dtypes.int32)).realize()   # once per source
    valid = Tensor(np.zeros_like(src, dtype=bool) if blind else src != model.config.pad_id)
    tgt = np.full((B, steps), PAD, dtype=np.int32)   # the decoder's input: BOS, then its output
    tgt[:, 0] = BOS
    out, done = np.full((B, steps), PAD, dtype=np.int32), np.zeros(B, dtype=bool)
    for t in range(steps):
        logits = model.decode(Tensor(tgt, dtype=dtypes.int32), memory, valid)  # (B, steps, V)
        out[:, t] = np.where(done, PAD, logits[:, t].argmax(-1).numpy())   # position t only
        done |= out[:, t] == EOS
        if done.all():
            break
        if t + 1 < steps:
            tgt[:, t + 1] = out[:, t]
    return out

def sort_examples(n: int, max_length: int, split: str, rng: np.random.Generator,
                  digits: int = DIGITS, distinct: bool = False, max_tries: int = 10_000
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n sources of 1..max_length digits (0..digits-1) of the split ("train" or "test"), each
    length equally likely (distinct=True: no source twice; a length whose strings run out is drawn
    again), and their sorted targets: src (n, max_length), tgt_in and tgt_out (n, max_length + 1)
    int32 ids, padded with PAD (see seq2seq_loss)."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if not 1 <= digits <= DIGITS:
        raise ValueError(f"digits must be between 1 and {DIGITS}, got {digits}")
    src = np.full((n, max_length), PAD, dtype=np.int32)
    tgt_in, tgt_out = (np.full((n, max_length + 1), PAD, dtype=np.int32) for _ in range(2))
    seen = set()
    for i in range(n):
        for _ in range(max_tries):                # draw until the string is of the split (and new)
            source = rng.integers(0, digits, size=rng.integers(1, max_length + 1))
            text = "".join(map(str, source))
            if split_of(text) == split and not (distinct and text in seen):
                break
        else:
            raise ValueError(f"found no new {split} source after {max_tries} tries")
        seen.add(text)
        length, ordered = len(source), 3 + np.sort(source)
        src[i, :length] = 3 + source
        tgt_in[i, 0], tgt_in[i, 1:length + 1] = BOS, ordered
        tgt_out[i, :length], tgt_out[i, length] = ordered, EOS
    return src, tgt_in, tgt_out


class SortBatches:
    """get_batch(split, rng) for lama.train: "train" draws from the training split, "val" from the
    test split -> (src, tgt_in, tgt_out) Tensors, as sort_examples."""

    def __init__(self, batch_size: int = 64, max_length: int = 8, digits: int = DIGITS):
        if batch_size < 1 or max_length < 1:
            raise ValueError(f"batch_size and max_length must be at least 1, "
                             f"got {batch_size} and {max_length}")
        self.batch_size, self.max_length, self.digits = batch_size, max_length, digits

    def __call__(self, split: str, rng: np.random.Generator) -> tuple[Tensor, Tensor, Tensor]:
        if split not in ("train", "val"):
            raise ValueError(f"split must be 'train' or 'val', got {split!r}")
        arrays = sort_examples(self.batch_size, self.max_length,
                               "train" if split == "train" else "test", rng, self.digits)
        return tuple(Tensor(a, dtype=dtypes.int32) for a in arrays)

@dataclass
class SortConfig:
    """The sorting experiment: the task, the model and the training run."""
    max_length: int = field(default=8, metadata={"help": "longest source (digits)"})
    digits: int = field(default=10, metadata={"help": "distinct digits, 0..digits-1 (at most 10)"})
    n_layer: int = field(default=2, metadata={"help": "encoder blocks, and as many decoder blocks"})
    n_embd: int = field(default=64, metadata={"help": "channels per position"})
    n_head: int = field(default=4, metadata={"help": "attention heads"})
    steps: int = field(default=1500, metadata={"help": "training steps"})
    batch_size: int = field(default=64, metadata={"help": "sequences per step"})
    lr: float = field(default=3e-3, metadata={"help": "peak learning rate"})
    seed: int = field(default=0, metadata={"help": "seed of the weights, the data and the test"})
    test_size: int = field(default=2000, metadata={"help": "held-out sources"})
    eval_interval: int = field(default=150, metadata={
        "help": "evaluate every this many steps: the losses, and the exact accuracy on 256 "
                "test sources"})

    def __post_init__(self):
        if self.max_length < 1 or not 1 <= self.digits <= DIGITS:
            raise ValueError(f"need max_length >= 1 and digits in 1..{DIGITS}, "
                             f"got {self.max_length} and {self.digits}")
        if self.n_embd <= 0 or self.n_head <= 0 or self.n_embd % self.n_head or self.n_embd % 2:
            raise ValueError(f"n_embd ({self.n_embd}) must be an even, positive multiple of "
                             f"n_head ({self.n_head})")
        if min(self.n_layer, self.steps, self.batch_size, self.test_size,
               self.eval_interval) < 1 or self.lr <= 0:
            raise ValueError("n_layer, steps, batch_size, test_size, eval_interval and lr must be "
                             "positive")


def build(cfg: SortConfig) -> Seq2Seq:
    Tensor.manual_seed(cfg.seed)
    return Seq2Seq(Seq2SeqConfig(n_positions=cfg.max_length + 1, n_layer=cfg.n_layer,
                                 n_embd=cfg.n_embd, n_head=cfg.n_head))


def train_sorter(cfg: SortConfig, log=None) -> tuple[Seq2Seq, list[dict]]:
    """Train an encoder-decoder to sort digits with lama.train; return it and the history.
    `log` is called with progress lines (default: none)."""
    model = build(cfg)
    optimizer = AdamW(get_state_dict(model), lr=cfg.lr, weight_decay=0.01)
    config = TrainConfig(steps=cfg.steps, lr=cfg.lr, min_lr=cfg.lr / 10,
                         warmup_steps=min(50, cfg.steps // 10),
                         eval_interval=cfg.eval_interval, eval_batches=4, log_interval=50,
                         seed=cfg.seed)
    batches = SortBatches(cfg.batch_size, cfg.max_length, cfg.digits)
    eval_step = make_eval_step(model, seq2seq_loss)
    src, _, tgt_out = sort_examples(256, cfg.max_length, "test",
                                    np.random.default_rng([cfg.seed, 2]), cfg.digits, True)

    def eval_fn(model: Seq2Seq) -> dict:
        """train's default evaluation, the mean loss on both splits, and the exact accuracy of
        greedy decoding on 256 fixed test sources."""
        losses = {f"{split}_loss": evaluate(eval_step, batches, split, config.eval_batches,
                                            config.seed) for split in ("train", "val")}
        exact = (greedy_decode(model, src, tgt_out.shape[1]) == tgt_out).all(-1).mean()
        return {**losses, "val_exact": float(exact)}

    history = train(model, optimizer, batches, config, loss_fn=seq2seq_loss, eval_fn=eval_fn,
                    log=log)
    return model, history


def score(model: Seq2Seq, src: np.ndarray, tgt_in: np.ndarray, tgt_out: np.ndarray,
          blind: bool = False, chunk: int = 1000) -> dict:
    """Greedy outputs and teacher-forced predictions on a test set: per source whether the whole
    output is right ("exact", (n,) bool) and the outputs; over the set the mean loss and the
    token accuracy of teacher forcing (PAD labels left out)."""
    outputs, losses, hits = [], [], []
    real = tgt_out != PAD
    for i in range(0, len(src), chunk):
        part = slice(i, i + chunk)
        outputs.append(greedy_decode(model, src[part], tgt_out.shape[1], blind))
        s, t = Tensor(src[part], dtype=dtypes.int32), Tensor(tgt_in[part], dtype=dtypes.int32)
        valid = Tensor(np.zeros_like(src[part], dtype=bool)) if blind else s != PAD
        logp = model.decode(t, model.encode(s), valid).log_softmax(-1).numpy()   # (n, T, V)
        labels = tgt_out[part]
        losses.append(-np.take_along_axis(logp, labels[..., None], -1)[..., 0][real[part]])
        hits.append((logp.argmax(-1) == labels)[real[part]])
    output = np.concatenate(outputs)
    return {"exact": (output == tgt_out).all(-1), "output": output,
            "loss": float(np.concatenate(losses).mean()),
            "token_accuracy": float(np.concatenate(hits).mean())}

def digits_of(ids: np.ndarray) -> str:
    """Token ids -> the digits they hold, as a string (BOS, EOS and PAD left out)."""
    return "".join(str(t - 3) for t in ids if t >= 3)


def _summary(result: dict) -> dict:
    return {"exact": float(result["exact"].mean()), "token_accuracy": result["token_accuracy"],
            "loss": result["loss"]}


def run_experiment(cfg: SortConfig, log=None) -> dict:
    """Train a sorter and measure it on cfg.test_size held-out sources: exact-sequence accuracy
    against the majority answer, a blind decoder and an untrained network, accuracy by length,
    examples, and the cross-attention weights of one example. Returns the JSON-able results."""
    start = time.perf_counter()
    model, history = train_sorter(cfg, log)
    wall_s = time.perf_counter() - start
    src, tgt_in, tgt_out = sort_examples(cfg.test_size, cfg.max_length, "test",
                                         np.random.default_rng([cfg.seed, 1]), cfg.digits,
                                         distinct=True)
    trained, blind = score(model, src, tgt_in, tgt_out), score(model, src, tgt_in, tgt_out, True)
    untrained = score(build(cfg), src, tgt_in, tgt_out)
    lengths = (src != PAD).sum(-1)
    _, counts = np.unique(tgt_out, axis=0, return_counts=True)
    shown = [int(np.flatnonzero(lengths == n)[0]) for n in np.unique(lengths)]
    shown += [int(i) for i in np.flatnonzero(~trained["exact"])[:10]]
    # For the figure: the first of the longest test sources, one with a repeated digit if any.
    longest = [int(i) for i in np.flatnonzero(lengths == lengths.max())]
    i = ([j for j in longest if len(set(src[j])) < lengths.max()] or longest)[0]
    _, weights = model.decode(Tensor(tgt_in[i:i + 1]), model.encode(Tensor(src[i:i + 1])),
                              Tensor(src[i:i + 1] != PAD), return_weights=True)
    parameters = sum(t.numel() for t in get_state_dict(model).values() if t.is_param)
    return {
        "settings": asdict(cfg), "parameters": parameters, "train_wall_s": round(wall_s, 1),
        "history": history,
        "test": {"n": len(src), **_summary(trained),
                 "majority_answer": float(counts.max() / len(src)),
                 "blind": {**_summary(blind), "answer": digits_of(blind["output"][0])},
                 "untrained": _summary(untrained),
                 "by_length": {int(n): float(trained["exact"][lengths == n].mean())
                               for n in np.unique(lengths)},
                 "examples": [{"source": digits_of(src[j]), "target": digits_of(tgt_out[j]),
                               "output": digits_of(trained["output"][j]),
                               "exact": bool(trained["exact"][j])} for j in shown]},
        "cross_attention": {"source": digits_of(src[i]), "target": digits_of(tgt_out[i]),
                            "weights": [np.round(w.numpy()[0], 4).tolist() for w in weights]},
    }

def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="python -m lama.seq2seq",
                    description="Train an encoder-decoder transformer to sort sequences of digits "
                                "and report its held-out exact-sequence accuracy as JSON.")
    add_config_options(parser, SortConfig)
    parser.add_argument("--out", help="write metrics.json to this folder")
    args = parser.parse_args(argv)
    cfg = config_from_args(parser, args, SortConfig)
    if args.out and not Path(args.out).is_dir():
        parser.error(f"--out {args.out}: no such folder")

    start = time.perf_counter()
    results = run_experiment(cfg, log=lambda line: print(line, file=sys.stderr, flush=True))
    results = {"command": recorded_command("python -m lama.seq2seq", argv),
               "wall_s": round(time.perf_counter() - start, 1), **results}
    if args.out:
        atomic_write_json(Path(args.out, "metrics.json"), results)
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
