"""lama.questions and MultiHeadAttention's score option: numpy references for the new numeric parts
(the four scores, with masks; the LSTM; the influence gradients; the per-block gradient norms), the
shared and position-free models, the command line's errors, and every experiment's --short run."""
import itertools
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
from tinygrad import Tensor, dtypes
from tinygrad.nn.state import get_parameters, get_state_dict

from lama.block import BlockConfig
from lama.data import SHAKESPEARE_FILE
from lama.multihead import SCORES, MultiHeadAttention
from lama.questions import (EXPERIMENTS, LSTM, TinyLM, best_without_order, block_grad_norms,
                            influence, main, num_params, reinitialise, summarise)
from lama.self_attention import padding_mask, scaled_dot_product_attention
from lama.train import AdamW


def softmax(s):
    s = s - s.max(-1, keepdims=True)
    e = np.exp(s)
    return e / e.sum(-1, keepdims=True)


def reference_multihead(attn, x, valid):
    """Multi-head attention from the formulas, one batch row, head and query at a time.
    x (B, T, C), valid (B, T) bool for real keys -> (B, T, C) and weights (B, nh, T, T)."""
    B, T, C = x.shape
    nh, hs = attn.n_head, attn.head_size
    W, b = attn.c_attn.weight.numpy().astype(np.float64), attn.c_attn.bias.numpy().astype(np.float64)
    qkv = x @ W.T + b
    out = np.zeros((B, T, C))
    weights = np.zeros((B, nh, T, T))
    for bi, h, i in itertools.product(range(B), range(nh), range(T)):
        q = qkv[bi, i, h * hs:(h + 1) * hs]
        scores = []
        for j in range(T):
            k = qkv[bi, j, C + h * hs:C + (h + 1) * hs]
            if attn.score == "dot":
                s = q @ k
            elif attn.score == "scaled_dot":
                s = q @ k / math.sqrt(hs)
            elif attn.score == "general":
                s = q @ attn.w_score.numpy()[h] @ k
            else:  # additive: v_a . tanh(W_q q + W_k k), stored for rows (q @ W_q)
                hidden = np.tanh(q @ attn.W_q.numpy()[h] + k @ attn.W_k.numpy()[h])
                s = attn.v_a.numpy()[h] @ hidden
            allowed = valid[bi, j] and (j <= i or not attn.causal)
            scores.append(s if allowed else -np.inf)
        w = softmax(np.array(scores))
        weights[bi, h, i] = w
        values = qkv[bi, :, 2 * C + h * hs:2 * C + (h + 1) * hs]
        out[bi, i, h * hs:(h + 1) * hs] = w @ values
    return out @ attn.c_proj.weight.numpy().T + attn.c_proj.bias.numpy(), weights


@pytest.mark.parametrize("score, causal", [(score, True) for score in SCORES] + [("additive", False)])
def test_scores_match_numpy(score, causal):
    rng = np.random.default_rng(1)
    B, T, C, nh = 2, 5, 12, 3
    Tensor.manual_seed(3)
    attn = MultiHeadAttention(C, nh, causal=causal, score=score)
    if score == "general":  # a learned W, not its identity start
        attn.w_score = Tensor(rng.standard_normal((nh, C // nh, C // nh)).astype(np.float32) * 0.4)
    x = rng.standard_normal((B, T, C)).astype(np.float32)
    valid = np.array([[True] * T, [True] * 3 + [False] * (T - 3)])
    y, weights = attn(Tensor(x), padding_mask(Tensor(valid)), return_weights=True)
    ref_y, ref_w = reference_multihead(attn, x.astype(np.float64), valid)
    np.testing.assert_allclose(weights.numpy(), ref_w, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(y.numpy(), ref_y, rtol=1e-4, atol=1e-5)


def test_score_parameters_are_learned():
    """backward() (what the optimizer uses) reaches general's W and all three of additive's
    W_q, W_k and v_a, in float32 (with its tanh, the query's part does not cancel)."""
    x = Tensor(np.random.default_rng(0).standard_normal((2, 6, 8)).astype(np.float32))
    general = MultiHeadAttention(8, 2, score="general")
    additive = MultiHeadAttention(8, 2, score="additive")
    for attn, names in [(general, ["w_score"]), (additive, ["W_q", "W_k", "v_a"])]:
        Tensor.realize(*get_state_dict(attn).values())     # as the training step does
        attn(x).square().sum().backward()
        for name in names:
            p = getattr(attn, name)
            assert p.dtype == dtypes.float32 and p.grad is not None, name
    assert general.w_score.grad.shape == (2, 4, 4) and np.abs(general.w_score.grad.numpy()).max() > 1e-4
    for name in ["W_q", "W_k", "v_a"]:
        assert np.abs(getattr(additive, name).grad.numpy()).max() > 1e-4, name


def test_general_starts_as_scaled_dot_and_default_is_unchanged():
    x = Tensor(np.random.default_rng(0).standard_normal((2, 6, 16)).astype(np.float32))
    Tensor.manual_seed(0)
    default = MultiHeadAttention(16, 4)
    Tensor.manual_seed(0)
    general = MultiHeadAttention(16, 4, score="general")
    np.testing.assert_allclose(general(x).numpy(), default(x).numpy(), rtol=1e-5, atol=1e-6)
    # the default path is the self-attention chapter's function, weights and all
    q, k, v = (default.split_heads(t) for t in default.c_attn(x).split(16, dim=-1))
    from lama.self_attention import causal_mask
    _, expected = scaled_dot_product_attention(q, k, v, causal_mask(6))
    _, weights = default(x, return_weights=True)
    np.testing.assert_allclose(weights.numpy(), expected.numpy(), rtol=1e-6)
    assert default.score == "scaled_dot" and not hasattr(default, "w_score")


def test_unknown_score_is_refused():
    with pytest.raises(ValueError, match="score must be one of"):
        MultiHeadAttention(8, 2, score="cosine")
    with pytest.raises(ValueError, match="score must be one of"):
        TinyLM(5, 4, 1, BlockConfig(n_embd=8, n_head=2, score="Dot"))


def numpy_lstm_last(lstm, x):
    """h at the last position, by the LSTM equations written out again: x (B, T, n_in) -> (B, H)."""
    H = lstm.n_hidden
    h, c = np.zeros((x.shape[0], H)), np.zeros((x.shape[0], H))
    for t in range(x.shape[1]):
        z = x[:, t] @ lstm.W_x + h @ lstm.W_h + lstm.b
        gate = lambda k: 1 / (1 + np.exp(-z[:, k * H:(k + 1) * H]))  # noqa: E731
        c = gate(1) * c + gate(0) * np.tanh(z[:, 2 * H:3 * H])
        h = gate(3) * np.tanh(c)
    return h


@pytest.mark.parametrize("forget_bias", [0.0, 1.0])
def test_lstm_gradients_match_finite_differences(forget_bias):
    lstm = LSTM(3, 4, forget_bias=forget_bias, seed=1)
    x = np.random.default_rng(2).standard_normal((2, 5, 3))
    u = np.random.default_rng(3).standard_normal(4)
    np.testing.assert_allclose(lstm.forward(x)[0][:, -1], numpy_lstm_last(lstm, x), rtol=1e-12)
    eps, expected = 1e-6, np.zeros_like(x)
    for idx in np.ndindex(*x.shape[1:]):
        d = np.zeros_like(x)
        d[(slice(None), *idx)] = eps
        expected[(slice(None), *idx)] = (numpy_lstm_last(lstm, x + d) @ u - numpy_lstm_last(lstm, x - d) @ u) / (2 * eps)
    np.testing.assert_allclose(lstm.input_gradients(x, u), expected, rtol=1e-5, atol=1e-9)
    ours = influence(lstm, x, u)
    np.testing.assert_allclose(ours, np.sqrt((expected ** 2).sum(-1)).mean(0), rtol=1e-5)
    assert np.allclose(lstm.b[4:8], forget_bias) and np.allclose(np.delete(lstm.b, range(4, 8)), 0)


def test_block_influence_matches_finite_differences():
    from lama.block import Block
    Tensor.manual_seed(0)
    block = Block(BlockConfig(n_embd=8, n_head=2))
    x = np.random.default_rng(0).standard_normal((1, 4, 8))
    u = np.random.default_rng(1).standard_normal(8)
    ours = influence(block, x, u)
    eps, grad = 1e-2, np.zeros_like(x)
    zs = []
    for idx in np.ndindex(*x.shape[1:]):
        for sign in (1, -1):
            d = np.zeros_like(x)
            d[(0, *idx)] = sign * eps
            zs.append(x + d)
    outs = block(Tensor(np.concatenate(zs).astype(np.float32))).numpy()[:, -1] @ u   # all in one batch
    grad[0] = ((outs[0::2] - outs[1::2]) / (2 * eps)).reshape(x.shape[1:])
    np.testing.assert_allclose(ours, np.sqrt((grad ** 2).sum(-1)).mean(0), rtol=2e-2, atol=1e-4)


def test_best_without_order_against_enumeration():
    length, V = 4, 3
    hits = 0
    for seq in itertools.product(range(V), repeat=length):
        counts = np.bincount(seq, minlength=V)
        counts[seq[0]] -= 1
        hits += int(np.argmax(counts) == seq[-1])
    exact = hits / V ** length
    assert abs(best_without_order(length, V, n=200_000) - exact) < 0.005
    assert best_without_order(2, 5, n=1000) == 1.0           # with two tokens, the other one is the answer


def test_shared_model_counts_one_block():
    cfg = BlockConfig(n_embd=16, n_head=2)
    Tensor.manual_seed(0)
    separate, shared, one = TinyLM(11, 8, 3, cfg), TinyLM(11, 8, 3, cfg, shared=True), TinyLM(11, 8, 1, cfg)
    assert len(shared.blocks()) == 3 and all(b is shared.blocks()[0] for b in shared.blocks())
    block = num_params(separate) - num_params(one)
    assert block % 2 == 0 and num_params(shared) == num_params(one) == num_params(separate) - block
    assert not any(k.startswith("h.") for k in get_state_dict(shared))
    no_pos = TinyLM(11, 8, 1, cfg, positions=False)
    assert no_pos.wpe is None and num_params(no_pos) == num_params(one) - 8 * 16
    ids = Tensor(np.arange(16).reshape(2, 8) % 11, dtype=dtypes.int32)
    logits, stream = shared(ids, return_stream=True)
    assert logits.shape == (2, 8, 11) and len(stream) == 4 and stream[0].shape == (2, 8, 16)


def test_block_grad_norms_match_backward():
    Tensor.manual_seed(0)
    model = TinyLM(7, 6, 2, BlockConfig(n_embd=8, n_head=2, residual=False))
    x = Tensor(np.random.default_rng(0).integers(0, 7, (2, 6)), dtype=dtypes.int32)
    y = Tensor(np.random.default_rng(1).integers(0, 7, (2, 6)), dtype=dtypes.int32)
    per_block, stream = block_grad_norms(model, x, y)
    assert per_block.shape == (2,) and stream.shape == (2,)
    params = get_parameters(model)
    for p in params:
        p.requires_grad = True
    model(x).sparse_categorical_crossentropy(y).backward()
    Tensor.realize(*[p.grad for p in params])      # all at once: one backward pass
    expected = [np.sqrt(sum((p.grad.numpy() ** 2).sum() for p in get_parameters(b))) for b in model.h]
    np.testing.assert_allclose(per_block.numpy(), expected, rtol=1e-4)
    assert np.all(stream.numpy() > 0)


def test_reinitialise_gives_the_seeds_weights():
    cfg = BlockConfig(n_embd=8, n_head=2)
    make = lambda: TinyLM(5, 4, 1, cfg)  # noqa: E731
    Tensor.manual_seed(7)
    wanted = {k: v.numpy() for k, v in get_state_dict(make()).items()}
    Tensor.manual_seed(0)
    model = make()
    optimizer = AdamW(get_state_dict(model))
    optimizer.t.assign(Tensor([5.0])).realize()
    reinitialise(model, make, optimizer, seed=7)
    for k, v in get_state_dict(model).items():
        np.testing.assert_array_equal(v.numpy(), wanted[k], err_msg=k)
    assert optimizer.t.item() == 0


def test_summarise():
    runs = {"a": [{"val_loss": [9, 1.0]}, {"val_loss": [9, 2.0]}, {"val_loss": [9, 4.0]}]}
    s = summarise(runs)["a"]
    assert s["mean"] == pytest.approx(7 / 3, abs=1e-4) and s["std"] == pytest.approx(np.std([1, 2, 4], ddof=1), abs=1e-4)
    assert (s["min"], s["max"]) == (1.0, 4.0)


@pytest.mark.parametrize("argv, message", [
    (["nonsense", "--out", "x"], "invalid choice"),
    (["paths", "--out", "x", "--seeds", "1", "1"], "distinct"),
    (["paths", "--out", "x", "--seeds", "-1"], "not negative"),
    (["paths"], "--out"),
])
def test_cli_errors(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and message in err and err.count("\n") == 1


def test_cli_out_must_be_a_folder(capsys, tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(SystemExit) as e:
        main(["paths", "--out", str(tmp_path / "file"), "--short"])
    assert e.value.code == 2 and "not a folder" in capsys.readouterr().err


def has_shakespeare() -> bool:
    root = os.environ.get("LAMA_DATA_DIR")
    return bool(root) and (Path(root) / SHAKESPEARE_FILE).is_file()


def check_runs(runs: dict, variants: list[str], seeds: list[int], n_evals: int):
    assert sorted(runs) == sorted(variants)
    for name, records in runs.items():
        assert [r["seed"] for r in records] == seeds, name
        for r in records:
            assert len(r["step"]) == len(r["val_loss"]) == len(r["train_loss"]) == n_evals
            assert all(math.isfinite(v) for v in r["val_loss"])


@pytest.mark.parametrize("experiment", sorted(EXPERIMENTS))
def test_short_experiment(experiment, tmp_path, capsys):
    """Each experiment's --short run writes OUT/<experiment>.json with the expected layout."""
    if experiment in ("scale", "scores", "sharing", "residual") and not has_shakespeare():
        pytest.skip("needs tiny Shakespeare: set LAMA_DATA_DIR to a folder with tinyshakespeare/input.txt")
    seeds = [0, 1] if experiment == "sharing" else [0]   # one experiment checks that seeds add up
    assert main([experiment, "--out", str(tmp_path / "q"), "--short", "--seeds", *map(str, seeds)]) == 0
    path = tmp_path / "q" / f"{experiment}.json"
    assert capsys.readouterr().out.strip() == str(path)
    r = json.loads(path.read_text())
    assert r["experiment"] == experiment and r["seeds"] == seeds and r["short"] and r["wall_seconds"] > 0
    evals = [0, 1]
    if experiment == "paths":
        T = r["settings"]["length"]
        assert sorted(r["influence"]) == ["lstm", "lstm_forget_bias_1", "transformer_block"]
        for curves in r["influence"].values():
            assert len(curves) == len(seeds) and all(len(c) == T and min(c) >= 0 for c in curves)
        assert r["structure"]["lstm"]["sequential_steps"] == T
    elif experiment == "positions":
        check_runs(r["runs"], ["learned_positions", "no_positions"], seeds, len(evals))
        for rec in r["runs"]["no_positions"]:
            assert len(rec["accuracy"]) == r["length"] and rec["permutation_max_diff"] < 1e-4
        assert 1 / r["vocab_size"] < r["best_without_order"] < 0.5
    elif experiment == "scale":
        assert set(r["init"]["by_score"]) == {"dot", "scaled_dot"}
        for by_d in r["init"]["by_score"].values():
            assert sorted(by_d, key=int) == [str(d) for d in r["init"]["sizes"]]
            for m in by_d.values():
                assert set(m) == {"score_std", "entropy", "max_weight", "grad_qk", "grad_v"}
                assert all(len(v) == len(seeds) for v in m.values())
        check_runs(r["train"]["runs"], ["dot", "scaled_dot"], seeds, len(evals))
        assert set(r["train"]["summary"]) == {"dot", "scaled_dot"}
    elif experiment == "scores":
        check_runs(r["runs"], list(SCORES), seeds, len(evals))
        assert r["uniform_loss"] == pytest.approx(math.log(65))
    elif experiment == "sharing":
        check_runs(r["runs"], ["separate", "shared", "one_block"], seeds, len(evals))
        p = r["params"]
        assert p["shared"] == p["one_block"] == p["separate"] - (r["depth"]["separate"] - 1) * r["block_params"]
    elif experiment == "residual":
        check_runs(r["runs"], ["residual", "no_residual"], seeds, len(evals))
        n_layer = r["settings"]["n_layer"]
        for records in r["runs"].values():
            for rec in records:
                assert rec["probe_step"] == evals
                assert all(len(g) == n_layer for g in rec["grad_norm_params"] + rec["grad_norm_stream"])

