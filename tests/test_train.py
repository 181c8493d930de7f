"""lama.train: AdamW against numpy and tinygrad, the schedule, clipping, exact resumption, atomic
checkpoints, the stop on divergence, and a one-block character model that learns."""
import json
import math

import numpy as np
import pytest
from tinygrad import Tensor, nn
from tinygrad.nn.optim import OptimizerGroup
from tinygrad.nn.state import get_state_dict

import lama.checkpoint
from lama.block import Block, BlockConfig, LayerNorm, training
from lama.checkpoint import Checkpoints, load_checkpoint, save_checkpoint
from lama.data import CharTokenizer, TokenBatches, split
from lama.train import AdamW, TrainConfig, TrainingDiverged, clip_grad_norm, cosine_lr, train


# --- models and data for the tests -----------------------------------------------------------

class TinyLM:
    """Token and position embeddings, one pre-LN Block, a final LayerNorm, a readout:
    idx (B, T) int -> logits (B, T, vocab_size)."""

    def __init__(self, vocab_size: int, block_size: int, n_embd: int = 32, n_head: int = 4):
        self.wte = nn.Embedding(vocab_size, n_embd)
        self.wpe = nn.Embedding(block_size, n_embd)
        self.block = Block(BlockConfig(n_embd=n_embd, n_head=n_head))
        self.ln_f = LayerNorm(n_embd)
        self.head = nn.Linear(n_embd, vocab_size)

    def __call__(self, idx: Tensor) -> Tensor:
        x = self.wte(idx) + self.wpe(Tensor.arange(idx.shape[1]))   # (B, T, C)
        return self.head(self.ln_f(self.block(x)))                  # (B, T, V)


WORDS = ["the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "to", "his", "red", "box"]


def words_text(n_words: int, seed: int = 0) -> str:
    """A made-up language: words drawn uniformly from WORDS, separated by spaces. Inside a word every
    letter follows from the ones before; only the choice of the next word is uncertain."""
    rng = np.random.default_rng(seed)
    return " ".join(np.array(WORDS)[rng.integers(0, len(WORDS), n_words)]) + "\n"


TEXT = words_text(6000)
TOK = CharTokenizer.from_text(TEXT)
BLOCK_SIZE = 32
BATCHES = TokenBatches(*split(TOK.encode(TEXT)), batch_size=16, block_size=BLOCK_SIZE)


def tiny_lm(seed: int = 0) -> tuple[TinyLM, AdamW]:
    Tensor.manual_seed(seed)
    model = TinyLM(TOK.vocab_size, BLOCK_SIZE)
    return model, AdamW(get_state_dict(model), lr=1e-2, betas=(0.9, 0.95), weight_decay=0.1)


def numpy_params(model) -> dict[str, np.ndarray]:
    return {name: t.numpy().copy() for name, t in get_state_dict(model).items()}


class Regression:
    """y = x @ w.T + b with float inputs, so that a batch can carry a NaN."""

    def __init__(self):
        self.lin = nn.Linear(4, 2)

    def __call__(self, x: Tensor) -> Tensor:
        return self.lin(x)


def mse(model, x: Tensor, y: Tensor) -> Tensor:
    return (model(x) - y).square().mean()


W_TRUE = np.array([[1.0, -2.0, 0.5, 3.0], [0.0, 1.0, -1.0, 2.0]], dtype=np.float32)


def regression_batch(split: str, rng: np.random.Generator) -> tuple[Tensor, Tensor]:
    x = rng.standard_normal((8, 4), dtype=np.float32)
    return Tensor(x), Tensor(x @ W_TRUE.T)


def on_training_batch(get_batch, n: int, action):
    """get_batch, except that the n-th batch drawn for a training step (from 1) goes through
    action(batch) first. Training steps run in training mode, evaluations do not."""
    count = 0

    def wrapped(split, rng):
        nonlocal count
        batch = get_batch(split, rng)
        if Tensor.training:
            count += 1
            if count == n:
                return action(batch)
        return batch
    return wrapped


class Interrupted(Exception):
    pass


def interrupt(batch):
    raise Interrupted("the process was killed")


# --- AdamW ------------------------------------------------------------------------------------

def adamw_numpy(theta, grads, lrs, b1, b2, eps, wd, decayed):
    """Reference AdamW in float64, from the formulas: theta after len(grads) steps."""
    theta, m, v = theta.astype(np.float64), np.zeros(theta.shape), np.zeros(theta.shape)
    for t, (g, lr) in enumerate(zip(grads, lrs), start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g ** 2
        m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
        theta = theta - lr * (m_hat / (np.sqrt(v_hat) + eps) + (wd * theta if decayed else 0.0))
    return theta


@pytest.mark.parametrize("betas,wd", [((0.9, 0.999), 0.01), ((0.9, 0.95), 0.1), ((0.5, 0.9), 0.0)])
def test_adamw_equals_a_float64_numpy_reference(betas, wd):
    rng = np.random.default_rng(0)
    shapes = {"w": (5, 3), "emb": (7, 4), "bias": (3,), "gain": (4,)}
    start = {name: rng.standard_normal(shape).astype(np.float32) for name, shape in shapes.items()}
    params = {name: Tensor(value) for name, value in start.items()}
    opt = AdamW(params, lr=0.0, betas=betas, eps=1e-8, weight_decay=wd)
    assert dict(zip(opt.names, opt.decayed)) == {"w": True, "emb": True, "bias": False, "gain": False}
    lrs = [0.05, 0.1, 0.02, 0.07, 0.03, 0.01, 0.2, 0.05]   # a new rate every step, through the tensor
    grads = {name: [] for name in shapes}
    for lr in lrs:
        for name, p in params.items():   # gradients of very different sizes: Adam must not care
            g = (rng.standard_normal(p.shape) * rng.choice([1e-3, 1.0, 30.0])).astype(np.float32)
            grads[name].append(g.astype(np.float64))
            p.grad = Tensor(g)
        opt.lr.assign(Tensor([lr])).realize()
        opt.step()
    assert opt.t.item() == len(lrs)
    for name, p in params.items():
        expected = adamw_numpy(start[name], grads[name], lrs, *betas, 1e-8, wd, name in ("w", "emb"))
        np.testing.assert_allclose(p.numpy(), expected, rtol=1e-5, atol=1e-6, err_msg=name)


class MLPLM:
    """A small model with every kind of parameter (an embedding, linear weights and biases, a
    LayerNorm) and, unlike attention's key bias, none whose gradient is zero up to rounding noise,
    which Adam would blow up to full-size steps in a direction set by the noise."""

    def __init__(self, vocab_size: int, n_embd: int = 16):
        self.wte = nn.Embedding(vocab_size, n_embd)
        self.ln = LayerNorm(n_embd)
        self.head = nn.Linear(n_embd, vocab_size)

    def __call__(self, idx: Tensor) -> Tensor:
        return self.head(self.ln(self.wte(idx)))


def test_adamw_equals_tinygrads_adamw_with_two_groups():
    def run(make_optimizer, steps=5):
        Tensor.manual_seed(3)
        model = MLPLM(TOK.vocab_size)
        opt = make_optimizer(get_state_dict(model))
        rng = np.random.default_rng(0)
        with training():
            for _ in range(steps):
                x, y = BATCHES("train", rng)
                opt.zero_grad()
                model(x).sparse_categorical_crossentropy(y).backward()
                opt.step()
        return numpy_params(model)

    settings = dict(lr=3e-3, b1=0.9, b2=0.95, eps=1e-8)
    ours = run(lambda p: AdamW(p, lr=3e-3, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1))
    theirs = run(lambda p: OptimizerGroup(
        nn.optim.AdamW([t for t in p.values() if t.ndim >= 2], weight_decay=0.1, **settings),
        nn.optim.AdamW([t for t in p.values() if t.ndim < 2], weight_decay=0.0, **settings)))
    Tensor.manual_seed(3)
    start = numpy_params(MLPLM(TOK.vocab_size))
    for name in ours:
        assert not np.allclose(ours[name], start[name])                # the parameters did move
        np.testing.assert_allclose(ours[name], theirs[name], rtol=1e-4, atol=2e-6, err_msg=name)


def test_adamw_leaves_parameters_without_gradient_alone():
    used, unused = Tensor([1.0, 2.0]), Tensor([3.0, 4.0])
    opt = AdamW({"used": used, "unused": unused}, lr=0.1)
    (used * used).sum().backward()
    opt.step()
    assert unused.numpy().tolist() == [3.0, 4.0] and used.numpy()[0] < 1.0


# --- the schedule and clipping ------------------------------------------------------------------

def test_cosine_schedule_equals_its_formula():
    lr, min_lr, W, S = 6e-4, 6e-5, 100, 1100

    def formula(s):
        if s < W:
            return lr * (s + 1) / W
        if s > S:
            return min_lr
        return min_lr + 0.5 * (lr - min_lr) * (1 + math.cos(math.pi * (s - W) / (S - W)))

    for s in [0, 1, 49, 99, 100, 101, 350, 600, 850, 1099, 1100, 1101, 5000]:
        assert math.isclose(cosine_lr(s, lr, min_lr, W, S), formula(s), rel_tol=1e-12), s
    assert cosine_lr(0, lr, min_lr, W, S) == lr / W                   # the first step is not wasted
    assert math.isclose(cosine_lr(49, lr, min_lr, W, S), lr / 2)        # mid-warmup
    assert cosine_lr(W - 1, lr, min_lr, W, S) == lr == cosine_lr(W, lr, min_lr, W, S)   # the peak, continuous
    assert math.isclose(cosine_lr(600, lr, min_lr, W, S), (lr + min_lr) / 2)             # mid-decay
    assert cosine_lr(S, lr, min_lr, W, S) == min_lr == cosine_lr(10 * S, lr, min_lr, W, S)   # end, beyond
    values = [cosine_lr(s, lr, min_lr, W, S) for s in range(S + 10)]
    assert all(a < b for a, b in zip(values[:W - 1], values[1:W]))             # rising during warmup
    assert all(a >= b for a, b in zip(values[W:], values[W + 1:]))             # never rising after
    assert cosine_lr(0, lr, min_lr, 0, S) == lr                       # no warmup
    assert cosine_lr(W, lr, min_lr, W, W) == min_lr                   # a decay that ends where warmup ends
    cfg = TrainConfig(steps=1100, lr=lr, min_lr=min_lr, warmup_steps=W)
    assert cfg.lr_at(600) == cosine_lr(600, lr, min_lr, W, 1100)       # decay_steps defaults to steps


@pytest.mark.parametrize("max_norm", [0.5, 5.0, 1e3, 0.0])
def test_clip_grad_norm_against_numpy(max_norm):
    rng = np.random.default_rng(1)
    params = [Tensor(rng.standard_normal(s, dtype=np.float32)) for s in [(4, 5), (5,), (3, 2, 2)]]
    grads = [rng.standard_normal(p.shape).astype(np.float32) for p in params]
    for p, g in zip(params, grads):
        p.grad = Tensor(g)
    norm = np.sqrt(sum((g.astype(np.float64) ** 2).sum() for g in grads))   # about 6
    assert math.isclose(clip_grad_norm(params, max_norm).item(), norm, rel_tol=1e-6)
    scale = min(1.0, max_norm / (norm + 1e-6)) if max_norm > 0 else 1.0
    for p, g in zip(params, grads):
        np.testing.assert_allclose(p.grad.numpy(), g * scale, rtol=1e-6, atol=1e-7)


# --- a model that learns ------------------------------------------------------------------------

def test_a_one_block_character_model_learns_a_made_up_language(capsys):
    """About 40 s on two cores, 35 s of it compiling the two steps (later tests reuse the kernels)."""
    model, opt = tiny_lm()
    config = TrainConfig(steps=150, lr=1e-2, min_lr=1e-3, warmup_steps=15, eval_interval=75, eval_batches=4,
                         log_interval=50)
    history = train(model, opt, BATCHES, config)
    uniform = math.log(TOK.vocab_size)                                # 17 characters: 2.83
    assert [r["step"] for r in history] == [0, 75, 150]
    assert history[0]["val_loss"] > 0.9 * uniform                      # it starts knowing nothing
    assert history[-1]["val_loss"] < 0.35 * uniform                    # and ends far below uniform
    assert history[-1]["val_loss"] < history[1]["val_loss"] < history[0]["val_loss"]
    # it has learned the insides of words: after " bo" only "x" can come, after " ra" only "n"
    probs = model(Tensor(TOK.encode("the cat ran to his bo")[None])).softmax(-1).numpy()[0]   # (T, V)
    assert TOK.chars[probs[-1].argmax()] == "x" and probs[-1].max() > 0.9
    assert TOK.chars[probs[9].argmax()] == "n"
    # progress went to stderr, with the step, the loss, the learning rate and the speed
    out, err = capsys.readouterr()
    assert out == ""
    assert "step    150/150  loss " in err and " lr 1.00e-03 " in err and "tok/s" in err
    assert all(isinstance(r[k], float) and r[k] > 0 for r in history[1:] for k in ("tokens_per_s", "elapsed_s", "step_loss"))


# --- resumption -------------------------------------------------------------------------------

def test_an_interrupted_run_resumes_exactly(tmp_path):
    """Stop at step 13 (checkpoint at 10), resume to 20: the same parameters, moments and losses as
    a run that never stopped."""
    config = TrainConfig(steps=20, lr=1e-2, min_lr=1e-3, warmup_steps=5, eval_interval=10, eval_batches=2)
    model, opt = tiny_lm(seed=1)
    straight = train(model, opt, BATCHES, config, log=None)
    expected, expected_m = numpy_params(model), {k: v.numpy() for k, v in opt.m.items()}

    model, opt = tiny_lm(seed=1)
    with pytest.raises(Interrupted):
        train(model, opt, on_training_batch(BATCHES, 14, interrupt), config, Checkpoints(tmp_path), log=None)
    state = load_checkpoint(tmp_path)
    assert state["step"] == 10 and [r["step"] for r in state["history"]] == [0, 10]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "checkpoint.json", "model-0000010.safetensors", "optimizer-0000010.safetensors"]

    model, opt = tiny_lm(seed=2)      # a different initialisation: everything must come from the checkpoint
    lines = []
    resumed = train(model, opt, BATCHES, config, Checkpoints(tmp_path), log=lines.append)
    assert lines[0] == f"resuming from step 10 ({tmp_path})"
    keys = ("step", "step_loss", "train_loss", "val_loss", "lr")
    assert [[r[k] for k in keys] for r in resumed] == [[r[k] for k in keys] for r in straight]
    for name, value in numpy_params(model).items():
        np.testing.assert_allclose(value, expected[name], rtol=0, atol=1e-6, err_msg=name)
    for name, value in opt.m.items():
        np.testing.assert_allclose(value.numpy(), expected_m[name], rtol=0, atol=1e-6, err_msg=name)
    assert opt.t.item() == 20 and load_checkpoint(tmp_path)["step"] == 20
    assert resumed[-1]["elapsed_s"] > resumed[1]["elapsed_s"]           # time adds up across runs

    # a finished run resumed again does nothing more
    assert train(model, opt, BATCHES, config, Checkpoints(tmp_path), log=None) == resumed


@pytest.mark.parametrize("group", [False, True])
def test_resuming_works_with_tinygrads_optimizers_too(tmp_path, group):
    config = TrainConfig(steps=12, lr=0.05, min_lr=0.005, warmup_steps=2, eval_interval=6, eval_batches=1)

    def fresh():
        Tensor.manual_seed(0)
        model = Regression()
        if group:   # nanoGPT's two groups, as tinygrad spells them
            return model, OptimizerGroup(nn.optim.AdamW([model.lin.weight], lr=0.05, weight_decay=0.1),
                                         nn.optim.AdamW([model.lin.bias], lr=0.05, weight_decay=0.0))
        return model, nn.optim.AdamW([model.lin.weight, model.lin.bias], lr=0.05, weight_decay=0.1)

    model, opt = fresh()
    straight = train(model, opt, regression_batch, config, loss_fn=mse, log=None)
    expected = numpy_params(model)
    model, opt = fresh()
    with pytest.raises(Interrupted):
        train(model, opt, on_training_batch(regression_batch, 9, interrupt), config, Checkpoints(tmp_path), loss_fn=mse, log=None)
    assert load_checkpoint(tmp_path)["step"] == 6
    model, opt = fresh()
    resumed = train(model, opt, regression_batch, config, Checkpoints(tmp_path), loss_fn=mse, log=None)
    assert [r["val_loss"] for r in resumed] == [r["val_loss"] for r in straight]
    for name, value in numpy_params(model).items():
        np.testing.assert_allclose(value, expected[name], rtol=0, atol=1e-6)


def test_resuming_refuses_another_configuration_and_overwriting(tmp_path):
    config = TrainConfig(steps=4, lr=0.05, min_lr=0.005, warmup_steps=1, eval_interval=2, eval_batches=1)
    model = Regression()
    train(model, AdamW(get_state_dict(model), lr=0.05), regression_batch, config, Checkpoints(tmp_path), loss_fn=mse, log=None)
    other = TrainConfig(**{**config.__dict__, "steps": 8})
    with pytest.raises(ValueError, match=r"different configuration.*'steps': \(8, 4\)"):
        train(model, AdamW(get_state_dict(model), lr=0.05), regression_batch, other, Checkpoints(tmp_path), loss_fn=mse, log=None)
    with pytest.raises(FileExistsError, match="already has a checkpoint"):
        train(model, AdamW(get_state_dict(model), lr=0.05), regression_batch, config,
              Checkpoints(tmp_path, resume=False), loss_fn=mse, log=None)
    # only the progress output may change
    quiet = TrainConfig(**{**config.__dict__, "log_interval": 100})
    assert train(model, AdamW(get_state_dict(model), lr=0.05), regression_batch, quiet, Checkpoints(tmp_path), loss_fn=mse,
                 log=None)[-1]["step"] == 4


# --- checkpoints --------------------------------------------------------------------------------

def saved_run(tmp_path):
    """A Regression model trained for 4 steps with a checkpoint at step 4."""
    Tensor.manual_seed(0)
    model = Regression()
    opt = AdamW(get_state_dict(model), lr=0.05)
    config = TrainConfig(steps=4, lr=0.05, min_lr=0.005, warmup_steps=1, eval_interval=4, eval_batches=1)
    train(model, opt, regression_batch, config, Checkpoints(tmp_path, meta={"model": "Regression"}),
          loss_fn=mse, log=None)
    return model, opt, numpy_params(model)


def test_a_checkpoint_holds_what_resuming_needs(tmp_path):
    model, opt, params = saved_run(tmp_path)
    state = json.loads((tmp_path / "checkpoint.json").read_text())
    assert state["step"] == 4 and state["meta"] == {"model": "Regression"} and state["config"]["steps"] == 4
    assert state["rng"]["bit_generator"] == "PCG64" and len(state["history"]) == 2
    assert state["files"] == {"model": "model-0000004.safetensors", "optimizer": "optimizer-0000004.safetensors"}
    fresh = Regression()
    fresh_opt = AdamW(get_state_dict(fresh), lr=0.05)
    assert load_checkpoint(tmp_path, fresh, fresh_opt)["step"] == 4
    for name, value in numpy_params(fresh).items():
        np.testing.assert_array_equal(value, params[name])
    for name in opt.m:
        np.testing.assert_array_equal(fresh_opt.m[name].numpy(), opt.m[name].numpy())
        np.testing.assert_array_equal(fresh_opt.v[name].numpy(), opt.v[name].numpy())
    assert fresh_opt.t.item() == 4
    with pytest.raises(ValueError, match="does not fit the model"):
        load_checkpoint(tmp_path, TinyLM(5, 4))


def test_a_crash_while_writing_a_checkpoint_keeps_the_previous_one(tmp_path, monkeypatch):
    model, opt, params = saved_run(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())

    def crashing_save(tensors, fn, metadata=None):        # half a file, then the disk is full
        with open(fn, "wb") as f:
            f.write(b"\x00" * 100)
        raise OSError(28, "No space left on device")

    for name, value in get_state_dict(model).items():   # the state we fail to save differs
        value.assign(value + 1).realize()
    monkeypatch.setattr(lama.checkpoint, "safe_save", crashing_save)
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(tmp_path, model, opt, {"step": 8, "history": []})
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == before        # no temporary file is left
    check_previous_checkpoint(tmp_path, params)

    # a crash between the tensor files and the commit: the old checkpoint.json still rules
    def crash_on_commit(path, obj):          # checkpoint.json is written last, as JSON
        raise KeyboardInterrupt

    monkeypatch.setattr(lama.checkpoint, "atomic_write_json", crash_on_commit)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path, model, opt, {"step": 8, "history": []})
    monkeypatch.undo()
    assert (tmp_path / "model-0000008.safetensors").exists()           # written, but not committed
    check_previous_checkpoint(tmp_path, params)

    # what a hard kill leaves behind (a temporary file) is never taken for a checkpoint, and the
    # next successful save clears it and the uncommitted files away
    (tmp_path / ".model-0000012.safetensors.abc123.tmp").write_bytes(b"\x00" * 10)
    check_previous_checkpoint(tmp_path, params)
    save_checkpoint(tmp_path, model, opt, {"step": 12, "history": []})
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "checkpoint.json", "model-0000012.safetensors", "optimizer-0000012.safetensors"]
    assert load_checkpoint(tmp_path, Regression())["step"] == 12


def check_previous_checkpoint(tmp_path, params):
    fresh = Regression()
    assert load_checkpoint(tmp_path, fresh, AdamW(get_state_dict(fresh), lr=0.05))["step"] == 4
    for name, value in numpy_params(fresh).items():
        np.testing.assert_array_equal(value, params[name])


# --- divergence -------------------------------------------------------------------------------

def poison(batch):
    x, y = batch
    return Tensor(np.full(x.shape, np.nan, dtype=np.float32)), y


@pytest.mark.parametrize("cause", ["a NaN in the data", "a huge learning rate"])
def test_a_non_finite_loss_stops_training_and_keeps_the_last_good_checkpoint(tmp_path, cause):
    config = TrainConfig(steps=30, lr=0.05, min_lr=0.005, warmup_steps=2, eval_interval=5, eval_batches=1,
                         grad_clip=0.0 if cause == "a huge learning rate" else 1.0)
    Tensor.manual_seed(0)
    model = Regression()
    opt = AdamW(get_state_dict(model), lr=0.05)
    get_batch = regression_batch
    if cause == "a NaN in the data":
        get_batch = on_training_batch(regression_batch, 13, poison)   # the batch of step 12
    else:
        config = TrainConfig(**{**config.__dict__, "lr": 1e38, "min_lr": 1e38, "warmup_steps": 0})
    with pytest.raises(TrainingDiverged, match=r"training diverged at step (\d+): .*the last good checkpoint is step") as info:
        train(model, opt, get_batch, config, Checkpoints(tmp_path), loss_fn=mse, log=None)
    message = str(info.value)
    bad_step = int(message.split("at step ")[1].split(":")[0])
    if cause == "a NaN in the data":
        assert bad_step == 12 and "loss nan" in message
    last_good = info.value.history[-1]["step"]
    assert last_good < bad_step and f"step {last_good} ({tmp_path})" in message
    assert "\n" not in message
    fresh = Regression()
    state = load_checkpoint(tmp_path, fresh)
    assert state["step"] == last_good < bad_step
    assert all(np.isfinite(v).all() for v in numpy_params(fresh).values())


def test_a_non_finite_state_is_never_saved(tmp_path):
    model, opt, params = saved_run(tmp_path)
    model.lin.bias.assign(Tensor([np.inf, 0.0])).realize()
    with pytest.raises(TrainingDiverged, match="lin.bias is not finite"):
        save_checkpoint(tmp_path, model, opt, {"step": 8, "history": []})
    check_previous_checkpoint(tmp_path, params)


# --- the hooks ----------------------------------------------------------------------------------

def test_the_hooks_are_called_where_the_docstring_says(tmp_path):
    """eval_fn's metrics go into the records, on_record may add to them, checkpoints are written at
    the multiples of checkpoint_interval and at the end, and a constant schedule may be lengthened."""
    config = TrainConfig(steps=6, lr=0.05, min_lr=0.05, warmup_steps=2, schedule="constant",
                         eval_interval=2, checkpoint_interval=4, eval_batches=1)
    assert [config.lr_at(s) for s in range(4)] == [0.025, 0.05, 0.05, 0.05]
    saved = []

    class Spy(Checkpoints):
        def save(self, model, optimizer, state):
            saved.append(state["step"])
            super().save(model, optimizer, state)

    def eval_fn(model):
        assert not Tensor.training                            # evaluation is outside training mode
        return {"bias": float(model.lin.bias.numpy().sum())}

    Tensor.manual_seed(0)
    model = Regression()
    opt = AdamW(get_state_dict(model), lr=0.05)
    history = train(model, opt, regression_batch, config, Spy(tmp_path, meta={"m": 1}), loss_fn=mse,
                    eval_fn=eval_fn, on_record=lambda r, m: r.update(extra=r["step"]), log=None)
    assert [r["step"] for r in history] == [0, 2, 4, 6] and saved == [0, 4, 6]
    assert all(set(r) >= {"bias", "extra", "step_loss", "lr"} for r in history)
    assert "train_loss" not in history[0]
    longer = TrainConfig(**{**config.__dict__, "steps": 8})
    more = train(model, opt, regression_batch, longer, Spy(tmp_path, meta={"m": 1}), loss_fn=mse,
                 eval_fn=eval_fn, log=None)
    assert [r["step"] for r in more] == [0, 2, 4, 6, 8] and saved[-1] == 8
    with pytest.raises(ValueError, match=r"different configuration.*'m': \(2, 1\)"):
        train(model, opt, regression_batch, longer, Checkpoints(tmp_path, meta={"m": 2}),
              loss_fn=mse, eval_fn=eval_fn, log=None)


@pytest.mark.parametrize("bad, words", [({"steps": 0}, "steps must be at least 1"),
                                        ({"schedule": "linear"}, "schedule must be"),
                                        ({"checkpoint_interval": 0}, "checkpoint_interval"),
                                        ({"min_lr": 1.0}, "min_lr must be in")])
def test_a_config_names_what_is_wrong(bad, words):
    with pytest.raises(ValueError, match=words):
        TrainConfig(**bad)
