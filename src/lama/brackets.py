# Generated from docs/classifier.md by tools/tangle.py. Do not edit: change the chapter.
"""Balanced-bracket classification data: strings of ( and ), labelled 1 (balanced) or 0, with hard
negatives, a train/test split by a hash of the string, and token ids for the encoder.

    strings, labels, kinds = make_examples(1000, lengths=range(2, 41, 2), split="test", rng=rng)
    ids = encode(strings, T=41)          # (1000, 41) int32: [CLS], the brackets, padding
"""
import zlib

import numpy as np
from tinygrad import Tensor, dtypes

PAD, CLS, OPEN, CLOSE = 0, 1, 2, 3   # the token ids: padding, the summary token, "(", ")"
VOCAB_SIZE = 4

def is_balanced(s: str) -> bool:
    """True when every "(" of s is closed by a later ")" and every ")" closes one."""
    depth = 0
    for c in s:
        depth += 1 if c == "(" else -1
        if depth < 0:        # a ")" with nothing open
            return False
    return depth == 0        # nothing left open

KINDS = ("balanced", "shuffled", "swapped", "flipped")   # the first is the positive class


def depths(chars: np.ndarray) -> np.ndarray:
    """The depth after each bracket: chars (n,) of "(" and ")" -> (n,) int."""
    return np.cumsum(np.where(chars == "(", 1, -1))


def _arrangement(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.permutation(np.array(["("] * n + [")"] * n))   # (2n,): n of each, in random order


def sample(kind: str, length: int, rng: np.random.Generator) -> str:
    """One string of `length` brackets (even, >= 2) of the given kind (see KINDS)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if length < 2 or length % 2:
        raise ValueError(f"length must be even and at least 2, got {length}")
    n = length // 2
    if kind == "shuffled":
        while (depths(chars := _arrangement(n, rng)) >= 0).all():   # until one is unbalanced
            pass
        return "".join(chars)
    while depths(chars := _arrangement(n, rng)).min() < 0:          # until one is balanced
        pass
    if kind == "flipped":
        i = rng.integers(length)
        chars[i] = "(" if chars[i] == ")" else ")"
    elif kind == "swapped":
        opens, closes = np.flatnonzero(chars == "("), np.flatnonzero(chars == ")")
        while True:   # swapping the first "(" with any ")" always unbalances: this ends
            i, j = rng.choice(opens), rng.choice(closes)
            swapped = chars.copy()
            swapped[i], swapped[j] = ")", "("
            if i < j and depths(swapped).min() < 0:
                chars = swapped
                break
    return "".join(chars)

TEST_SHARE = 5   # one string in TEST_SHARE belongs to the test split


def split_of(s: str) -> str:
    """"test" or "train": which split the string s belongs to, decided by a hash of s alone."""
    return "test" if zlib.crc32(s.encode()) % TEST_SHARE == 0 else "train"


def make_examples(n: int, lengths, split: str, rng: np.random.Generator, negatives=KINDS[1:],
                  length_weights=None, max_tries: int = 10_000
                  ) -> tuple[list[str], np.ndarray, list[str]]:
    """n strings of the split ("train" or "test"), half balanced and half negatives, in random
    order. The negatives take the kinds of `negatives` in turn (default: the three in equal parts);
    each string's length is drawn from `lengths`, uniformly or with probabilities proportional to
    `length_weights`. Returns (strings, labels (n,) int32 with 1 = balanced, kinds)."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if not negatives or not set(negatives) <= set(KINDS[1:]):
        raise ValueError(f"negatives must be kinds among {KINDS[1:]}, got {negatives!r}")
    lengths = [int(length) for length in lengths]
    p = None if length_weights is None else np.divide(length_weights, np.sum(length_weights))
    kinds = [KINDS[0] if i % 2 == 0 else negatives[(i // 2) % len(negatives)] for i in range(n)]
    kinds = [kinds[i] for i in rng.permutation(n)]
    strings = []
    for kind in kinds:
        for _ in range(max_tries):   # draw a length and a string until the string is of the split
            i = rng.integers(len(lengths)) if p is None else rng.choice(len(lengths), p=p)
            length = lengths[i]
            s = sample(kind, length, rng)
            if split_of(s) == split:
                break
        else:
            raise ValueError(f"no {kind} string of lengths {lengths} in the {split} split "
                             f"after {max_tries} tries")
        strings.append(s)
    labels = np.array([is_balanced(s) for s in strings], dtype=np.int32)
    return strings, labels, kinds

def encode(strings: list[str], T: int) -> np.ndarray:
    """Token ids (len(strings), T) int32: [CLS], then the brackets, then PAD up to T."""
    ids = np.full((len(strings), T), PAD, dtype=np.int32)
    ids[:, 0] = CLS
    for b, s in enumerate(strings):
        if len(s) + 1 > T:
            raise ValueError(f"a string of {len(s)} brackets needs T >= {len(s) + 1} "
                             f"([CLS] comes first), got T={T}")
        ids[b, 1:len(s) + 1] = [OPEN if c == "(" else CLOSE for c in s]
    return ids

HARD_NEGATIVES = ("swapped", "shuffled", "swapped", "flipped")   # half of them near misses


class BracketBatches:
    """get_batch(split, rng) for lama.train: split "train" or "val" (drawn from the test split) ->
    (ids (batch_size, max_length + 1) int32, labels (batch_size,) int32), strings of even lengths
    2..max_length. With mix="hard" the training batches draw HARD_NEGATIVES and a length in
    proportion to itself; "val" batches always have the test's mix: even kinds, even lengths."""

    def __init__(self, batch_size: int = 64, max_length: int = 40, mix: str = "even"):
        if batch_size < 1 or max_length < 2:
            raise ValueError(f"need batch_size >= 1 and max_length >= 2, "
                             f"got {batch_size} and {max_length}")
        if mix not in ("even", "hard"):
            raise ValueError(f"mix must be 'even' or 'hard', got {mix!r}")
        self.batch_size, self.max_length, self.mix = batch_size, max_length, mix
        self.lengths = range(2, max_length + 1, 2)

    def __call__(self, split: str, rng: np.random.Generator) -> tuple[Tensor, Tensor]:
        if split not in ("train", "val"):
            raise ValueError(f"split must be 'train' or 'val', got {split!r}")
        if split == "train" and self.mix == "hard":
            strings, labels, _ = make_examples(self.batch_size, self.lengths, "train", rng,
                                               negatives=HARD_NEGATIVES,
                                               length_weights=self.lengths)
        else:                        # the "val" batches come from the test split
            strings, labels, _ = make_examples(self.batch_size, self.lengths,
                                               "train" if split == "train" else "test", rng)
        return (Tensor(encode(strings, self.max_length + 1), dtype=dtypes.int32),
                Tensor(labels, dtype=dtypes.int32))
