"""lama.autograd and lama.numpy_gpt: every backward rule against central differences (float64),
the order of a graph with shared tensors, the whole GPT's gradients and a few training steps against
tinygrad's (float32), a short run on tiny Shakespeare that learns, and the command's errors."""
import zlib

import numpy as np
import pytest
from tinygrad import Tensor as TinyTensor
from tinygrad import dtypes
from tinygrad.nn.state import get_state_dict

from lama.autograd import Tensor, cross_entropy, unbroadcast, where
from lama.block import training
from lama.data import CharTokenizer, TokenBatches, split, tiny_shakespeare
from lama.numpy_gpt import AdamW, NumpyGPT, evaluate, generate, main
from lama.shakespeare import ShakespeareConfig, build
from lama.train import AdamW as TinyAdamW
from lama.train import TrainConfig, lm_loss, make_train_step


def numeric_grad(f, a: Tensor, eps: float = 1e-6) -> np.ndarray:
    grad = np.zeros_like(a.data)
    for i in np.ndindex(a.shape):
        old = a.data[i]
        a.data[i] = old + eps
        up = f()
        a.data[i] = old - eps
        down = f()
        a.data[i] = old
        grad[i] = (up - down) / (2 * eps)
    return grad


TRIL = np.tril(np.ones((5, 5), dtype=bool))

RULES = {
    "add": (lambda a, b: a + b, [(3, 4), (3, 4)]),
    "add, broadcast front": (lambda a, b: a + b, [(2, 3, 4), (4,)]),
    "add, broadcast middle": (lambda a, b: a + b, [(2, 3, 4), (2, 1, 4)]),
    "add, scalar": (lambda a: 2.5 + a + 1.0, [(3,)]),
    "sub": (lambda a, b: a - b - 1.0, [(3, 4), (1, 4)]),
    "rsub": (lambda a: 1.0 - a, [(3, 4)]),
    "mul, broadcast both": (lambda a, b: a * b, [(2, 1, 4), (3, 1)]),
    "div": (lambda a, b: a / (b * b + 1.0), [(3, 4), (3, 1)]),
    "rdiv": (lambda a: 1.0 / (a * a + 1.0), [(3, 4)]),
    "neg": (lambda a: -a, [(3, 4)]),
    "power 2": (lambda a: a ** 2, [(3, 4)]),
    "power 3": (lambda a: a ** 3, [(3, 4)]),
    "power -0.5": (lambda a: (a * a + 1.0) ** -0.5, [(3, 4)]),
    "exp": (lambda a: a.exp(), [(3, 4)]),
    "log": (lambda a: (a * a + 0.5).log(), [(3, 4)]),
    "tanh": (lambda a: a.tanh(), [(3, 4)]),
    "matmul 2-D": (lambda a, b: a @ b, [(3, 4), (4, 5)]),
    "matmul batched": (lambda a, b: a @ b, [(2, 3, 4, 5), (2, 3, 5, 2)]),
    "matmul batch broadcast": (lambda a, b: a @ b, [(2, 3, 4, 5), (3, 5, 2)]),
    "matmul, first side broadcast": (lambda a, b: a @ b, [(4, 5), (2, 5, 3)]),
    "matmul shared weight": (lambda a, b: a @ b, [(2, 3, 4), (4, 5)]),
    "matmul shared weight, transposed": (lambda a, b: a @ b.T, [(2, 3, 4), (5, 4)]),
    "sum all": (lambda a: a.sum(), [(3, 4)]),
    "sum axis": (lambda a: a.sum(0), [(3, 4)]),
    "sum axes keepdims": (lambda a: a.sum((0, 2), keepdims=True), [(2, 3, 4)]),
    "mean": (lambda a: a.mean(-1, keepdims=True) + a.mean(), [(3, 4)]),
    "reshape": (lambda a: a.reshape(4, 3), [(3, 4)]),
    "transpose": (lambda a: a.transpose(0, 2), [(2, 3, 4)]),
    "T": (lambda a: a.T, [(3, 4)]),
    "slice": (lambda a: a[:, 1:3], [(3, 4)]),
    "gather repeated rows": (lambda a: a[np.array([[0, 2, 2], [1, 2, 0]])], [(4, 3)]),
    "where": (lambda a, b: where(np.array([True, False, True, False]), a, b), [(3, 4), (4,)]),
    "masked_fill": (lambda a: a.masked_fill(~TRIL, 0.5), [(5, 5)]),
    "softmax": (lambda a: a.softmax(-1), [(3, 5)]),
    "softmax axis 0": (lambda a: a.softmax(0), [(3, 5)]),
    "causal softmax": (lambda a: a.masked_fill(~TRIL, -np.inf).softmax(-1), [(2, 5, 5)]),
    "cross_entropy": (lambda a: cross_entropy(a, np.array([[1, 0], [4, 4]])), [(2, 2, 5)]),
    "layer norm": (lambda a: (a - a.mean(-1, keepdims=True))
                   * (((a - a.mean(-1, keepdims=True)) ** 2).mean(-1, keepdims=True) + 1e-5)
                   ** -0.5, [(3, 6)]),
}


@pytest.mark.parametrize("name", list(RULES))
def test_rule_against_central_differences(name):
    op, shapes = RULES[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))     # the same inputs on every run
    inputs = [Tensor(rng.normal(size=s), requires_grad=True) for s in shapes]   # float64
    weights = rng.normal(size=op(*inputs).shape)
    f = lambda: (op(*inputs) * weights).sum()     # noqa: E731
    f().backward()
    for t in inputs:
        assert t.grad.shape == t.shape and t.grad.dtype == np.float64
        expected = numeric_grad(lambda: f().item(), t)
        np.testing.assert_allclose(t.grad, expected, rtol=1e-6, atol=1e-7, err_msg=name)


def test_float32_stays_float32():
    a = Tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
    loss = cross_entropy((2.0 * a @ a.T / 3.0).tanh() + 1, np.array([0, 1]))
    loss.backward()
    assert loss.dtype == np.float32 and a.grad.dtype == np.float32


def test_shared_tensors_get_every_term():
    """A diamond: b uses a, c uses a and b. The walk must finish b before a."""
    a = Tensor(np.array([0.3, -1.2]), requires_grad=True)
    b = a.tanh()
    c = (a * b + b * b).sum()
    c.backward()
    t = np.tanh(a.data)
    np.testing.assert_allclose(a.grad, t + a.data * (1 - t * t) + 2 * t * (1 - t * t))


def test_gradients_accumulate_and_constants_get_none():
    a = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    const = Tensor(np.array([3.0, 4.0]))
    (a * const).sum().backward()
    (a * const).sum().backward()
    np.testing.assert_allclose(a.grad, 2 * const.data)
    assert const.grad is None


def test_unbroadcast_and_errors():
    assert unbroadcast(np.ones((2, 3, 4)), (3, 1)).tolist() == [[8.0]] * 3
    with pytest.raises(ValueError, match="scalar"):
        Tensor(np.ones(3), requires_grad=True).backward()
    with pytest.raises(ValueError, match="2 axes"):
        Tensor(np.ones(3)) @ Tensor(np.ones((3, 2)))


# --- the GPT against tinygrad ---------------------------------------------------------------

SMALL = ShakespeareConfig(n_layer=2, n_head=4, n_embd=32, block_size=16, batch_size=4)


def batch(seed: int = 0):
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 65, (4, 16)).astype(np.int32),
            rng.integers(0, 65, (4, 16)).astype(np.int32))


def test_gpt_gradients_match_tinygrad():
    model = build(SMALL, 65)
    twin = NumpyGPT.from_tinygrad(model)
    x, y = batch()
    params = get_state_dict(model)
    for p in params.values():
        p.requires_grad = True
    with training():
        loss = lm_loss(model, TinyTensor(x), TinyTensor(y))
        loss.backward()
    ours = twin.loss(x, y)
    ours.backward()
    assert abs(ours.item() - loss.item()) < 1e-5
    assert set(twin.params) == set(params)
    for name, p in params.items():
        theirs, mine = p.grad.numpy(), twin.params[name].grad
        assert mine.dtype == np.float32, name
        # measured: at most 6e-7 of the largest entry (h.1.ln_1.weight); float32 rounding
        assert np.abs(mine - theirs).max() <= 1e-5 * np.abs(theirs).max() + 1e-8, name


def test_training_steps_match_tinygrad():
    """AdamW with weight decay, clipping that bites (max norm 0.5) and a warmup schedule."""
    model = build(SMALL, 65)
    twin = NumpyGPT.from_tinygrad(model)
    step = make_train_step(model, TinyAdamW(get_state_dict(model), lr=3e-3, betas=(0.9, 0.99),
                                            weight_decay=0.1), grad_clip=0.5)
    optimizer = AdamW(twin.params, lr=3e-3, betas=(0.9, 0.99), weight_decay=0.1)
    schedule = TrainConfig(steps=6, lr=3e-3, min_lr=3e-4, warmup_steps=2)
    with training():
        for i in range(6):
            x, y = batch(i)
            lr = schedule.lr_at(i)
            loss, norm = step(TinyTensor([lr], dtype=dtypes.float32), TinyTensor(x),
                              TinyTensor(y))
            optimizer.lr = lr
            ours = twin.loss(x, y)
            optimizer.zero_grad()
            ours.backward()
            our_norm = optimizer.clip_grad_norm(0.5)
            optimizer.step()
            assert abs(ours.item() - loss.item()) < 1e-4, i
            assert abs(our_norm - norm.item()) < 1e-4 * norm.item(), i
    assert our_norm > 0.5                                 # the clipping was active
    for name, p in get_state_dict(model).items():
        np.testing.assert_allclose(twin.params[name].data, p.numpy(), atol=2e-5, err_msg=name)


def test_short_run_on_shakespeare_learns():
    text = tiny_shakespeare()
    tokenizer = CharTokenizer.from_text(text)
    train_ids, val_ids = split(tokenizer.encode(text))
    batches = TokenBatches(train_ids, val_ids, batch_size=8, block_size=32)
    cfg = ShakespeareConfig(n_layer=1, n_head=2, n_embd=32, block_size=32)
    twin = NumpyGPT.from_tinygrad(build(cfg, tokenizer.vocab_size))
    optimizer = AdamW(twin.params, lr=1e-2, betas=(0.9, 0.99), weight_decay=0.1)
    before = evaluate(twin, batches, "val", 4, seed=0)
    rng = np.random.default_rng(0)
    for _ in range(300):
        x, y = batches("train", rng)
        loss = twin.loss(x.numpy(), y.numpy())
        optimizer.zero_grad()
        loss.backward()
        optimizer.clip_grad_norm(1.0)
        optimizer.step()
    after = evaluate(twin, batches, "val", 4, seed=0)
    assert before > 4.0 and after < 2.85, (before, after)         # uniform: ln 65 = 4.17
    text = tokenizer.decode(generate(twin, tokenizer.encode("\n").tolist(), 40, seed=0))
    assert len(text) == 40


def test_command_rejects_bad_sizes(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--n-embd", "30", "--n-head", "4"])
    assert stop.value.code == 2
    assert "not divisible" in capsys.readouterr().err
