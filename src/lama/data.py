# Generated from docs/data.md by tools/tangle.py. Do not edit: change the chapter.
"""Tiny Shakespeare: the text, fetched once and checked; characters as tokens; the train/validation
split; and random (B, T) windows of token ids with their next-token targets.

    text = tiny_shakespeare()                  # downloaded once, sha256-checked
    tok = CharTokenizer.from_text(text)        # 65 characters
    train, val = split(tok.encode(text))       # first 90% / last 10%
    batches = TokenBatches(train, val, batch_size=12, block_size=64)
    x, y = batches("train", np.random.default_rng(0))   # Tensors (12, 64); y is x shifted by one
"""
from __future__ import annotations

import os

import numpy as np
from tinygrad import Tensor, dtypes

# lama.data's callers catch DataError and find the data directory with resolve_data_dir
from lama.download import DataError, fetch, resolve_data_dir  # noqa: F401

SHAKESPEARE_URL = ("https://raw.githubusercontent.com/karpathy/char-rnn/master/data/"
                   "tinyshakespeare/input.txt")
SHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
SHAKESPEARE_BYTES = 1_115_394
SHAKESPEARE_FILE = "tinyshakespeare/input.txt"  # relative to the data directory


def tiny_shakespeare(data_dir: str | os.PathLike | None = None, url: str = SHAKESPEARE_URL,
                     progress: bool = True) -> str:
    """The text of tiny Shakespeare (1,115,394 characters), from the data directory, downloading
    it on first use."""
    path = fetch(SHAKESPEARE_FILE, url, SHAKESPEARE_SHA256, data_dir, progress)
    return path.read_text(encoding="utf-8")

class CharTokenizer:
    """Each character of `chars` is one token; its id is its position in `chars`."""

    def __init__(self, chars: str):
        if len(set(chars)) != len(chars):
            raise ValueError("the characters of a CharTokenizer must be distinct")
        self.chars = chars
        self.codes = np.array([ord(c) for c in chars], dtype=np.uint32)  # id -> code point
        # code point -> id, -1 for the code points that are not in the vocabulary
        self.table = np.full(int(self.codes.max(initial=0)) + 1, -1, dtype=np.int32)
        self.table[self.codes] = np.arange(len(chars), dtype=np.int32)

    @classmethod
    def from_text(cls, text: str) -> CharTokenizer:
        """The vocabulary of `text`: its distinct characters, sorted by code point."""
        return cls("".join(sorted(set(text))))

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """text -> ids (len(text),) int32. A character outside the vocabulary is a ValueError."""
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        ids = self.table[np.minimum(codes, len(self.table) - 1)]
        unknown = (ids < 0) | (codes >= len(self.table))
        if unknown.any():
            c = text[int(np.argmax(unknown))]
            raise ValueError(f"character {c!r} (U+{ord(c):04X}) is not in the vocabulary of "
                             f"{self.vocab_size}")
        return ids

    def decode(self, ids) -> str:
        """ids (any shape of ints in [0, vocab_size)) -> the text they stand for, flattened."""
        return self.codes[np.asarray(ids, dtype=np.int64).ravel()].tobytes().decode("utf-32-le")

def split(ids: np.ndarray, val_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """The first (1 - val_fraction) of `ids` for training and the rest for validation."""
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be between 0 and 1, got {val_fraction}")
    n = int(len(ids) * (1.0 - val_fraction))
    return ids[:n], ids[n:]

def get_batch(data: np.ndarray, batch_size: int, block_size: int,
              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """`batch_size` random windows of `data`: x (B, T) and the targets y (B, T),
    y[:, t] = x[:, t+1], both int32, with T = block_size."""
    if len(data) < block_size + 1:
        raise ValueError(f"{len(data)} tokens are too few for windows of block_size + 1 = "
                         f"{block_size + 1}")
    starts = rng.integers(0, len(data) - block_size, size=batch_size)          # (B,)
    all_windows = np.lib.stride_tricks.sliding_window_view(data, block_size + 1)  # a view, no copy
    windows = all_windows[starts]                                               # (B, T+1), a copy
    windows = windows.astype(np.int32, copy=False)
    return np.ascontiguousarray(windows[:, :-1]), np.ascontiguousarray(windows[:, 1:])

class TokenBatches:
    """The `get_batch(split, rng)` of a language model: `split` is "train" or "val"; the result is
    (x, y), int32 Tensors (batch_size, block_size), y the next token after each position of x."""

    def __init__(self, train: np.ndarray, val: np.ndarray, batch_size: int, block_size: int):
        self.data = {"train": train, "val": val}
        self.batch_size, self.block_size = batch_size, block_size
        for name, data in self.data.items():
            if len(data) < block_size + 1:
                raise ValueError(f"the {name} split has {len(data)} tokens, too few for "
                                 f"block_size {block_size}")

    def __call__(self, split: str, rng: np.random.Generator) -> tuple[Tensor, Tensor]:
        if split not in self.data:
            raise ValueError(f"split must be 'train' or 'val', got {split!r}")
        x, y = get_batch(self.data[split], self.batch_size, self.block_size, rng)
        return Tensor(x, dtype=dtypes.int32), Tensor(y, dtype=dtypes.int32)
