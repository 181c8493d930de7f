"""lama.brackets and lama.classifier: the data generator against a reference, the encoder's padding
invariance and two-way attention, a short training run that learns, and the command line."""
import subprocess
import sys

import numpy as np
import pytest
from tinygrad import Tensor, dtypes
from tinygrad.nn.state import get_state_dict

from lama.block import Block
from lama.brackets import (CLS, HARD_NEGATIVES, KINDS, OPEN, PAD, BracketBatches, encode, is_balanced,
                           make_examples, sample, split_of)
from lama.classifier import Encoder, EncoderConfig, ExperimentConfig, load_model, main, save_model, score, \
    train_classifier


def reference_balanced(s: str) -> bool:
    """A second, independent check: delete "()" pairs until none is left."""
    while "()" in s:
        s = s.replace("()", "")
    return s == ""


# --- the data ------------------------------------------------------------------------------------

def test_labels_match_a_reference_check():
    strings, labels, kinds = make_examples(2000, range(2, 61, 2), "train", np.random.default_rng(0))
    assert [reference_balanced(s) for s in strings] == labels.astype(bool).tolist()
    assert all(reference_balanced(s) == (k == "balanced") for s, k in zip(strings, kinds))


def test_is_balanced_on_every_short_string():
    import itertools
    for n in range(0, 11):
        for chars in itertools.product("()", repeat=n):
            s = "".join(chars)
            assert is_balanced(s) == reference_balanced(s), s


def test_classes_balanced_and_hard_negatives_present():
    strings, labels, kinds = make_examples(1200, range(2, 41, 2), "test", np.random.default_rng(1))
    assert labels.sum() == 600
    assert [kinds.count(k) for k in KINDS] == [600, 200, 200, 200]
    for s, k in zip(strings, kinds):
        assert len(s) % 2 == 0
        if k in ("shuffled", "swapped"):   # counts equal, order wrong: the depth goes negative
            assert s.count("(") == s.count(")") and not is_balanced(s)
        if k == "flipped":                 # counts differ by two
            assert abs(s.count("(") - s.count(")")) == 2
    # the negatives really are hard: counting alone is right on only 2/3 of them
    counting = np.mean([(s.count("(") == s.count(")")) == bool(label) for s, label in zip(strings, labels)])
    assert abs(counting - 2 / 3) < 1e-9


def decode(ids: np.ndarray) -> list[str]:
    return ["".join("()"[t - OPEN] for t in row[1:] if t != PAD) for row in ids]


def test_hard_training_mix():
    lengths = range(2, 41, 2)
    strings, labels, kinds = make_examples(2400, lengths, "train", np.random.default_rng(12),
                                           negatives=HARD_NEGATIVES, length_weights=lengths)
    assert labels.sum() == 1200 and [kinds.count(k) for k in KINDS] == [1200, 300, 600, 300]
    assert [reference_balanced(s) for s in strings] == labels.astype(bool).tolist()
    expected = sum(n * n for n in lengths) / sum(lengths)       # the mean length when p(n) is proportional to n
    assert abs(np.mean([len(s) for s in strings]) - expected) < 1.0 and abs(expected - 27.33) < 0.01
    with pytest.raises(ValueError, match="negatives"):
        make_examples(4, lengths, "train", np.random.default_rng(0), negatives=("balanced",))
    # the training batches of mix="hard" are longer on average; the validation batches keep the test's mix
    batches, rng = BracketBatches(512, 40, mix="hard"), np.random.default_rng(13)
    train_strings, val_strings = decode(batches("train", rng)[0].numpy()), decode(batches("val", rng)[0].numpy())
    assert np.mean([len(s) for s in train_strings]) > 25 and np.mean([len(s) for s in val_strings]) < 23
    assert {split_of(s) for s in train_strings} == {"train"} and {split_of(s) for s in val_strings} == {"test"}
    with pytest.raises(ValueError, match="mix"):
        BracketBatches(8, 40, mix="balanced")


@pytest.mark.parametrize("kind", KINDS)
def test_sample_kinds_and_lengths(kind):
    rng = np.random.default_rng(2)
    for length in (2, 4, 10, 40, 60):
        s = sample(kind, length, rng)
        assert len(s) == length and set(s) <= set("()")
        assert is_balanced(s) == (kind == "balanced")


def test_seeds_reproducible():
    a = make_examples(300, range(2, 41, 2), "train", np.random.default_rng(7))
    b = make_examples(300, range(2, 41, 2), "train", np.random.default_rng(7))
    c = make_examples(300, range(2, 41, 2), "train", np.random.default_rng(8))
    assert a[0] == b[0] and (a[1] == b[1]).all() and a[2] == b[2]
    assert a[0] != c[0]
    x1, y1 = BracketBatches(16)("train", np.random.default_rng(3))
    x2, y2 = BracketBatches(16)("train", np.random.default_rng(3))
    assert (x1.numpy() == x2.numpy()).all() and (y1.numpy() == y2.numpy()).all()


def test_train_and_test_disjoint():
    train, _, _ = make_examples(3000, range(2, 41, 2), "train", np.random.default_rng(4))
    test, _, _ = make_examples(1000, range(2, 61, 2), "test", np.random.default_rng(5))
    assert not set(train) & set(test)
    assert {split_of(s) for s in train} == {"train"} and {split_of(s) for s in test} == {"test"}
    # the validation batches of the training loop come from the test split
    ids, _ = BracketBatches(64)("val", np.random.default_rng(6))
    decoded = ["".join("()"[t - OPEN] for t in row[1:] if t != PAD) for row in ids.numpy()]
    assert {split_of(s) for s in decoded} == {"test"}


def test_encode_and_bad_input():
    ids = encode(["()", ""], T=4)
    assert ids.dtype == np.int32 and (ids[:, 0] == CLS).all() and (ids[1, 1:] == PAD).all()
    with pytest.raises(ValueError, match="needs T >= 4"):
        encode(["(()"], T=3)
    with pytest.raises(ValueError, match="even"):
        sample("balanced", 3, np.random.default_rng(0))
    with pytest.raises(ValueError, match="kind"):
        sample("nested", 4, np.random.default_rng(0))
    with pytest.raises(ValueError, match="split"):
        make_examples(4, [2], "val", np.random.default_rng(0))


# --- the encoder ---------------------------------------------------------------------------------

def small_encoder(seed: int = 0) -> Encoder:
    Tensor.manual_seed(seed)
    return Encoder(EncoderConfig(n_positions=64, n_layer=2, n_embd=32, n_head=4))


def test_no_causal_mask_in_the_blocks():
    model = small_encoder()
    assert all(isinstance(b, Block) and b.attn.causal is False for b in model.blocks)


def test_padding_invariance():
    model = small_encoder()
    strings, _, _ = make_examples(16, range(2, 41, 2), "test", np.random.default_rng(9))
    base = model(Tensor(encode(strings, 41))).numpy()                      # (16, 2)
    np.testing.assert_allclose(model(Tensor(encode(strings, 64))).numpy(), base, atol=1e-5, rtol=1e-5)
    longest = int(np.argmax([len(s) for s in strings]))                   # alone, with no padding at all
    alone = model(Tensor(encode([strings[longest]], len(strings[longest]) + 1))).numpy()[0]
    np.testing.assert_allclose(alone, base[longest], atol=1e-5, rtol=1e-5)


def test_attends_both_ways():
    model = small_encoder()
    s = "(()()(" + "()" * 10
    changed = s[:-1] + ("(" if s[-1] == ")" else ")")
    h = model.hidden(Tensor(encode([s, changed], 41))).numpy()            # (2, 41, 32)
    assert np.abs(h[0, 0] - h[1, 0]).max() > 1e-4                        # [CLS] sees the last token
    logits = model(Tensor(encode([s, changed], 41))).numpy()
    assert np.abs(logits[0] - logits[1]).max() > 1e-5
    # the same weights under a causal mask: position 0 cannot see the change
    for block in model.blocks:
        block.attn.causal = True
    h = model.hidden(Tensor(encode([s, changed], 41))).numpy()
    np.testing.assert_array_equal(h[0, :len(s)], h[1, :len(s)])


def test_save_and_load(tmp_path):
    model = small_encoder(3)
    save_model(model, tmp_path / "m.safetensors")
    loaded = load_model(tmp_path / "m.safetensors")
    ids = Tensor(encode(["(())", ")("], 8), dtype=dtypes.int32)
    np.testing.assert_allclose(loaded(ids).numpy(), model(ids).numpy(), rtol=1e-6, atol=1e-6)
    for name, value in get_state_dict(model).items():
        np.testing.assert_array_equal(get_state_dict(loaded)[name].numpy(), value.numpy(), err_msg=name)
    assert loaded.config == model.config


# --- learning ------------------------------------------------------------------------------------

def test_short_training_run_learns():
    cfg = ExperimentConfig(n_layer=1, n_embd=32, n_head=4, max_length=12, test_max_length=14, steps=120,
                           batch_size=32, lr=3e-3, seed=0)
    model, history = train_classifier(cfg)
    strings, labels, _ = make_examples(400, range(2, 13, 2), "test", np.random.default_rng(11))
    result = score(model, strings, labels, T=13)
    assert history[-1]["val_loss"] < 0.8 * history[0]["val_loss"]
    assert result["accuracy"] > 0.75, result["accuracy"]                  # chance: 0.5


# --- the command line ----------------------------------------------------------------------------

@pytest.mark.parametrize("args", [["--n-embd", "30", "--n-head", "4"], ["--max-length", "41"], ["--steps", "0"],
                                  ["--test-max-length", "40"], ["--lr", "-1"], ["--steps", "many"],
                                  ["--mix", "hardest"], ["--out", "/no/such/folder"]])
def test_cli_bad_input_exits_2(args, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error" in err


def test_cli_bad_input_in_a_process():
    result = subprocess.run([sys.executable, "-m", "lama.classifier", "--n-head", "0"], capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr and result.stderr.count("\n") == 1
