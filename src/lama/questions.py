# Generated from docs/questions.md by tools/tangle.py. Do not edit: change the chapter.
"""Four questions about transformers (Jacob Hilton's Deep Learning Curriculum, chapter 1), each
answered with a small experiment. Every experiment writes OUT/<experiment>.json:

    python -m lama.questions paths     --out docs/results/questions  # Q1: recurrence vs attention
    python -m lama.questions positions --out docs/results/questions  # Q1: order without positions
    python -m lama.questions scale     --out docs/results/questions  # Q2: why divide by sqrt(d_k)
    python -m lama.questions scores    --out docs/results/questions  # Q2: four score functions
    python -m lama.questions sharing   --out docs/results/questions  # Q3: shared or separate blocks
    python -m lama.questions residual  --out docs/results/questions  # Q4: with and without skips
"""
import math
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from tinygrad import Tensor, TinyJit, dtypes, nn
from tinygrad.nn.state import get_parameters, get_state_dict

from lama.attention import entropy
from lama.block import Block, BlockConfig, LayerNorm, training
from lama.cli import Parser, atomic_write_json, fail, recorded_command
from lama.data import CharTokenizer, DataError, TokenBatches, split, tiny_shakespeare
from lama.embeddings import EmbeddingConfig, TokenPositionEmbedding
from lama.multihead import MultiHeadAttention
from lama.reversal import reversal_batch
from lama.train import AdamW, TrainConfig, lm_loss, make_eval_step, make_train_step, train

class TinyLM:
    """Token embeddings (plus a learned position table, unless positions=False), n_layer blocks, a
    final LayerNorm and a linear readout. With shared=True, one Block is applied n_layer times.
    ids (B, T) -> logits (B, T, vocab_size)."""

    def __init__(self, vocab_size: int, n_positions: int, n_layer: int, config: BlockConfig,
                 positions: bool = True, shared: bool = False):
        C = config.n_embd
        emb = TokenPositionEmbedding(EmbeddingConfig(vocab_size, n_positions, C, "learned"))
        self.wte = emb.wte                                   # (V, C)
        self.wpe = emb.wpe if positions else None            # (P, C), or no idea of order at all
        if shared:
            self.block, self.n_layer = Block(config), n_layer  # one set of weights, n_layer uses
        else:
            self.h = [Block(config) for _ in range(n_layer)]   # n_layer sets of weights
        self.ln_f = LayerNorm(C, config.eps, config.bias)
        self.head = nn.Linear(C, vocab_size, config.bias)

    def blocks(self) -> list[Block]:
        """The blocks in the order they are applied (the same object n_layer times when shared)."""
        return [self.block] * self.n_layer if hasattr(self, "block") else self.h

    def __call__(self, ids: Tensor, return_stream: bool = False):
        """ids (B, T) -> logits (B, T, V); with return_stream also the input of every block and
        the output of the last, a list of n_layer + 1 tensors (B, T, C)."""
        x = self.wte(ids)                                            # (B, T, C)
        if self.wpe is not None:
            x = x + self.wpe.weight[:ids.shape[1]]                   # (T, C) broadcast over B
        stream = [x]
        for block in self.blocks():
            x = block(x)
            stream.append(x)
        logits = self.head(self.ln_f(x))                              # (B, T, V)
        return (logits, stream) if return_stream else logits


def num_params(model) -> int:
    """Distinct parameters: a shared block counts once."""
    return sum(p.numel() for p in get_state_dict(model).values())

@dataclass
class RunConfig:
    """The sizes and the schedule of one training run of a TinyLM. (The results files in
    docs/results/questions record warmup_steps as "warmup", eval_interval as "eval_every".)"""
    n_layer: int = 2
    n_embd: int = 64
    n_head: int = 4
    block_size: int = 64     # T: characters (or tokens) per sequence
    batch_size: int = 16
    steps: int = 300
    lr: float = 3e-3         # peak; the cosine ends at lr / 10
    warmup_steps: int = 20
    eval_interval: int = 50
    eval_batches: int = 8    # batches per evaluation of each split

    def __post_init__(self):
        sizes = ("n_layer", "n_embd", "n_head", "block_size", "batch_size", "steps",
                 "eval_interval", "eval_batches")
        if min(getattr(self, name) for name in sizes) < 1:
            raise ValueError(f"{', '.join(sizes)} must be at least 1")
        if self.n_embd % self.n_head or self.lr <= 0 or self.warmup_steps < 0:
            raise ValueError("n_embd must be a multiple of n_head, lr positive and "
                             "warmup_steps at least 0")

    def train_config(self, seed: int) -> TrainConfig:
        """The schedule of lama.train for one seed (which also draws the batches)."""
        return TrainConfig(steps=self.steps, lr=self.lr, min_lr=self.lr / 10,
                           warmup_steps=self.warmup_steps, grad_clip=1.0,
                           eval_interval=self.eval_interval, eval_batches=self.eval_batches,
                           log_interval=self.eval_interval, seed=seed)


# --short: every experiment shrinks to these sizes and one step (the tests use it).
SHORT = dict(n_embd=16, block_size=8, batch_size=4, steps=1, eval_interval=1, eval_batches=1)


def shakespeare_batches(block_size: int, batch_size: int):
    """Char-level tiny Shakespeare as get_batch(split, rng), and its vocabulary size (65)."""
    text = tiny_shakespeare(progress=False)
    tok = CharTokenizer.from_text(text)
    train_ids, val_ids = split(tok.encode(text))
    return TokenBatches(train_ids, val_ids, batch_size, block_size), tok.vocab_size


def reversal_batches(length: int, vocab_size: int, batch_size: int):
    """The reversal task of the block chapter as get_batch(split, rng) -> (x, y), both
    (batch_size, length) int32, y[:, t] = x[:, length - 1 - t]."""
    def get_batch(split: str, rng: np.random.Generator):
        x, y = reversal_batch(rng, batch_size, length, vocab_size)
        return Tensor(x, dtype=dtypes.int32), Tensor(y, dtype=dtypes.int32)
    return get_batch

def reinitialise(model, make_model, optimizer: AdamW, seed: int) -> None:
    """Give `model` the initial weights that make_model() draws with this seed, and `optimizer` a
    fresh state, in place, so that the compiled steps can be reused."""
    Tensor.manual_seed(seed)
    fresh = get_state_dict(make_model())
    for name, t in get_state_dict(model).items():
        t.assign(fresh[name])
    state = [optimizer.t, *optimizer.m.values(), *optimizer.v.values()]
    for t in state:
        t.assign(Tensor.zeros(*t.shape, dtype=t.dtype))
    Tensor.realize(*get_state_dict(model).values(), *state)


def train_seeds(make_model, get_batch, cfg: RunConfig, seeds: list[int], log=None,
                probe: bool = False, finish=None) -> list[dict]:
    """Train make_model() once per seed with lama.train and return one record per seed: the train
    and validation loss every cfg.eval_interval steps (and at the end). With probe, the record
    also holds block_grad_norms on a fixed batch at every evaluation; finish(model, record), when
    given, adds to the record after training. `log` is a file for progress lines."""
    Tensor.manual_seed(seeds[0])
    model = make_model()
    optimizer = AdamW(get_state_dict(model), lr=cfg.lr, weight_decay=0.1)
    steps = {"train_step": make_train_step(model, optimizer, lm_loss, grad_clip=1.0),
             "eval_step": make_eval_step(model, lm_loss)}          # compiled once, for every seed
    grad_norms = TinyJit(lambda x, y: [t.realize() for t in block_grad_norms(model, x, y)])
    records = []
    for n, seed in enumerate(seeds):
        if n > 0:
            reinitialise(model, make_model, optimizer, seed)
        probe_batch = get_batch("train", np.random.default_rng([seed, 99]))
        record = {"seed": seed, "step": [], "train_loss": [], "val_loss": []}
        if probe:
            record.update(probe_step=[], grad_norm_params=[], grad_norm_stream=[])

        def on_record(r: dict, model) -> None:
            if probe:
                params, stream = grad_norms(*probe_batch)
                record["probe_step"].append(r["step"])
                record["grad_norm_params"].append([float(f"{v:.4g}") for v in params.numpy()])
                record["grad_norm_stream"].append([float(f"{v:.4g}") for v in stream.numpy()])
            record["step"].append(r["step"])
            for name in ("train_loss", "val_loss"):
                record[name].append(round(r[name], 4))

        def progress(line: str) -> None:
            if log:
                print(f"  seed {seed} {line}", file=log, flush=True)

        start = time.perf_counter()
        train(model, optimizer, get_batch, cfg.train_config(seed), on_record=on_record,
              log=progress, **steps)
        record["seconds"] = round(time.perf_counter() - start, 1)
        if finish is not None:
            finish(model, record)
        records.append(record)
    return records


def summarise(runs: dict[str, list[dict]], key: str = "val_loss") -> dict:
    """Per variant: mean, standard deviation (over seeds), min and max of the last `key`."""
    out = {}
    for name, seeds in runs.items():
        last = np.array([r[key][-1] for r in seeds])
        std = float(last.std(ddof=1)) if len(last) > 1 else 0.0
        out[name] = {"mean": round(float(last.mean()), 4), "std": round(std, 4),
                     "min": round(float(last.min()), 4), "max": round(float(last.max()), 4)}
    return out

def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


class LSTM:
    """A one-layer LSTM (Hochreiter and Schmidhuber 1997) in numpy, for comparison: one step per
    position, each step needing the last one's state. Weights drawn like PyTorch's, uniform in
    +-1/sqrt(n_hidden); zero biases, except forget_bias on the forget gate."""

    def __init__(self, n_in: int, n_hidden: int, forget_bias: float = 0.0, seed: int = 0):
        rng, bound, n = np.random.default_rng(seed), n_hidden ** -0.5, n_hidden
        self.W_x = rng.uniform(-bound, bound, (n_in, 4 * n))    # gates: input, forget, cell, output
        self.W_h = rng.uniform(-bound, bound, (n, 4 * n))
        self.b = np.zeros(4 * n)
        self.b[n:2 * n] = forget_bias                               # > 0: remember by default
        self.n_hidden = n

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, list]:
        """x (B, T, n_in) -> h (B, T, n_hidden), and what backward needs of every step."""
        B, T, _ = x.shape
        n = self.n_hidden
        h, c, hs, tape = np.zeros((B, n)), np.zeros((B, n)), [], []
        for t in range(T):                                          # T steps, one after the other
            a = x[:, t] @ self.W_x + h @ self.W_h + self.b          # (B, 4 n_hidden)
            i, f, o = sigmoid(a[:, :n]), sigmoid(a[:, n:2 * n]), sigmoid(a[:, 3 * n:])
            g = np.tanh(a[:, 2 * n:3 * n])
            tape.append((i, f, g, o, c))                             # c: the cell before this step
            c = f * c + i * g
            h = o * np.tanh(c)
            hs.append(h)
        return np.stack(hs, 1), tape

    def input_gradients(self, x: np.ndarray, u: np.ndarray) -> np.ndarray:
        """The gradient of u . h[:, -1] with respect to every input x[:, t]: backpropagation
        through time, one step back at a time. x (B, T, n_in), u (n_hidden,) -> (B, T, n_in)."""
        _, tape = self.forward(x)
        dh, dc = np.broadcast_to(u, (x.shape[0], self.n_hidden)), 0.0
        grads = np.zeros_like(x)
        for t in reversed(range(x.shape[1])):
            i, f, g, o, c_before = tape[t]
            c = f * c_before + i * g
            dc = dc + dh * o * (1 - np.tanh(c) ** 2)                # through h = o tanh(c)
            da = np.concatenate([dc * g * i * (1 - i), dc * c_before * f * (1 - f),
                                 dc * i * (1 - g ** 2), dh * np.tanh(c) * o * (1 - o)], axis=1)
            grads[:, t] = da @ self.W_x.T
            dh, dc = da @ self.W_h.T, dc * f                        # to the step before
        return grads


def influence(layer, x: np.ndarray, u: np.ndarray) -> np.ndarray:
    """How much the last position's output depends on each input position: the norm of the
    gradient of u . out[:, -1] with respect to x[:, j], averaged over the batch.
    x (B, T, C), u (C',) -> (T,), entry j for input position j."""
    if isinstance(layer, LSTM):
        grad = layer.input_gradients(x, u)
    else:                                                             # a tinygrad layer: autograd
        x_t = Tensor(x.astype(np.float32))
        (grad,) = (layer(x_t)[:, -1] @ Tensor(u.astype(np.float32))).sum().gradient(x_t)
        grad = grad.numpy()
    return np.sqrt((grad ** 2).sum(-1)).mean(0)


def experiment_paths(seeds: list[int], short: bool, log=None) -> dict:
    """Q1. At initialisation, how strongly does the last output depend on each earlier input, in
    an LSTM and in one transformer block? And the structural counts: sequential steps, path
    length."""
    B, T, C = (4, 8, 16) if short else (16, 64, 64)
    layers = {
        "lstm": lambda seed: LSTM(C, C, seed=seed),
        "lstm_forget_bias_1": lambda seed: LSTM(C, C, forget_bias=1.0, seed=seed),
        "transformer_block": lambda seed: Block(BlockConfig(n_embd=C, n_head=4, causal=True)),
    }
    curves = {name: [] for name in layers}
    for seed in seeds:
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((B, T, C))                           # unit-variance inputs
        u = rng.standard_normal(C)                                   # the direction we read out
        for name, make in layers.items():
            Tensor.manual_seed(seed)
            curve = [float(f"{v:.4g}") for v in influence(make(seed), x, u)]    # (T,)
            curves[name].append(curve)
            if log:
                print(f"  seed {seed} {name}: last/first influence "
                      f"{curve[-1] / max(curve[0], 1e-30):.3g}", file=log, flush=True)
    structure = {"lstm": {"sequential_steps": T, "longest_path": T - 1},
                 "transformer": {"sequential_steps_per_layer": 1, "longest_path_per_layer": 1}}
    return {"settings": {"batch": B, "length": T, "width": C}, "influence": curves,
            "structure": structure}

def best_without_order(length: int, vocab_size: int, n: int = 200_000, seed: int = 0) -> float:
    """The accuracy of the best reversal guess that ignores order: a model that sees its own token
    and the multiset of all tokens, but not where anything is, can do no better than to answer the
    most common of the other length - 1 tokens (Monte Carlo estimate over n sequences)."""
    x = np.random.default_rng(seed).integers(0, vocab_size, size=(n, length))
    counts = np.stack([(x == v).sum(1) for v in range(vocab_size)], 1)   # (n, V)
    others = counts - np.eye(vocab_size, dtype=int)[x[:, 0]]             # without position 0's
    target = x[:, -1]                                                     # position 0's answer
    return float((others.argmax(1) == target).mean())


def reversal_accuracy(model, length: int, vocab_size: int, n: int, seed: int) -> list[float]:
    """Held-out accuracy at each output position of the reversal task. -> (length,)"""
    x, y = reversal_batch(np.random.default_rng([seed, 7]), n, length, vocab_size)
    with training(False):
        pred = model(Tensor(x, dtype=dtypes.int32)).argmax(-1).numpy()
    return [round(float(a), 4) for a in (pred == y).mean(0)]


def experiment_positions(seeds: list[int], short: bool, log=None) -> dict:
    """Q1. Attention itself is blind to order: train reversal with and without a position table
    (bidirectional blocks), and check that without one, permuting the input permutes the output."""
    length, vocab = 8, 10
    cfg = RunConfig(n_layer=1, n_embd=64, n_head=4, block_size=length, batch_size=64, steps=300,
                    lr=3e-3, eval_interval=100, eval_batches=4)
    if short:
        cfg = replace(cfg, **SHORT)
    get_batch = reversal_batches(length, vocab, cfg.batch_size)
    block = BlockConfig(n_embd=cfg.n_embd, n_head=cfg.n_head, causal=False)
    out = {"settings": asdict(cfg), "length": length, "vocab_size": vocab, "chance": 1 / vocab,
           "best_without_order": round(best_without_order(length, vocab), 4), "runs": {}}

    def finish_reversal(model, record):
        n = cfg.batch_size if short else 2048
        record["accuracy"] = reversal_accuracy(model, length, vocab, n, record["seed"])
        # Reorder the tokens: without positions, the outputs are reordered the same way, exactly.
        x = np.random.default_rng(record["seed"]).integers(0, vocab, size=(4, length))
        perm = np.random.default_rng(1).permutation(length)
        with training(False):
            a = model(Tensor(x[:, perm], dtype=dtypes.int32)).numpy()
            b = model(Tensor(x, dtype=dtypes.int32)).numpy()[:, perm]
        record["permutation_max_diff"] = float(np.abs(a - b).max())

    for positions in (True, False):
        name = "learned_positions" if positions else "no_positions"
        make = lambda: TinyLM(vocab, length, cfg.n_layer, block, positions=positions)  # noqa: E731
        records = train_seeds(make, get_batch, cfg, seeds, log, finish=finish_reversal)
        out["runs"][name] = records
        if log:
            print(f"  {name}: accuracy {[r['accuracy'] for r in records]}", file=log, flush=True)
    return out

def train_scores(cfg: RunConfig, scores, seeds: list[int], log=None) -> tuple[dict, int]:
    """The char-level model of cfg trained with each similarity function in scores, every seed.
    -> (the records of each score's runs, the vocabulary size)."""
    get_batch, vocab = shakespeare_batches(cfg.block_size, cfg.batch_size)
    runs = {}
    for score in scores:
        block = BlockConfig(n_embd=cfg.n_embd, n_head=cfg.n_head, score=score)
        make = lambda: TinyLM(vocab, cfg.block_size, cfg.n_layer, block)  # noqa: E731
        runs[score] = train_seeds(make, get_batch, cfg, seeds, log)
    return runs, vocab


def experiment_scores(seeds: list[int], short: bool, log=None) -> dict:
    """Q2. The same char-level model trained with each of the four similarity functions."""
    cfg = RunConfig(n_layer=2, n_embd=64, n_head=4, block_size=32, batch_size=16, steps=150,
                    lr=3e-3, eval_interval=50, eval_batches=4)
    if short:
        cfg = replace(cfg, n_layer=1, **SHORT)
    runs, vocab = train_scores(cfg, ("dot", "scaled_dot", "general", "additive"), seeds, log)
    return {"settings": asdict(cfg), "head_size": cfg.n_embd // cfg.n_head, "runs": runs,
            "summary": summarise(runs), "uniform_loss": math.log(vocab)}

def softmax_at_init(d: int, score: str, seed: int, T: int = 64, B: int = 8) -> dict:
    """One attention layer with head size d (n_head=1) at initialisation, on LayerNorm-ed random
    inputs: the spread of its scores, the entropy and the largest of its weights, and the size of
    the gradient that reaches the query and key projections from a random loss."""
    Tensor.manual_seed(seed)
    attn = MultiHeadAttention(d, 1, causal=False, score=score)
    rng = np.random.default_rng(seed)
    x = LayerNorm(d)(Tensor(rng.standard_normal((B, T, d)).astype(np.float32)))   # (B, T, d)
    q, k, _ = attn.qkv(x)                                                 # (B, 1, T, d) each
    if score == "scaled_dot":
        scores = q @ k.transpose(-2, -1) / math.sqrt(d)                   # (B, 1, T, T)
    else:
        scores = attn.scores(q, k)
    y, weights = attn(x, return_weights=True)                             # weights (B, 1, T, T)
    r = Tensor(np.random.default_rng(seed + 1).standard_normal((B, T, d)).astype(np.float32))
    (grad,) = (y * r).sum().gradient(attn.c_attn.weight)                  # (3d, d): q, k, v rows
    g = grad.numpy()
    return {"score_std": float(scores.numpy().std()),
            "entropy": float(entropy(weights).mean().item()),
            "max_weight": float(weights.max(-1).mean().item()),
            "grad_qk": float(np.sqrt((g[:2 * d] ** 2).sum())),
            "grad_v": float(np.sqrt((g[2 * d:] ** 2).sum()))}

def experiment_scale(seeds: list[int], short: bool, log=None) -> dict:
    """Q2. Why sqrt(d_k): the softmax at initialisation for head sizes 16..512 with and without the
    division, then char-level training of a model with one wide head, with and without it."""
    sizes = [16] if short else [16, 32, 64, 128, 256, 512]
    T = 8 if short else 64
    init = {score: {} for score in ("dot", "scaled_dot")}
    for score in init:
        for d in sizes:
            runs = [softmax_at_init(d, score, seed, T=T) for seed in seeds]
            init[score][str(d)] = {key: [float(f"{r[key]:.4g}") for r in runs] for key in runs[0]}
            if log:
                entropy_d = np.mean(init[score][str(d)]["entropy"])
                print(f"  {score} d={d}: entropy {entropy_d:.3f}", file=log, flush=True)
    cfg = RunConfig(n_layer=1, n_embd=128, n_head=1, block_size=32, batch_size=16, steps=150,
                    lr=3e-3, eval_interval=50, eval_batches=4)
    if short:
        cfg = replace(cfg, n_layer=1, **SHORT)
    runs, _ = train_scores(cfg, ("dot", "scaled_dot"), seeds, log)
    return {"init": {"sizes": sizes, "length": T, "by_score": init},
            "train": {"settings": asdict(cfg), "head_size": cfg.n_embd // cfg.n_head, "runs": runs,
                      "summary": summarise(runs)}}

def experiment_sharing(seeds: list[int], short: bool, log=None) -> dict:
    """Q3. n_layer blocks with their own weights, one block applied n_layer times (the same depth
    and compute, a quarter of the block parameters), and a single block (the same parameters)."""
    cfg = RunConfig(n_layer=4, n_embd=64, n_head=4, block_size=32, batch_size=8, steps=200,
                    lr=3e-3, eval_interval=50, eval_batches=4)
    if short:
        cfg = replace(cfg, n_layer=2, **SHORT)
    get_batch, vocab = shakespeare_batches(cfg.block_size, cfg.batch_size)
    block = BlockConfig(n_embd=cfg.n_embd, n_head=cfg.n_head)
    variants = {"separate": (cfg.n_layer, False), "shared": (cfg.n_layer, True),
                "one_block": (1, False)}
    runs, params, depth = {}, {}, {}
    for name, (n_layer, shared) in variants.items():
        make = lambda: TinyLM(vocab, cfg.block_size, n_layer, block, shared=shared)  # noqa: E731
        Tensor.manual_seed(0)
        params[name], depth[name] = num_params(make()), n_layer
        runs[name] = train_seeds(make, get_batch, cfg, seeds, log)
    return {"settings": asdict(cfg), "params": params, "depth": depth, "runs": runs,
            "summary": summarise(runs), "block_params": num_params(Block(block))}

def block_grad_norms(model: TinyLM, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """On one batch: the L2 norm of the loss's gradient with respect to each block's parameters
    (n_layer,), or (1,) for a shared block, and with respect to the residual stream at each
    block's input (n_layer,)."""
    logits, stream = model(x, return_stream=True)
    loss = logits.sparse_categorical_crossentropy(y)
    params = [get_parameters(b) for b in model.blocks()]
    if hasattr(model, "block"):  # shared: one set of parameters
        params = params[:1]
    flat = [p for ps in params for p in ps]
    grads = loss.gradient(*flat, *stream[:-1])
    param_grads, stream_grads = grads[:len(flat)], grads[len(flat):]
    per_block, i = [], 0
    for ps in params:
        squares = [g.square().sum() for g in param_grads[i:i + len(ps)]]
        per_block.append(Tensor.stack(*squares).sum().sqrt())
        i += len(ps)
    stream_norms = Tensor.stack(*[g.square().sum().sqrt() for g in stream_grads])
    return Tensor.stack(*per_block), stream_norms


def experiment_residual(seeds: list[int], short: bool, log=None) -> dict:
    """Q4. A deep pre-LN model with and without its residual connections: the loss, and the
    gradient norm of every block's parameters and at every block's input, during training."""
    cfg = RunConfig(n_layer=8, n_embd=64, n_head=4, block_size=32, batch_size=8, steps=150,
                    lr=3e-3, eval_interval=50, eval_batches=4)
    if short:
        cfg = replace(cfg, n_layer=2, **SHORT)
    get_batch, vocab = shakespeare_batches(cfg.block_size, cfg.batch_size)
    runs = {}
    for residual in (True, False):
        block = BlockConfig(n_embd=cfg.n_embd, n_head=cfg.n_head, residual=residual)
        make = lambda: TinyLM(vocab, cfg.block_size, cfg.n_layer, block)  # noqa: E731
        runs["residual" if residual else "no_residual"] = train_seeds(
            make, get_batch, cfg, seeds, log, probe=True)
    return {"settings": asdict(cfg), "runs": runs, "summary": summarise(runs),
            "uniform_loss": math.log(vocab)}

EXPERIMENTS = {
    "paths": (experiment_paths, "Q1: how far apart two positions are, for an LSTM and attention"),
    "positions": (experiment_positions, "Q1: reversal with and without a position table"),
    "scale": (experiment_scale, "Q2: the softmax with and without dividing by sqrt(d_k)"),
    "scores": (experiment_scores, "Q2: dot, scaled_dot, general and additive scores, trained"),
    "sharing": (experiment_sharing, "Q3: separate weights per block, or one block repeated"),
    "residual": (experiment_residual, "Q4: a deep model with and without residual connections"),
}
PROG = "python -m lama.questions"


def main(argv: list[str] | None = None) -> int:
    parser = Parser(
        prog=PROG,
        description="Run one experiment of the chapter 'Four questions about transformers' and "
                    "write its results to OUT/<experiment>.json.",
        epilog="experiments: " + "; ".join(f"{k}: {v[1]}" for k, v in EXPERIMENTS.items()))
    parser.add_argument("experiment", choices=sorted(EXPERIMENTS), help="which experiment to run")
    parser.add_argument("--out", required=True,
                        help="folder for the result (docs/results/questions)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                        help="seeds of the weights and data, one run each (default: 0 1 2)")
    parser.add_argument("--short", action="store_true",
                        help="tiny sizes and a few steps: checks that it runs (for the tests)")
    args = parser.parse_args(argv)
    if len(set(args.seeds)) != len(args.seeds) or min(args.seeds) < 0:
        parser.error(f"--seeds must be distinct and not negative, got {args.seeds}")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        parser.error(f"--out {out} exists and is not a folder")
    if not out.resolve().parent.is_dir():
        parser.error(f"--out {out}: its parent folder {out.resolve().parent} does not exist")
    run, question = EXPERIMENTS[args.experiment]
    print(f"{args.experiment}: {question}", file=sys.stderr)
    start = time.perf_counter()
    try:
        result = run(args.seeds, args.short, log=sys.stderr)
    except DataError as e:
        return fail(PROG, str(e))
    result = {"experiment": args.experiment, "question": question,
              "command": recorded_command(PROG, argv), "seeds": args.seeds, "short": args.short,
              **result, "wall_seconds": round(time.perf_counter() - start, 1)}
    out.mkdir(exist_ok=True)
    path = atomic_write_json(out / f"{args.experiment}.json", result)
    print(f"wrote {path} in {result['wall_seconds']:.0f} s", file=sys.stderr)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
