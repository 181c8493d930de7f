"""Grokking: the split, the loss (the last-position shortcut is checked on the page), the Fourier tools, the CLI, and the two
phases of training on a small modulus (memorising first; generalising with more data)."""
import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest
from tinygrad import Tensor
from tinygrad.nn.state import get_state_dict

from lama.grokking import (GrokConfig, GrokModel, encode, fourier_basis, frequency_norms, loss_and_accuracy,
                           make_split, phases, train_grokking)


def test_split_is_deterministic_disjoint_and_complete():
    train, test = make_split(113, 0.3, seed=0)
    assert len(train) == 3830 and len(test) == 113 * 113 - 3830           # Nanda et al.'s 3,830
    again_train, again_test = make_split(113, 0.3, seed=0)
    assert np.array_equal(train, again_train) and np.array_equal(test, again_test)
    other, _ = make_split(113, 0.3, seed=1)
    assert not np.array_equal(train, other)                                  # the seed matters
    keys = lambda pairs: set((pairs[:, 0] * 113 + pairs[:, 1]).tolist())
    assert not keys(train) & keys(test)                                      # disjoint
    assert keys(train) | keys(test) == set(range(113 * 113))                 # every pair once
    with pytest.raises(ValueError):
        make_split(113, 1.0, seed=0)


def test_encode_pads_with_zero_weight_rows():
    train, _ = make_split(31, 0.3, seed=0)
    ids, y, w = encode(train, 31, multiple=128)
    ids, y, w = ids.numpy(), y.numpy(), w.numpy()
    assert ids.shape == (384, 3) and len(train) == 288
    assert np.array_equal(ids[:288, :2], train) and (ids[:, 2] == 31).all()  # "a b =", "=" is token p
    assert np.array_equal(y[:288], (train[:, 0] + train[:, 1]) % 31)
    assert w[:288].sum() == 288 and w[288:].sum() == 0


def test_loss_and_accuracy_match_numpy_and_ignore_padding():
    Tensor.manual_seed(4)
    model = GrokModel(GrokConfig(p=31, n_embd=32, n_head=4))
    ids, y, w = encode(make_split(31, 0.3, seed=0)[0], 31)
    loss, acc = loss_and_accuracy(model, ids, y, w).numpy()
    logits, y, w = model(ids).numpy().astype(np.float64), y.numpy(), w.numpy()
    logp = logits - logits.max(-1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(-1, keepdims=True))
    real = w == 1
    assert loss == pytest.approx(-logp[real, y[real]].mean(), rel=1e-5)
    assert acc == pytest.approx((logits.argmax(-1) == y)[real].mean(), abs=1e-6)


def test_fourier_basis_is_orthonormal_and_frequency_norms_match_numpy_fft():
    B = fourier_basis(113)
    np.testing.assert_allclose(B @ B.T, np.eye(113), atol=1e-12)
    W = np.random.default_rng(0).normal(size=(113, 7))
    # numpy's FFT: the k-th coefficient of a real signal has |X_k| = sqrt(p/2) * (cos and sin part)
    ref = np.sqrt((np.abs(np.fft.rfft(W, axis=0))[1:] ** 2).sum(-1) * 2 / 113)
    np.testing.assert_allclose(frequency_norms(W), ref, rtol=1e-10)
    x = np.arange(113)
    spike = frequency_norms(np.stack([np.cos(2 * np.pi * 14 * x / 113), np.sin(2 * np.pi * 14 * x / 113)], 1))
    assert spike.argmax() == 13 and spike[13] > 1000 * np.delete(spike, 13).max()   # k = 14 only


def test_phases_reads_the_first_step_over_the_threshold():
    history = [{"step": s, "train_acc": tr, "test_acc": te, "elapsed_s": s / 10}
               for s, tr, te in [(0, 0.0, 0.0), (100, 1.0, 0.1), (200, 1.0, 0.995), (300, 1.0, 1.0)]]
    assert phases(history) == {"threshold": 0.99, "train_step": 100, "train_s": 10.0, "test_step": 200, "test_s": 20.0}
    assert phases(history[:2])["test_step"] is None


# The two phases on p = 31 (961 pairs), a smaller model and lr 3e-3, so that each takes seconds.
SMALL = dict(p=31, n_embd=64, lr=3e-3)


def test_a_short_run_memorises_first():
    _, history = train_grokking(GrokConfig(**SMALL, frac=0.3, steps=100, eval_interval=50), log=None)
    last = history[-1]
    assert last["train_acc"] == 1.0 and last["train_loss"] < 0.05      # the training pairs: memorised
    assert last["test_acc"] < 0.5 and last["test_loss"] > 2.0           # the others: not yet


def test_with_more_data_it_generalises(tmp_path):
    config = GrokConfig(**SMALL, frac=0.6, steps=600, eval_interval=300, checkpoint_interval=300)
    _, history = train_grokking(config, tmp_path, log=None)
    assert history[-1]["test_acc"] >= 0.95, history[-1]
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["history"] == history and saved["config"]["frac"] == 0.6


def test_a_finished_run_continues_to_more_steps_as_if_never_stopped(tmp_path):
    config = GrokConfig(**SMALL, frac=0.3, steps=20, eval_interval=10, checkpoint_interval=10)
    train_grokking(config, tmp_path / "a", log=None)                          # stops at step 20
    longer = dataclasses.replace(config, steps=30)
    resumed, history = train_grokking(longer, tmp_path / "a", log=None)      # continues 20 -> 30
    straight, straight_history = train_grokking(longer, tmp_path / "b", log=None)
    assert [r["step"] for r in history] == [0, 10, 20, 30]
    for key in ("train_loss", "test_loss", "train_acc", "test_acc"):
        assert [r[key] for r in history] == [r[key] for r in straight_history], key
    for name, value in get_state_dict(straight).items():
        np.testing.assert_array_equal(get_state_dict(resumed)[name].numpy(), value.numpy(), err_msg=name)
    with pytest.raises(ValueError, match="different configuration"):
        train_grokking(dataclasses.replace(longer, lr=1e-3), tmp_path / "a", log=None)
    with pytest.raises(ValueError, match="beyond steps="):
        train_grokking(dataclasses.replace(config, steps=10), tmp_path / "a", log=None)


def test_cli_rejects_bad_input_in_one_line(tmp_path):
    for bad in (["--p", "12"], ["--frac", "1.5"], ["--wd", "-1"], ["--n-head", "3"], ["--steps", "x"],
                ["--beam", "0"]):
        run = subprocess.run([sys.executable, "-m", "lama.grokking", "--out", str(tmp_path / "o"), *bad],
                             capture_output=True, text=True)
        assert run.returncode == 2 and run.stderr.count("\n") == 1 and "Traceback" not in run.stderr, bad
