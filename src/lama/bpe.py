# Generated from docs/tokens.md by tools/tangle.py. Do not edit: change the chapter.
"""GPT-2's byte-level byte pair encoding (BPE) tokenizer, written from scratch.

    text --UTF-8--> bytes --pretokenize--> pieces --apply_merges--> tokens --vocab--> ids

No tokenizer library does the encoding: `tiktoken` only fetches OpenAI's vocabulary files for
`GPT2Tokenizer.load` (downloaded once, cached, sha256-checked), and the tests use it as the
reference.
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from os import PathLike
from pathlib import Path

import regex  # unlike `re`, it knows the Unicode classes \p{L} (letters) and \p{N} (numbers)

Pair = tuple[bytes, bytes]  # two adjacent tokens, which a merge joins into one token

GPT2_PATTERN = (
    r"""'s|'t|'re|'ve|'m|'ll|'d"""
    r"""| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+"""
    r"""|\s+(?!\S)|\s+"""
)


def pretokenize(text: str, pattern: str = GPT2_PATTERN) -> list[str]:
    """Cut `text` into the pieces that no merge may cross.

    text: any string. Returns the non-empty pieces in order; `"".join(pieces) == text`, because
    every character is matched by one of the pattern's alternatives.
    """
    return regex.findall(pattern, text)

def merge_pair(tokens: list[bytes], pair: Pair) -> list[bytes]:
    """Join every adjacent occurrence of `pair` in `tokens` into one token, scanning left to right.

    tokens: one piece as its current tokens. Returns a new list, shorter by the number of joins;
    in [b"a", b"a", b"a"] the pair (b"a", b"a") is joined once, on the left: [b"aa", b"a"].
    """
    left, right = pair
    merged, i = [], 0
    while i < len(tokens):
        if i + 1 < len(tokens) and tokens[i] == left and tokens[i + 1] == right:
            merged.append(left + right)
            i += 2
        else:
            merged.append(tokens[i])
            i += 1
    return merged


def train_bpe(text: str, n_merges: int, pattern: str = GPT2_PATTERN) -> list[Pair]:
    """Learn up to `n_merges` byte-level merges from `text`, the most frequent pair first.

    text: the training corpus, cut into pieces by `pattern`; merges never cross a piece.
    Returns the merges in the order they were learned, which is their rank (0 first), each a pair
    of `bytes`. Fewer than `n_merges` come back when every piece has become a single token.
    Ties between pairs of equal count go to the smallest `(left, right)` in byte order.
    A vocabulary built on the result has 256 + len(merges) tokens at most.
    """
    if n_merges < 0:
        raise ValueError(f"n_merges must be 0 or more, got {n_merges}")
    counts = Counter(piece.encode("utf-8") for piece in pretokenize(text, pattern))
    split = {piece: [bytes([b]) for b in piece] for piece in counts}  # piece -> its current tokens
    merges: list[Pair] = []
    for _ in range(n_merges):
        pairs: Counter[Pair] = Counter()
        for piece, count in counts.items():
            tokens = split[piece]
            for pair in zip(tokens, tokens[1:]):
                pairs[pair] += count
        if not pairs:
            break
        best = min(pairs, key=lambda pair: (-pairs[pair], pair))
        merges.append(best)
        for piece in counts:
            split[piece] = merge_pair(split[piece], best)
    return merges

def apply_merges(piece: bytes, ranks: dict[Pair, int]) -> list[bytes]:
    """Split one piece into tokens: start from single bytes, then apply the lowest-ranked merge that
    is present, again and again, until no adjacent pair is a merge.

    piece: the UTF-8 bytes of one piece. ranks: merge -> rank (0 = learned first).
    Returns the tokens, whose concatenation is `piece`.
    """
    tokens = [bytes([b]) for b in piece]
    while len(tokens) > 1:
        pair = min(zip(tokens, tokens[1:]), key=lambda pair: ranks.get(pair, float("inf")))
        if pair not in ranks:
            break  # the lowest-ranked pair is no merge at all: we are done
        tokens = merge_pair(tokens, pair)
    return tokens


class BPETokenizer:
    """A byte-level BPE tokenizer: `pattern` cuts text into pieces, `merges` join bytes inside each
    piece, `vocab` numbers the resulting tokens.

    merges: the merge list in rank order, rank 0 first (what `train_bpe` returns).
    vocab: token bytes -> id. It must have an id for every single byte and for every merge's result.
        Default: byte b has id b, and the token made by merge r has id 256 + r (a merge that makes a
        token some earlier merge already made gets no second id).
    special_tokens: special token text -> id, e.g. {"<|endoftext|>": 50256}; see `encode`.
    pattern: the regular expression that cuts text into pieces.
    """

    def __init__(self, merges: Iterable[Pair], vocab: dict[bytes, int] | None = None,
                 special_tokens: dict[str, int] | None = None, pattern: str = GPT2_PATTERN):
        self.merges: list[Pair] = list(merges)
        self.ranks: dict[Pair, int] = {pair: rank for rank, pair in enumerate(self.merges)}
        if vocab is None:
            vocab = {bytes([b]): b for b in range(256)}
            for rank, (left, right) in enumerate(self.merges):
                vocab.setdefault(left + right, 256 + rank)
        self.vocab: dict[bytes, int] = dict(vocab)
        missing = [bytes([b]) for b in range(256) if bytes([b]) not in self.vocab]
        missing += [left + right for left, right in self.merges if left + right not in self.vocab]
        if missing:
            raise ValueError(f"the vocab has no id for {len(missing)} tokens, for example "
                             f"{missing[0]!r}: it needs one for every single byte and for the "
                             "result of every merge")
        self.special_tokens: dict[str, int] = dict(special_tokens or {})
        # id -> bytes: the inverse of vocab, plus the text of each special token
        self.decoder: dict[int, bytes] = {i: token for token, i in self.vocab.items()}
        self.decoder.update((i, text.encode("utf-8")) for text, i in self.special_tokens.items())
        if len(self.decoder) != len(self.vocab) + len(self.special_tokens):
            raise ValueError("two tokens share an id: every token and every special token needs "
                             "its own id")
        self.pattern = regex.compile(pattern)
        self._cache: dict[str, list[int]] = {}

    @property
    def n_vocab(self) -> int:
        """The number of ids: one more than the largest id, and so the number of rows of a
        model's embedding table."""
        return max(self.decoder) + 1

    def encode_ordinary(self, text: str) -> list[int]:
        """Encode `text` as plain text: a special token's text in it is encoded like any other text.

        text: any string that UTF-8 can encode (no lone surrogates). Returns the ids, a list of int.
        """
        ids: list[int] = []
        for piece in self.pattern.findall(text):
            piece_ids = self._cache.get(piece)
            if piece_ids is None:
                tokens = apply_merges(piece.encode("utf-8"), self.ranks)
                piece_ids = self._cache[piece] = [self.vocab[token] for token in tokens]
            ids.extend(piece_ids)
        return ids

    def encode(self, text: str, allowed_special: str | Iterable[str] = ()) -> list[int]:
        """Encode `text`; the special tokens named in `allowed_special` become their ids.

        allowed_special: "all", or a collection of special token texts such as {"<|endoftext|>"}.
        Each occurrence of an allowed special token becomes its one id, and the text between
        occurrences is encoded by `encode_ordinary`, each stretch on its own (pieces never reach
        across a special token). A special token that is not allowed is ordinary text: with the
        default, nothing allowed, `encode(text) == encode_ordinary(text)`. (tiktoken's `encode`
        raises an error instead; ours is its `encode(text, disallowed_special=())`.)
        Where allowed special tokens overlap in the text, the longer one wins.
        Returns the ids, a list of int.
        """
        allowed = self._allowed(allowed_special)
        if not allowed:
            return self.encode_ordinary(text)
        longest_first = sorted(allowed, key=len, reverse=True)
        specials = regex.compile("|".join(regex.escape(s) for s in longest_first))
        ids: list[int] = []
        start = 0
        for match in specials.finditer(text):
            ids += self.encode_ordinary(text[start:match.start()])
            ids.append(self.special_tokens[match.group()])
            start = match.end()
        return ids + self.encode_ordinary(text[start:])

    def _allowed(self, allowed_special: str | Iterable[str]) -> set[str]:
        if allowed_special == "all":
            return set(self.special_tokens)
        if isinstance(allowed_special, str):  # a bare string would be read as a set of characters
            raise TypeError(f"allowed_special must be 'all' or a collection of special tokens, "
                            f"such as {{{allowed_special!r}}}, not the string {allowed_special!r}")
        allowed = set(allowed_special)
        unknown = allowed - self.special_tokens.keys()
        if unknown:
            raise ValueError(f"{sorted(unknown)} are not special tokens of this tokenizer; "
                             f"its special tokens are {sorted(self.special_tokens)}")
        return allowed

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        """The bytes that the token ids stand for, joined: the exact inverse of encoding."""
        try:
            return b"".join(self.decoder[i] for i in ids)
        except KeyError as error:
            raise ValueError(f"token id {error.args[0]!r} is not in this vocabulary "
                             f"(its ids lie in 0..{self.n_vocab - 1})") from None

    def decode(self, ids: Iterable[int], errors: str = "replace") -> str:
        """The text that the token ids stand for.

        ids: token ids, e.g. a list of int. A token can hold part of a character's UTF-8 bytes, so
        some id sequences (a cut-off generation, say) are not valid UTF-8; `errors="replace"` shows
        such bytes as U+FFFD, `errors="strict"` raises `UnicodeDecodeError`. For the ids of any
        text, `decode(encode(text)) == text`.
        """
        return self.decode_bytes(ids).decode("utf-8", errors=errors)

def byte_alphabet() -> list[str]:
    """The character that stands for each byte in GPT-2's vocabulary files: byte b is written
    `byte_alphabet()[b]`.

    Returns 256 distinct, visible characters. A byte whose own character is visible (printable and
    not whitespace) keeps it; the other 68 bytes get U+0100, U+0101, ... in byte order.
    """
    alphabet, n_invisible = [], 0
    for b in range(256):
        char = chr(b)
        if char.isprintable() and not char.isspace():
            alphabet.append(char)
        else:
            alphabet.append(chr(256 + n_invisible))
            n_invisible += 1
    return alphabet

ENDOFTEXT = "<|endoftext|>"
GPT2_FILES = {  # name -> (OpenAI's URL, SHA-256 of the file)
    "vocab.bpe": ("https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/vocab.bpe",
                  "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5"),
    "encoder.json": ("https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/encoder.json",
                     "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783"),
}


class GPT2Tokenizer(BPETokenizer):
    """GPT-2's tokenizer: GPT-2's pattern, 50,000 merges, 50,257 ids, `<|endoftext|>` = 50256.

    Make one with `GPT2Tokenizer.load()` (OpenAI's files, fetched once and cached) or
    `GPT2Tokenizer.from_files(vocab_bpe_path, encoder_json_path)`.
    """

    def __init__(self, merges: Iterable[Pair], vocab: dict[bytes, int], eot_token: int = 50256):
        super().__init__(merges, vocab, special_tokens={ENDOFTEXT: eot_token}, pattern=GPT2_PATTERN)
        self.eot_token = eot_token  # the id of <|endoftext|>

    @classmethod
    def from_bytes(cls, vocab_bpe: bytes, encoder_json: bytes) -> GPT2Tokenizer:
        """Make the tokenizer from the contents of `vocab.bpe` and `encoder.json`.

        vocab_bpe: a version line, then one merge per line, rank order, two tokens and one space.
        encoder_json: a JSON object, token -> id, including "<|endoftext|>".
        Tokens in both are written in `byte_alphabet()`; they are translated back to bytes here.
        """
        byte_of = {char: b for b, char in enumerate(byte_alphabet())}

        def to_bytes(token: str, where: str) -> bytes:
            try:
                return bytes(byte_of[char] for char in token)
            except KeyError as error:
                raise ValueError(f"{where}: {error.args[0]!r} in {token!r} is not a character "
                                 "of GPT-2's byte alphabet; is this a GPT-2 vocabulary file?"
                                 ) from None

        merges = []
        for number, line in enumerate(vocab_bpe.decode("utf-8").splitlines(), start=1):
            if not line or line.startswith("#version"):
                continue
            tokens = line.split(" ")
            if len(tokens) != 2:
                raise ValueError(f"vocab.bpe line {number}: expected two tokens and one space, "
                                 f"got {line!r}")
            merges.append((to_bytes(tokens[0], f"vocab.bpe line {number}"),
                           to_bytes(tokens[1], f"vocab.bpe line {number}")))
        ids = json.loads(encoder_json)
        if ENDOFTEXT not in ids:
            raise ValueError(f"encoder.json has no {ENDOFTEXT}: is this GPT-2's encoder.json?")
        eot_token = ids.pop(ENDOFTEXT)
        vocab = {to_bytes(token, "encoder.json"): i for token, i in ids.items()}
        return cls(merges, vocab, eot_token=eot_token)

    @classmethod
    def from_files(cls, vocab_bpe_path: str | PathLike,
                   encoder_json_path: str | PathLike) -> GPT2Tokenizer:
        """Make the tokenizer from the two files on disk, e.g. a copy of OpenAI's."""
        vocab_bpe = Path(vocab_bpe_path).read_bytes()
        encoder_json = Path(encoder_json_path).read_bytes()
        return cls.from_bytes(vocab_bpe, encoder_json)

    @classmethod
    def load(cls) -> GPT2Tokenizer:
        """OpenAI's GPT-2 tokenizer, its two files (1.5 MB) fetched through tiktoken's cache.

        The first call downloads the files and checks their SHA-256; later calls read the cache
        folder, `TIKTOKEN_CACHE_DIR` if that is set, else one in the system's temporary directory.
        """
        from tiktoken.load import read_file_cached

        contents = []
        for name, (url, sha256) in GPT2_FILES.items():
            try:
                contents.append(read_file_cached(url, sha256))
            except OSError as error:
                raise OSError(f"could not get GPT-2's {name} from {url} ({error}). Connect to "
                              "the internet once, set TIKTOKEN_CACHE_DIR to a folder that holds "
                              "tiktoken's cached copy, or use GPT2Tokenizer.from_files") from error
        return cls.from_bytes(*contents)
