"""lama.bpe (chapter 1, docs/tokens.md) against tiktoken, the reference implementation of GPT-2's
tokenizer, and train_bpe against hand-computed merges and a brute-force reference.

Environment (CI sets all three):
    TIKTOKEN_CACHE_DIR  tiktoken's cache holding OpenAI's two GPT-2 files (else they are downloaded)
    LAMA_DATA_DIR       holds tinyshakespeare/input.txt (the Shakespeare test is skipped without it)
    LAMA_GPT2_BPE_DIR   holds vocab.bpe and encoder.json under their own names (two tests are
                        skipped without it)
"""
from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from pathlib import Path

import pytest
import tiktoken
import tiktoken.load
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lama.bpe import (
    ENDOFTEXT,
    GPT2_FILES,
    GPT2_PATTERN,
    BPETokenizer,
    GPT2Tokenizer,
    apply_merges,
    byte_alphabet,
    merge_pair,
    pretokenize,
    train_bpe,
)

SHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"]

# A text made to be hard: scripts, emoji with skin tones and zero-width joiners, combining marks,
# whitespace runs of every kind, contractions in both cases, numbers, and the special token.
VARIED = (
    "English, Deutsch (Größe, Fähre), français (œuvre, naïve), Ελληνικά, русский, українська,\n"
    "עברית, العربية, हिन्दी, বাংলা, ไทย, 日本語のテキスト, 中文文本, 한국어 텍스트, ქართული.\n"
    "Emoji: 👋 👋🏽 👩‍👩‍👧‍👦 👨🏿‍💻 🏳️‍🌈 🇩🇪 ❤️ 🦙🦙🦙\n"
    "Combining: e\u0301 a\u0308\u0323 Z\u0335\u0327\u0301 \u0301 alone, "
    "and\u200bzero\u200cwidth\u200djoin.\n"
    "Spaces:  two,   three,    four\tone tab\t\ttwo tabs \t mixed\r\nCRLF\n\n\nthree newlines"
    "\u00a0nbsp\u2003em\u3000ideographic   \n"
    "Contractions: it's don't they're we've I'm you'll she'd; IT'S DON'T THEY'RE I'M YOU'LL SHE'D;"
    " JOHN'S O'SULLIVAN'S 'TIS 'S 's ''s 'quoted' rock'n'roll o'clock’s (curly)\n"
    "Numbers: 0 7 42 123 1234 12345 123456789 3.14159 -2.5e10 1,000,000 0x1F ١٢٣ ½ Ⅻ 2024-12-31\n"
    "Symbols: <|endoftext|> <|endoftext| |endoftext|> <|ENDOFTEXT|> <<|endoftext|>> "
    "...!!!??? --- ***\n"
    "<|endoftext|><|endoftext|>between<|endoftext|>   trailing spaces   "
)

# Characters and strings that exercise the corners of GPT-2's pattern.
TRICKY_CHARS = list(" \t\n\r\x0b\x0c\x1c\x85\u00a0\u2003\u2028\u3000" "'’`\"" "0123456789٣½"
                    "sStTdDmMlLvVrRe" "aZéßЖ中" "👋🏽\u200d👩❤\ufe0f" "\u0301\u0308" ".,!?-_<|>")
TRICKY_STRINGS = CONTRACTIONS + [s.upper() for s in CONTRACTIONS] + [
    ENDOFTEXT, "<|endoftext", "   ", "\n\n", "\t\t", " \n ", " 2024", "👩‍👩‍👧", "e\u0301", " the",
    "HELLO"]
tricky_text = st.lists(
    st.one_of(st.text(max_size=6), st.sampled_from(TRICKY_CHARS), st.sampled_from(TRICKY_STRINGS)),
    max_size=24,
).map("".join)


@pytest.fixture(scope="module")
def gpt2() -> GPT2Tokenizer:
    try:
        return GPT2Tokenizer.load()
    except OSError as error:
        if "TIKTOKEN_CACHE_DIR" in os.environ:
            raise  # a cache was named and does not hold the files: a broken setup, not a skip
        pytest.skip(f"GPT-2's files are neither cached nor downloadable here: {error}")


@pytest.fixture(scope="module")
def reference() -> tiktoken.Encoding:
    return tiktoken.get_encoding("gpt2")


# --- the byte alphabet and the pattern --------------------------------------------------------

def test_byte_alphabet_is_a_visible_one_to_one_code():
    alphabet = byte_alphabet()
    assert len(alphabet) == 256 and len(set(alphabet)) == 256
    assert all(len(c) == 1 and c.isprintable() and not c.isspace() for c in alphabet)
    assert alphabet[ord("A")] == "A" and alphabet[ord("~")] == "~" and alphabet[0xE9] == "é"
    assert alphabet[ord(" ")] == "Ġ" and alphabet[ord("\n")] == "Ċ" and alphabet[0] == "\u0100"
    assert sorted(c for c in alphabet if ord(c) >= 256) == [chr(256 + n) for n in range(68)]


@pytest.mark.parametrize(("text", "pieces"), [
    ("Hello world", ["Hello", " world"]),
    ("it's they're we've I'm you'll she'd don't",
     ["it", "'s", " they", "'re", " we", "'ve", " I", "'m",
      " you", "'ll", " she", "'d", " don", "'t"]),
    ("JOHN'S", ["JOHN", "'", "S"]),  # the pattern is case-sensitive: 'S is no contraction
    ("O'SULLIVAN 'TIS", ["O", "'", "SULLIVAN", " '", "TIS"]),
    ("a   b", ["a", "  ", " b"]),  # the last space of a run goes to the word
    ("a\n\nb", ["a", "\n", "\n", "b"]),  # ... and a newline before a word stands alone
    ("end   ", ["end", "   "]),  # trailing whitespace is one piece
    (" 2024, 12345", [" 2024", ",", " 12345"]),
    ("e\u0301!", ["e", "\u0301!"]),  # a combining mark is neither letter nor number
    ("", []),
])
def test_pretokenize(text, pieces):
    assert pretokenize(text) == pieces


@settings(max_examples=200, deadline=None)
@given(tricky_text)
def test_pretokenize_loses_nothing(text):
    pieces = pretokenize(text)
    assert "".join(pieces) == text and all(pieces)


# --- GPT-2 against tiktoken -------------------------------------------------------------------

def test_gpt2_shape(gpt2):
    assert (gpt2.n_vocab, len(gpt2.merges), gpt2.eot_token) == (50257, 50000, 50256)
    assert gpt2.special_tokens == {ENDOFTEXT: 50256}
    assert gpt2.merges[0] == (b" ", b"t")
    assert gpt2.vocab[b" the"] == 262  # the id of a merge result is 256 + its rank in GPT-2
    assert all(gpt2.vocab[left + right] == 256 + rank
               for rank, (left, right) in enumerate(gpt2.merges))


def test_tiny_shakespeare_matches_tiktoken(gpt2, reference):
    data_dir = os.environ.get("LAMA_DATA_DIR")
    if not data_dir:
        pytest.skip("LAMA_DATA_DIR is not set: point it at a folder with tinyshakespeare/input.txt")
    path = Path(data_dir) / "tinyshakespeare" / "input.txt"
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == SHAKESPEARE_SHA256, f"{path} is not tiny Shakespeare"
    text = data.decode("utf-8")
    pieces = pretokenize(text)
    assert (len(pieces), len(set(pieces))) == (297833, 15057)  # the counts docs/tokens.md gives
    ids = gpt2.encode(text)
    expected = reference.encode_ordinary(text)
    assert len(ids) == len(expected) == 338025
    first_difference = next((i for i, (a, b) in enumerate(zip(ids, expected)) if a != b), None)
    assert first_difference is None, f"first difference at token {first_difference}"
    assert gpt2.decode(ids) == text


def test_varied_text_matches_tiktoken(gpt2, reference):
    assert gpt2.encode(VARIED) == reference.encode_ordinary(VARIED)
    assert gpt2.encode_ordinary(VARIED) == reference.encode(VARIED, disallowed_special=())
    for allowed in ("all", {ENDOFTEXT}):
        assert (gpt2.encode(VARIED, allowed_special=allowed)
                == reference.encode(VARIED, allowed_special=allowed))
    assert gpt2.decode(gpt2.encode(VARIED)) == VARIED
    assert gpt2.decode(gpt2.encode(VARIED, allowed_special="all")) == VARIED


@pytest.mark.parametrize("line", VARIED.split("\n"))
def test_each_line_matches_tiktoken(gpt2, reference, line):
    """Line by line, so that a failure names the kind of text that broke."""
    assert gpt2.encode(line) == reference.encode_ordinary(line)
    assert gpt2.encode(line, allowed_special="all") == reference.encode(line, allowed_special="all")


def test_special_token_semantics(gpt2, reference):
    text = "a<|endoftext|>b"
    assert gpt2.encode(text) == gpt2.encode_ordinary(text) == reference.encode_ordinary(text)
    assert 50256 not in gpt2.encode(text)
    with_token = gpt2.encode("a") + [50256] + gpt2.encode("b")
    assert gpt2.encode(text, allowed_special={ENDOFTEXT}) == with_token
    assert gpt2.encode(ENDOFTEXT, allowed_special="all") == [50256]
    assert gpt2.encode(ENDOFTEXT) == [27, 91, 437, 1659, 5239, 91, 29]
    # Text on both sides of an allowed special token is encoded on its own: "  " before it stays
    # whitespace at the end of its stretch, instead of giving a space to the next word.
    for text in ["x  <|endoftext|>  y", " <|endoftext|>", "<|endoftext|> ", "'<|endoftext|>s"]:
        expected = reference.encode(text, allowed_special="all")
        assert gpt2.encode(text, allowed_special="all") == expected
    assert gpt2.decode([50256]) == ENDOFTEXT and gpt2.decode_bytes([50256]) == ENDOFTEXT.encode()
    with pytest.raises(ValueError, match="not special tokens"):
        gpt2.encode(text, allowed_special={"<|startoftext|>"})
    with pytest.raises(TypeError, match="collection of special tokens"):
        gpt2.encode(text, allowed_special=ENDOFTEXT)


def test_decode_partial_characters_and_bad_ids(gpt2):
    ids = gpt2.encode("你")
    assert len(ids) == 2  # a character split across tokens
    assert gpt2.decode(ids[:1]) == "\ufffd"  # the first token alone is not valid UTF-8
    with pytest.raises(UnicodeDecodeError):
        gpt2.decode(ids[:1], errors="strict")
    assert gpt2.decode_bytes(ids[:1]) + gpt2.decode_bytes(ids[1:]) == "你".encode()
    with pytest.raises(ValueError, match="not in this vocabulary"):
        gpt2.decode([50257])


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text())
def test_round_trip_any_text(gpt2, text):
    assert gpt2.decode(gpt2.encode(text)) == text
    assert gpt2.decode(gpt2.encode(text, allowed_special="all")) == text


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tricky_text)
def test_random_text_matches_tiktoken(gpt2, reference, text):
    assert gpt2.encode(text) == reference.encode_ordinary(text)
    assert gpt2.encode(text, allowed_special="all") == reference.encode(text, allowed_special="all")


# --- loading the files ------------------------------------------------------------------------

def test_from_files_equals_load(gpt2):
    folder = os.environ.get("LAMA_GPT2_BPE_DIR")
    if not folder:
        pytest.skip("LAMA_GPT2_BPE_DIR is not set: point it at a folder with vocab.bpe and "
                    "encoder.json")
    local = GPT2Tokenizer.from_files(Path(folder) / "vocab.bpe", Path(folder) / "encoder.json")
    assert local.merges == gpt2.merges
    assert local.vocab == gpt2.vocab
    assert local.special_tokens == gpt2.special_tokens and local.eot_token == gpt2.eot_token
    assert local.encode(VARIED, allowed_special="all") == gpt2.encode(VARIED, allowed_special="all")


def test_load_fetches_openai_files_by_url_and_checksum(monkeypatch):
    """load() asks tiktoken's reader for OpenAI's two URLs with their SHA-256; the files in
    LAMA_GPT2_BPE_DIR have exactly those checksums."""
    folder = os.environ.get("LAMA_GPT2_BPE_DIR")
    if not folder:
        pytest.skip("LAMA_GPT2_BPE_DIR is not set: point it at a folder with vocab.bpe and "
                    "encoder.json")
    asked = []

    def fake_read(url, expected_hash=None):
        asked.append((url, expected_hash))
        data = (Path(folder) / url.rsplit("/", 1)[1]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == expected_hash
        return data

    monkeypatch.setattr(tiktoken.load, "read_file_cached", fake_read)
    tok = GPT2Tokenizer.load()
    assert asked == [GPT2_FILES["vocab.bpe"], GPT2_FILES["encoder.json"]]
    assert [url.rsplit("/", 1)[1] for url, _ in asked] == ["vocab.bpe", "encoder.json"]
    assert tok.encode("Hello world") == [15496, 995]


def test_load_offline_says_what_to_do(monkeypatch):
    def no_network(url, expected_hash=None):
        raise ConnectionError("no route to host")

    monkeypatch.setattr(tiktoken.load, "read_file_cached", no_network)
    with pytest.raises(OSError, match="TIKTOKEN_CACHE_DIR"):
        GPT2Tokenizer.load()


def test_from_bytes_rejects_other_files():
    alphabet = byte_alphabet()
    encoder = {alphabet[b]: b for b in range(256)} | {"ab": 256, ENDOFTEXT: 257}
    good = GPT2Tokenizer.from_bytes(b"#version: 0.2\na b\n", json.dumps(encoder).encode())
    assert good.merges == [(b"a", b"b")] and good.eot_token == 257
    assert good.encode("abc") == [256, ord("c")]
    with pytest.raises(ValueError, match="line 2"):
        GPT2Tokenizer.from_bytes(b"#version: 0.2\na b c\n", b"{}")
    with pytest.raises(ValueError, match="byte alphabet"):
        GPT2Tokenizer.from_bytes("#version: 0.2\na \u3000\n".encode(), b"{}")
    no_eot = {alphabet[b]: b for b in range(256)}
    with pytest.raises(ValueError, match="endoftext"):
        GPT2Tokenizer.from_bytes(b"#version: 0.2\n", json.dumps(no_eot).encode())


# --- training ---------------------------------------------------------------------------------

def test_train_bpe_by_hand():
    # "aaabdaaabac" is one piece. Round 1: (a,a) occurs 4 times (overlaps count). Round 2: "aa a b d
    # aa a b a c" has (aa,a) and (a,b) twice each; the tie goes to the smaller pair, (b"a", b"b").
    # Round 3: (aa,ab) twice. Then every pair occurs once, and the smallest wins each round:
    # (a,c), then (aaab,ac) < (aaab,d), then (aaab,d), then (aaabd,aaabac); then one token is left.
    merges = train_bpe("aaabdaaabac", n_merges=100)
    assert merges == [(b"a", b"a"), (b"a", b"b"), (b"aa", b"ab"), (b"a", b"c"),
                      (b"aaab", b"ac"), (b"aaab", b"d"), (b"aaabd", b"aaabac")]
    assert train_bpe("aaabdaaabac", n_merges=2) == merges[:2]
    assert train_bpe("aaabdaaabac", n_merges=0) == []
    with pytest.raises(ValueError):
        train_bpe("abc", n_merges=-1)


def test_train_bpe_respects_pieces_and_counts():
    # " ab" occurs 3 times as a piece, "ab" once; merges never join a piece to the next one.
    merges = train_bpe("ab ab ab ab.", n_merges=10)
    assert merges[:2] == [(b"a", b"b"), (b" ", b"ab")]
    assert all(b"." not in left + right for left, right in merges)  # "." is a piece of its own


def brute_force_train(text: str, n_merges: int) -> list[tuple[bytes, bytes]]:
    """The definition, done slowly: all pieces (repeats included), every pair counted at every
    position."""
    pieces = [[bytes([b]) for b in piece.encode("utf-8")] for piece in pretokenize(text)]
    merges = []
    for _ in range(n_merges):
        counts = Counter()
        for tokens in pieces:
            for i in range(len(tokens) - 1):
                counts[tokens[i], tokens[i + 1]] += 1
        if not counts:
            break
        top = max(counts.values())
        best = sorted(pair for pair, count in counts.items() if count == top)[0]
        merges.append(best)
        pieces = [merge_pair(tokens, best) for tokens in pieces]
    return merges


def merge_pair_all(piece: str, merges) -> list[bytes]:
    tokens = [bytes([b]) for b in piece.encode("utf-8")]
    for pair in merges:
        tokens = merge_pair(tokens, pair)
    return tokens


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet="ab c\n'sé1!", max_size=60), st.integers(0, 30))
def test_train_bpe_matches_brute_force_and_round_trips(text, n_merges):
    merges = train_bpe(text, n_merges)
    assert merges == brute_force_train(text, n_merges)
    tok = BPETokenizer(merges)
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    assert all(0 <= i < tok.n_vocab <= 256 + len(merges) for i in ids)
    # Encoding the training text replays training: same tokens as the final state of training.
    final = [merge_pair_all(piece, merges) for piece in pretokenize(text)]
    assert [tok.decode_bytes([i]) for i in ids] == [t for tokens in final for t in tokens]


def test_learned_merges_generalise_and_round_trip():
    corpus = "the cat sat on the mat. the cat ate the rat. " * 3
    tok = BPETokenizer(train_bpe(corpus, 20))
    for text in [corpus, "the hat, the bat!", "über 🦙\n\n  x", ""]:
        assert tok.decode(tok.encode(text)) == text
    assert len(tok.encode(corpus)) < len(corpus.encode()) / 2


def test_merge_pair_and_apply_merges():
    assert merge_pair([b"a", b"a", b"a"], (b"a", b"a")) == [b"aa", b"a"]
    assert merge_pair([b"a", b"b", b"a", b"b"], (b"a", b"b")) == [b"ab", b"ab"]
    assert merge_pair([], (b"a", b"b")) == []
    ranks = {(b"b", b"c"): 0, (b"a", b"b"): 1, (b"a", b"bc"): 2}
    assert apply_merges(b"abc", ranks) == [b"abc"]  # rank 0 first, so (a,b) never applies
    assert apply_merges(b"abd", ranks) == [b"ab", b"d"]
    assert apply_merges(b"", ranks) == []


def test_default_vocab_and_errors():
    merges = [(b"a", b"b"), (b"ab", b"c"), (b"b", b"c"), (b"a", b"bc")]  # merge 3 remakes b"abc"
    tok = BPETokenizer(merges)
    assert tok.vocab[b"ab"] == 256 and tok.vocab[b"abc"] == 257 and tok.vocab[b"bc"] == 258
    assert tok.n_vocab == 259 and tok.encode("abc") == [257]
    with pytest.raises(ValueError, match="no id"):
        BPETokenizer([(b"a", b"b")], vocab={bytes([b]): b for b in range(256)})
    with pytest.raises(ValueError, match="share an id"):
        BPETokenizer([], special_tokens={ENDOFTEXT: 0})
    assert BPETokenizer([], pattern=GPT2_PATTERN).encode("hi") == [ord("h"), ord("i")]
