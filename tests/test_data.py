"""lama.data: the character vocabulary, the split, and the batches of windows (the download is
tested in test_download.py)."""
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from lama.data import SHAKESPEARE_FILE, CharTokenizer, TokenBatches, get_batch, split, tiny_shakespeare


def shakespeare_dir() -> Path | None:
    """The folder with the real tiny Shakespeare, when LAMA_DATA_DIR points at one (CI does)."""
    root = os.environ.get("LAMA_DATA_DIR")
    return Path(root) if root and (Path(root) / SHAKESPEARE_FILE).is_file() else None


needs_shakespeare = pytest.mark.skipif(
    shakespeare_dir() is None,
    reason="needs the real tiny Shakespeare: set LAMA_DATA_DIR to a folder with "
           "tinyshakespeare/input.txt (CI uses ../shared/data)")


@needs_shakespeare
def test_shakespeare_vocabulary_and_split():
    text = tiny_shakespeare(progress=False)                             # from LAMA_DATA_DIR, no network
    tok = CharTokenizer.from_text(text)
    assert tok.vocab_size == 65
    assert tok.chars == "\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    ids = tok.encode(text)
    train, val = split(ids)
    assert (len(train), len(val)) == (1_003_854, 111_540)
    np.testing.assert_array_equal(np.concatenate([train, val]), ids)
    assert tok.decode(ids) == text


def test_tokenizer_round_trips_any_characters():
    text = "héllo wörld, 世界! 👋🏽\n"
    tok = CharTokenizer.from_text(text)
    assert tok.chars == "".join(sorted(set(text)))
    ids = tok.encode(text)
    assert ids.dtype == np.int32 and ids.tolist() == [tok.chars.index(c) for c in text]
    assert tok.decode(ids) == text and tok.decode(ids.reshape(1, -1)) == text
    assert tok.encode("") .shape == (0,) and tok.decode([]) == ""
    for unknown in ["x", "\uffff", "🙂"]:   # below, inside and above the table of code points
        with pytest.raises(ValueError, match="not in the vocabulary"):
            tok.encode("hé" + unknown)


def test_split_keeps_order_and_checks_its_fraction():
    ids = np.arange(1000)
    train, val = split(ids, 0.25)
    np.testing.assert_array_equal(train, np.arange(750))
    np.testing.assert_array_equal(val, np.arange(750, 1000))
    with pytest.raises(ValueError):
        split(ids, 1.0)


@settings(max_examples=50, deadline=None)
@given(n=st.integers(2, 400), batch_size=st.integers(1, 16), block_size=st.integers(1, 40), seed=st.integers(0, 2**32))
def test_get_batch_cuts_windows_and_shifts_targets_by_one(n, batch_size, block_size, seed):
    data = np.random.default_rng(seed).integers(0, 1000, size=n).astype(np.uint16)
    if n < block_size + 1:
        with pytest.raises(ValueError, match="too few"):
            get_batch(data, batch_size, block_size, np.random.default_rng(seed))
        return
    x, y = get_batch(data, batch_size, block_size, np.random.default_rng(seed))
    assert x.shape == y.shape == (batch_size, block_size) and x.dtype == y.dtype == np.int32
    assert x.flags.c_contiguous and y.flags.c_contiguous
    starts = np.random.default_rng(seed).integers(0, n - block_size, size=batch_size)   # the same draws
    assert starts.max() + block_size + 1 <= n                                         # every window fits
    np.testing.assert_array_equal(x, np.stack([data[s:s + block_size] for s in starts]))
    np.testing.assert_array_equal(y, np.stack([data[s + 1:s + 1 + block_size] for s in starts]))


def test_get_batch_reaches_both_ends_and_is_reproducible():
    data = np.arange(10)
    x, y = get_batch(data, 2000, 4, np.random.default_rng(0))
    assert set(x[:, 0]) == set(range(6))                    # every start 0..len-T-1 occurs
    assert y[:, -1].max() == 9                              # the last token is a target
    x2, _ = get_batch(data, 2000, 4, np.random.default_rng(0))
    np.testing.assert_array_equal(x, x2)


def test_token_batches_give_int32_tensors():
    train, val = np.arange(100) % 7, np.arange(50) % 5
    batches = TokenBatches(train, val, batch_size=3, block_size=8)
    for name, data in [("train", train), ("val", val)]:
        x, y = batches(name, np.random.default_rng(1))
        assert x.shape == y.shape == (3, 8) and str(x.dtype) == str(y.dtype) == "dtypes.int"
        xn, yn = get_batch(data, 3, 8, np.random.default_rng(1))
        np.testing.assert_array_equal(x.numpy(), xn)
        np.testing.assert_array_equal(y.numpy(), yn)
    with pytest.raises(ValueError, match="split"):
        batches("test", np.random.default_rng(0))
    with pytest.raises(ValueError, match="too few"):
        TokenBatches(train, val[:8], batch_size=3, block_size=8)
