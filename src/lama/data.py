# Generated from docs/data.md by tools/tangle.py. Do not edit: change the chapter, then run tools/tangle.py.
"""Tiny Shakespeare: a checked, cached download; characters as tokens; the train/validation split;
and random (B, T) windows of token ids with their next-token targets.

    text = tiny_shakespeare()                  # downloaded once, sha256-checked
    tok = CharTokenizer.from_text(text)        # 65 characters
    train, val = split(tok.encode(text))       # first 90% / last 10%
    batches = TokenBatches(train, val, batch_size=12, block_size=64)
    x, y = batches("train", np.random.default_rng(0))   # Tensors (12, 64); y is x shifted by one
"""
from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
from tinygrad import Tensor, dtypes

SHAKESPEARE_URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
SHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
SHAKESPEARE_BYTES = 1_115_394
SHAKESPEARE_FILE = "tinyshakespeare/input.txt"  # relative to the data directory


class DataError(OSError):
    """A data file is missing, could not be downloaded, or is not the file it should be.
    The message says which file and what to do."""


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The data directory: `data_dir` if given, else $LAMA_DATA_DIR if set, else ~/.cache/lama/data."""
    if data_dir is not None:
        return Path(data_dir)
    if os.environ.get("LAMA_DATA_DIR"):
        return Path(os.environ["LAMA_DATA_DIR"])
    return Path.home() / ".cache" / "lama" / "data"

def sha256_file(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes, as 64 hex digits."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def download(url: str, dest: str | os.PathLike, sha256: str, timeout: float = 30.0, progress: bool = True) -> Path:
    """Download `url` to `dest`, atomically: the bytes go to a temporary file beside `dest`, which
    is renamed to `dest` only when its length and SHA-256 are right. Raises DataError otherwise,
    and leaves no partial file behind. Progress goes to stderr."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        digest, received, expected = hashlib.sha256(), 0, None
        with os.fdopen(fd, "wb") as f:
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:
                    if response.headers.get("Content-Length"):
                        expected = int(response.headers["Content-Length"])
                    while chunk := response.read(1 << 16):
                        f.write(chunk)
                        digest.update(chunk)
                        received += len(chunk)
                        if progress:
                            total = f" / {expected / 1024:,.0f}" if expected else ""
                            print(f"\rdownloading {url}: {received / 1024:,.0f}{total} KiB", end="", file=sys.stderr)
            except (OSError, http.client.HTTPException) as e:  # URLError, HTTPError, timeouts, resets
                reason = e if isinstance(e, urllib.error.HTTPError) else getattr(e, "reason", None) or e
                raise DataError(f"could not download {url} ({reason}): check your connection and the URL, or "
                                f"put the file at {dest} yourself (or set LAMA_DATA_DIR to a folder that has it)") from e
            finally:
                if progress and received:
                    print(file=sys.stderr)
            if expected is not None and received != expected:
                raise DataError(f"the download of {url} was cut short ({received:,} of {expected:,} bytes): "
                                f"run again to retry")
            if digest.hexdigest() != sha256:
                raise DataError(f"{url} sent {received:,} bytes with sha256 {digest.hexdigest()}, expected "
                                f"{sha256}: the download is corrupted or the file has changed; run again to retry")
            f.flush()
            os.fsync(f.fileno())  # the bytes are on disk before the name points at them
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return dest

def fetch(relpath: str, url: str, sha256: str, data_dir: str | os.PathLike | None = None,
          progress: bool = True) -> Path:
    """The path of data file `relpath` inside the data directory, downloaded from `url` first if it
    is not there. Either way its SHA-256 must equal `sha256`, or DataError says what to do."""
    path = resolve_data_dir(data_dir) / relpath
    if not path.exists():
        return download(url, path, sha256, progress=progress)
    if (found := sha256_file(path)) != sha256:
        raise DataError(f"{path} has sha256 {found}, expected {sha256}: it is not the right file; "
                        f"delete it to download it again")
    return path


def tiny_shakespeare(data_dir: str | os.PathLike | None = None, url: str = SHAKESPEARE_URL,
                     progress: bool = True) -> str:
    """The text of tiny Shakespeare (1,115,394 characters), from the data directory, downloading
    it on first use."""
    return fetch(SHAKESPEARE_FILE, url, SHAKESPEARE_SHA256, data_dir, progress).read_text(encoding="utf-8")

class CharTokenizer:
    """Each character of `chars` is one token; its id is its position in `chars`."""

    def __init__(self, chars: str):
        if len(set(chars)) != len(chars):
            raise ValueError("the characters of a CharTokenizer must be distinct")
        self.chars = chars
        self.codes = np.array([ord(c) for c in chars], dtype=np.uint32)  # id -> code point
        self.table = np.full(int(self.codes.max(initial=0)) + 1, -1, dtype=np.int32)  # code point -> id
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
            raise ValueError(f"character {c!r} (U+{ord(c):04X}) is not in the vocabulary of {self.vocab_size}")
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
    """`batch_size` random windows of `data`: x (B, T) and the targets y (B, T), y[:, t] = x[:, t+1],
    both int32, with T = block_size."""
    if len(data) < block_size + 1:
        raise ValueError(f"{len(data)} tokens are too few for windows of block_size + 1 = {block_size + 1}")
    starts = rng.integers(0, len(data) - block_size, size=batch_size)                 # (B,)
    windows = np.lib.stride_tricks.sliding_window_view(data, block_size + 1)[starts]  # (B, T+1), a copy
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
                raise ValueError(f"the {name} split has {len(data)} tokens, too few for block_size {block_size}")

    def __call__(self, split: str, rng: np.random.Generator) -> tuple[Tensor, Tensor]:
        if split not in self.data:
            raise ValueError(f"split must be 'train' or 'val', got {split!r}")
        x, y = get_batch(self.data[split], self.batch_size, self.block_size, rng)
        return Tensor(x, dtype=dtypes.int32), Tensor(y, dtype=dtypes.int32)
