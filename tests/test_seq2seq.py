"""lama.seq2seq: cross-attention against numpy, the decoder block against a hand computation, the
masks of the encoder-decoder, the sorting data, greedy decoding, a short training run that learns to
sort, and the command line."""
import json
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
from tinygrad import Tensor

from lama.block import BlockConfig
from lama.brackets import split_of
from lama.multihead import MultiHeadAttention
from lama.self_attention import padding_mask
from lama.seq2seq import (BOS, EOS, PAD, CrossAttention, DecoderBlock, Seq2Seq, Seq2SeqConfig,
                          SortBatches, SortConfig, digits_of, greedy_decode, main, sort_examples,
                          train_sorter)

ROOT = Path(__file__).resolve().parent.parent


def numpy_cross_attention(cross: CrossAttention, x: np.ndarray, memory: np.ndarray,
                          valid: np.ndarray | None):
    """The layer from its formula, head by head: x (B, T_q, C), memory (B, T_k, C), valid (B, T_k)
    -> (out (B, T_q, C), weights (B, n_head, T_q, T_k)), in float64."""
    x, memory = x.astype(np.float64), memory.astype(np.float64)
    C, hs = cross.n_embd, cross.head_size
    q = x @ cross.q_attn.weight.numpy().T + cross.q_attn.bias.numpy()
    kv = memory @ cross.c_attn.weight.numpy().T + cross.c_attn.bias.numpy()
    k, v = kv[..., :C], kv[..., C:]
    outs, weights = [], []
    for h in range(cross.n_head):
        part = slice(h * hs, (h + 1) * hs)
        s = np.einsum("bqd,bkd->bqk", q[..., part], k[..., part]) / np.sqrt(hs)
        if valid is not None:
            s = np.where(valid[:, None, :], s, -np.inf)
        w = np.exp(s - s.max(-1, keepdims=True))
        w /= w.sum(-1, keepdims=True)
        weights.append(w)
        outs.append(w @ v[..., part])
    out = np.concatenate(outs, -1) @ cross.c_proj.weight.numpy().T + cross.c_proj.bias.numpy()
    return out, np.stack(weights, 1)


@pytest.mark.parametrize("B, T_q, T_k, C, n_head, padded", [
    (1, 1, 1, 8, 1, False), (2, 3, 7, 16, 4, True), (3, 6, 2, 12, 3, True), (2, 5, 5, 32, 8, False)])
def test_cross_attention_matches_numpy(B, T_q, T_k, C, n_head, padded):
    Tensor.manual_seed(B * 100 + T_k)
    cross = CrossAttention(C, n_head)
    rng = np.random.default_rng(T_q)
    x = rng.standard_normal((B, T_q, C)).astype(np.float32)
    memory = rng.standard_normal((B, T_k, C)).astype(np.float32)
    valid = None
    if padded:                        # row b has T_k - b real keys (at least one)
        valid = np.arange(T_k)[None, :] < np.maximum(T_k - np.arange(B), 1)[:, None]
    mask = None if valid is None else padding_mask(Tensor(valid))
    y, weights = cross(Tensor(x), Tensor(memory), mask, return_weights=True)
    assert y.shape == (B, T_q, C) and weights.shape == (B, n_head, T_q, T_k)
    expected, expected_weights = numpy_cross_attention(cross, x, memory, valid)
    np.testing.assert_allclose(weights.numpy(), expected_weights, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-4, atol=1e-5)
    if valid is not None:
        assert (weights.numpy()[~np.broadcast_to(valid[:, None, None, :], weights.shape)] == 0).all()


def test_cross_attention_with_itself_is_bidirectional_self_attention():
    Tensor.manual_seed(1)
    C = 16
    attn, cross = MultiHeadAttention(C, 4, causal=False), CrossAttention(C, 4)
    cross.q_attn.weight, cross.q_attn.bias = attn.c_attn.weight[:C], attn.c_attn.bias[:C]
    cross.c_attn.weight, cross.c_attn.bias = attn.c_attn.weight[C:], attn.c_attn.bias[C:]
    cross.c_proj = attn.c_proj
    x = Tensor(np.random.default_rng(2).standard_normal((2, 6, C)).astype(np.float32))
    np.testing.assert_allclose(cross(x, x).numpy(), attn(x).numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("norm", ["pre", "post"])
def test_decoder_block_by_hand(norm):
    Tensor.manual_seed(3)
    block = DecoderBlock(BlockConfig(n_embd=16, n_head=4, norm=norm))
    rng = np.random.default_rng(4)
    x = Tensor(rng.standard_normal((2, 5, 16)).astype(np.float32))
    memory = Tensor(rng.standard_normal((2, 3, 16)).astype(np.float32))
    mask = padding_mask(Tensor(np.array([[True, True, True], [True, False, False]])))
    if norm == "pre":
        h = x + block.attn(block.ln_1(x))
        h = h + block.cross(block.ln_cross(h), memory, mask)
        expected = h + block.mlp(block.ln_2(h))
    else:
        h = block.ln_1(x + block.attn(x))
        h = block.ln_cross(h + block.cross(h, memory, mask))
        expected = block.ln_2(h + block.mlp(h))
    y, weights = block(x, memory, mask, return_weights=True)
    np.testing.assert_allclose(y.numpy(), expected.numpy(), rtol=1e-5, atol=1e-5)
    assert weights.shape == (2, 4, 5, 3) and (weights.numpy()[1, :, :, 1:] == 0).all()
    assert block.attn.causal and not block.cross.causal
    for bad in [dict(norm="none"), dict(causal=False)]:
        with pytest.raises(ValueError, match="decoder block"):
            DecoderBlock(BlockConfig(n_embd=16, n_head=4, **bad))


def small_model(seed: int = 0) -> Seq2Seq:
    Tensor.manual_seed(seed)
    return Seq2Seq(Seq2SeqConfig(n_positions=9, n_layer=1, n_embd=16, n_head=2))


def test_masks_of_the_model():
    model = small_model()
    src, tgt_in, _ = sort_examples(4, 6, "test", np.random.default_rng(5))
    logits = model(Tensor(src), Tensor(tgt_in)).numpy()                   # (4, 7, 13)
    assert logits.shape == (4, 7, 13)
    later = tgt_in.copy()
    later[:, 4:] = 7                                                       # the target from 4 on
    moved = np.abs(model(Tensor(src), Tensor(later)).numpy() - logits).max(-1)
    assert (moved[:, :4] == 0).all()                                       # the decoder is causal
    lengths = (src != PAD).sum(-1)
    last = src.copy()
    last[np.arange(4), lengths - 1] = np.where(last[np.arange(4), lengths - 1] == 3, 4, 3)
    moved = np.abs(model(Tensor(last), Tensor(tgt_in)).numpy() - logits).max(-1)
    assert (moved > 1e-5).all()                     # every target position sees the whole source
    memory = model.encode(Tensor(src)).numpy()                            # (4, 6, 16)
    noise = np.random.default_rng(6).standard_normal(memory.shape).astype(np.float32)
    noisy = np.where((src == PAD)[..., None], noise, memory)           # other vectors at padding
    decoded = model.decode(Tensor(tgt_in), Tensor(noisy), Tensor(src != PAD)).numpy()
    np.testing.assert_allclose(decoded, logits, atol=1e-5)   # what sits at padding is never read
    # a blind decoder: with no source key allowed, the cross-attention adds its c_proj bias only
    blind = Tensor(np.zeros_like(src, dtype=bool))
    a = model.decode(Tensor(tgt_in), model.encode(Tensor(src)), blind).numpy()
    b = model.decode(Tensor(tgt_in), model.encode(Tensor(last)), blind).numpy()
    np.testing.assert_array_equal(a, b)


def test_sort_examples():
    rng = np.random.default_rng(6)
    src, tgt_in, tgt_out = sort_examples(500, 7, "train", rng, digits=4)
    assert src.shape == (500, 7) and tgt_in.shape == tgt_out.shape == (500, 8)
    lengths = (src != PAD).sum(-1)
    assert set(lengths) == set(range(1, 8))
    for s, i, o, L in zip(src, tgt_in, tgt_out, lengths):
        assert (s[:L] >= 3).all() and (s[:L] < 7).all() and (s[L:] == PAD).all()   # right padding
        assert digits_of(o) == "".join(sorted(digits_of(s))) and o[L] == EOS and (o[L + 1:] == PAD).all()
        assert i[0] == BOS and (i[1:L + 1] == o[:L]).all() and (i[L + 1:] == PAD).all()
        assert split_of(digits_of(s)) == "train"
    test_src, _, _ = sort_examples(500, 7, "test", np.random.default_rng(7), digits=4)
    assert {split_of(digits_of(s)) for s in test_src} == {"test"}
    assert not {digits_of(s) for s in src} & {digits_of(s) for s in test_src}
    a, b = SortBatches(8, 5)("val", np.random.default_rng(8)), SortBatches(8, 5)("val", np.random.default_rng(8))
    assert all((x.numpy() == y.numpy()).all() for x, y in zip(a, b))
    with pytest.raises(ValueError, match="split"):
        SortBatches(8, 5)("test", np.random.default_rng(0))
    with pytest.raises(ValueError, match="digits"):
        sort_examples(2, 4, "train", np.random.default_rng(0), digits=11)


def test_greedy_decoding_is_argmax_of_its_own_output():
    """Each greedy token is the argmax of the teacher-forced logits on the output so far."""
    model = small_model(1)
    src, _, _ = sort_examples(6, 6, "test", np.random.default_rng(9))
    out = greedy_decode(model, src)
    assert out.shape == (6, 7)
    tgt = np.concatenate([np.full((6, 1), BOS, np.int32), out[:, :-1]], 1)
    logits = model(Tensor(src), Tensor(tgt)).numpy()
    for row, row_logits in zip(out, logits):
        n = next((t + 1 for t, token in enumerate(row) if token == EOS), len(row))
        assert (row[:n] == row_logits[:n].argmax(-1)).all() and (row[n:] == PAD).all()


# --- learning ------------------------------------------------------------------------------------

def test_short_training_run_learns_to_sort():
    """A tiny model on short sources of five digits, evaluated at the start and the end only (about
    50 s on two quiet cores, most of it compiling)."""
    cfg = SortConfig(max_length=5, digits=5, n_layer=1, n_embd=32, n_head=4, steps=150,
                     batch_size=32, lr=3e-3, seed=0, test_size=256, eval_interval=150)
    model, history = train_sorter(cfg)
    assert [r["step"] for r in history] == [0, 150]
    assert history[0]["val_exact"] == 0 and history[-1]["val_loss"] < 0.2 * history[0]["val_loss"]
    # 256 other test sources, decoded with the shapes of train_sorter's evaluation (no new kernels)
    src, _, tgt_out = sort_examples(256, 5, "test", np.random.default_rng(10), digits=5)
    exact = (greedy_decode(model, src, 6) == tgt_out).all(-1).mean()
    blind = (greedy_decode(model, src, 6, blind=True) == tgt_out).all(-1).mean()
    _, counts = np.unique(tgt_out, axis=0, return_counts=True)
    majority = counts.max() / len(src)                         # the best answer without the source
    assert exact > 0.5 and exact > 4 * majority, (exact, majority)
    assert blind <= majority


# --- the committed result and the command line --------------------------------------------------

def test_the_committed_result_is_the_default_run():
    results = json.loads((ROOT / "docs" / "results" / "seq2seq" / "metrics.json").read_text())
    assert results["settings"] == asdict(SortConfig())
    assert results["command"] == "python -m lama.seq2seq --out docs/results/seq2seq"
    cfg = SortConfig()
    weights = results["cross_attention"]["weights"]
    assert len(weights) == cfg.n_layer and all(len(w) == cfg.n_head for w in weights)
    T_src = len(results["cross_attention"]["source"])
    assert all(np.array(w).shape == (cfg.n_head, cfg.max_length + 1, cfg.max_length) for w in weights)
    assert all(np.allclose(np.array(w).sum(-1), 1, atol=1e-3) for w in weights)
    assert all((np.array(w)[..., T_src:] == 0).all() for w in weights)


@pytest.mark.parametrize("argv, message", [
    (["--n-embd", "30", "--n-head", "4"], "multiple of n_head"),
    (["--digits", "11"], "digits"),
    (["--max-length", "0"], "max_length"),
    (["--steps", "0"], "must be positive"),
    (["--lr", "-1"], "must be positive"),
    (["--steps", "many"], "invalid int value"),
    (["--out", "/no/such/folder"], "no such folder"),
])
def test_bad_arguments_exit_2_with_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err


def test_bad_arguments_in_a_process():
    result = subprocess.run([sys.executable, "-m", "lama.seq2seq", "--n-head", "0"], capture_output=True,
                            text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and "error" in result.stderr
