"""lama.embeddings (chapter 2, docs/embeddings.md) against direct numpy computations.

The references here are written independently of the chapter's code: the sinusoidal table as a
plain loop over the paper's formula, the embedding layer as numpy fancy indexing, attention as a
numpy softmax, gradients as np.add.at.

tinygrad compiles one set of kernels per distinct shape, so the tests reuse a few shapes on purpose:
that keeps the file fast on two CPU cores.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from tinygrad import Tensor, dtypes, nn

from lama.block import training
from lama.embeddings import KINDS, EmbeddingConfig, TokenPositionEmbedding, sinusoidal_positions

# float32 angles: p * w is rounded to ~6e-8 relative, i.e. ~2e-5 absolute near p = 300
ATOL_PE = 1e-4


def paper_positions(n_positions: int, n_embd: int, base: float = 10000.0) -> np.ndarray:
    """Vaswani et al. (2017), section 3.5, one entry at a time, in float64."""
    pe = np.zeros((n_positions, n_embd))
    for pos in range(n_positions):
        for i in range(n_embd // 2):
            angle = pos / base ** (2 * i / n_embd)
            pe[pos, 2 * i] = math.sin(angle)
            pe[pos, 2 * i + 1] = math.cos(angle)
    return pe


def np_attention(x: np.ndarray) -> np.ndarray:
    """softmax(x x^T / sqrt(C)) x for x of shape (T, C), in float64."""
    scores = x @ x.T / math.sqrt(x.shape[-1])
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return (weights / weights.sum(axis=-1, keepdims=True)) @ x


def tg_attention(x: Tensor) -> Tensor:
    """The same in tinygrad, batched: (B, T, C) -> (B, T, C)."""
    return (x @ x.transpose(-1, -2) / math.sqrt(x.shape[-1])).softmax(axis=-1) @ x


def make(kind: str, vocab_size: int = 100, n_positions: int = 256,
         n_embd: int = 64) -> TokenPositionEmbedding:
    return TokenPositionEmbedding(EmbeddingConfig(vocab_size, n_positions, n_embd, kind))


def reference_output(embed: TokenPositionEmbedding, ids: np.ndarray,
                     start_pos: int = 0) -> np.ndarray:
    """numpy: table[ids] * scale + positions[start_pos:start_pos + T], with the module's own
    numbers."""
    config = embed.config
    if config.kind == "learned":
        scale, positions = 1.0, embed.wpe.weight.numpy()
    else:
        scale = math.sqrt(config.n_embd)
        positions = paper_positions(config.n_positions, config.n_embd)
    T = ids.shape[1]
    return embed.wte.weight.numpy()[ids] * scale + positions[start_pos:start_pos + T]


# ---------------------------------------------------------------- sinusoidal_positions


@pytest.mark.parametrize("n_positions, n_embd", [(1, 2), (7, 6), (256, 64), (300, 10)])
def test_sinusoidal_matches_the_papers_formula(n_positions, n_embd):
    pe = sinusoidal_positions(n_positions, n_embd)
    assert pe.shape == (n_positions, n_embd) and pe.dtype == dtypes.float32
    expected = paper_positions(n_positions, n_embd)
    np.testing.assert_allclose(pe.numpy(), expected, rtol=0, atol=ATOL_PE)


def test_sinusoidal_base_is_a_parameter():
    np.testing.assert_allclose(sinusoidal_positions(7, 6, base=100.0).numpy(),
                               paper_positions(7, 6, base=100.0), rtol=0, atol=ATOL_PE)


@pytest.mark.parametrize("n_positions, n_embd, words", [
    (10, 7, "even n_embd"), (10, 1, "even n_embd"), (10, 0, "even n_embd"), (0, 8, "n_positions")])
def test_sinusoidal_rejects_bad_sizes(n_positions, n_embd, words):
    with pytest.raises(ValueError, match=words):
        sinusoidal_positions(n_positions, n_embd)


# ------------------------------------------------ the rotation and relative-position properties


def rotation(k: int, n_embd: int, base: float = 10000.0) -> np.ndarray:
    """Block-diagonal (n_embd, n_embd): one 2x2 rotation by k * w_i per (sin, cos) pair."""
    m = np.zeros((n_embd, n_embd))
    for i in range(n_embd // 2):
        angle = k * base ** (-2 * i / n_embd)
        c, s = math.cos(angle), math.sin(angle)
        m[2 * i:2 * i + 2, 2 * i:2 * i + 2] = [[c, s], [-s, c]]
    return m


@pytest.mark.parametrize("k", [1, 2, 13, 100, 255])
def test_a_shift_by_k_is_the_same_rotation_at_every_position(k):
    pe = sinusoidal_positions(256, 64).numpy().astype(np.float64)
    m = rotation(k, 64)
    np.testing.assert_allclose(pe[k:], pe[:-k] @ m.T, rtol=0, atol=2 * ATOL_PE)
    # a rotation keeps lengths, and it is not the identity (the property is not vacuous)
    np.testing.assert_allclose(m @ m.T, np.eye(64), atol=1e-12)
    assert np.abs(pe[k:] - pe[:-k]).max() > 0.1


def test_one_linear_map_shifts_every_position():
    """Without assuming the rotation's form: the best single linear map from PE[p] to PE[p + k],
    fitted by least squares over all positions at once, is exact for sinusoids (and far from exact
    for a random table of the same shape, so the check has teeth)."""
    pe = sinusoidal_positions(256, 64).numpy().astype(np.float64)
    random_table = np.random.default_rng(0).normal(size=(256, 64))
    for k in (1, 5, 60):
        for table, exact in ((pe, True), (random_table, False)):
            # table[p] @ fitted ~ table[p + k]
            fitted, *_ = np.linalg.lstsq(table[:-k], table[k:], rcond=None)
            error = np.abs(table[:-k] @ fitted - table[k:]).max()
            assert (error < 1e-3) if exact else (error > 0.5), (k, exact, error)


def test_dot_products_depend_only_on_the_offset():
    pe = sinusoidal_positions(256, 64).numpy().astype(np.float64)
    gram = pe @ pe.T
    w = 10000.0 ** (-np.arange(0, 64, 2) / 64)
    for p, q in [(0, 0), (3, 40), (40, 3), (100, 101), (250, 7)]:
        assert gram[p, q] == pytest.approx(np.cos(w * (p - q)).sum(), abs=5e-3)
    for shift in (1, 17, 120):
        np.testing.assert_allclose(gram[shift:, shift:], gram[:-shift, :-shift], atol=5e-3)
    np.testing.assert_allclose(np.diag(gram), 32.0, atol=1e-3)


# ---------------------------------------------------------------- the embedding module

IDS = np.array([[5, 17, 17, 99, 0], [42, 3, 5, 8, 64]])                      # (2, 5)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("ids", [
    IDS,
    np.random.default_rng(0).integers(0, 100, size=(3, 256)),                # T = n_positions
    np.random.default_rng(1).integers(0, 100, size=(1, 1)),
], ids=["2x5", "3x256", "1x1"])
def test_module_equals_table_lookup_plus_positions(kind, ids):
    Tensor.manual_seed(0)
    embed = make(kind)
    out = embed(Tensor(ids, dtype=dtypes.int32))
    assert out.shape == (*ids.shape, 64) and out.dtype == dtypes.float32
    np.testing.assert_allclose(out.numpy(), reference_output(embed, ids), rtol=1e-5, atol=ATOL_PE)


@pytest.mark.parametrize("kind", KINDS)
def test_start_pos_shifts_the_positions(kind):
    embed = make(kind)
    out = embed(Tensor(IDS), start_pos=251)         # positions 251..255, the last ones
    expected = reference_output(embed, IDS, start_pos=251)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=ATOL_PE)


def test_the_position_table_is_realized_and_not_a_parameter():
    learned, sinusoidal = make("learned"), make("sinusoidal")
    assert set(nn.state.get_state_dict(learned)) == {"wte.weight", "wpe.weight"}
    assert set(nn.state.get_state_dict(sinusoidal)) == {"wte.weight", "pe"}
    assert all(t.is_param for t in nn.state.get_parameters(learned))
    assert sinusoidal.wte.weight.is_param and not sinusoidal.pe.is_param
    np.testing.assert_allclose(sinusoidal.position_table().numpy(), paper_positions(256, 64),
                               atol=ATOL_PE)
    assert sinusoidal.token_scale == pytest.approx(8.0) and learned.token_scale == 1.0


def test_initial_scales_follow_gpt2_and_vaswani():
    Tensor.manual_seed(0)
    learned, sinusoidal = make("learned"), make("sinusoidal")
    assert learned.wte.weight.numpy().std() == pytest.approx(0.02, rel=0.05)
    assert learned.wpe.weight.numpy().std() == pytest.approx(0.01, rel=0.05)
    scaled_tokens = sinusoidal.wte.weight.numpy() * sinusoidal.token_scale
    assert scaled_tokens.std() == pytest.approx(1.0, rel=0.05)


def test_gpt2_sizes_without_computing_anything():
    gpt2 = TokenPositionEmbedding(EmbeddingConfig())
    shapes = {name: t.shape for name, t in nn.state.get_state_dict(gpt2).items()}
    assert shapes == {"wte.weight": (50257, 768), "wpe.weight": (1024, 768)}


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("T, start_pos", [(257, 0), (300, 0), (6, 251), (1, 256)])
def test_too_many_positions_is_a_clear_error(kind, T, start_pos):
    embed = make(kind)
    with pytest.raises(ValueError, match=r"n_positions=256 \(positions 0\.\.255\)"):
        embed(Tensor.zeros(2, T, dtype=dtypes.int32), start_pos=start_pos)


def test_other_call_errors():
    embed = make("learned")
    with pytest.raises(ValueError, match="start_pos must be 0 or more"):
        embed(Tensor(IDS), start_pos=-1)
    with pytest.raises(ValueError, match=r"shape \(B, T\).*reshape\(1, -1\)"):
        embed(Tensor([1, 2, 3]))
    with pytest.raises(ValueError, match=r"shape \(B, T\)"):
        embed(Tensor(IDS).reshape(1, 2, 5))
    with pytest.raises(TypeError):                                            # tinygrad's own check
        embed(Tensor(IDS).float())


@pytest.mark.parametrize("kwargs, words", [
    ({"vocab_size": 0}, "vocab_size must be a positive int"),
    ({"vocab_size": -5}, "vocab_size must be a positive int"),
    ({"n_positions": 0}, "n_positions must be a positive int"),
    ({"n_positions": 2.5}, r"n_positions must be a positive int, got 2\.5 \(float\)"),
    ({"n_embd": True}, "n_embd must be a positive int"),
    ({"kind": "rotary"}, r"kind must be one of \('learned', 'sinusoidal'\), got 'rotary'"),
    ({"kind": "sinusoidal", "n_embd": 63}, "even n_embd.*got n_embd=63; use 64, or kind='learned'"),
])
def test_bad_config_is_a_clear_error(kwargs, words):
    with pytest.raises(ValueError, match=words):
        EmbeddingConfig(**kwargs)


def test_odd_width_is_fine_for_learned_positions():
    out = make("learned", n_embd=7)(Tensor(IDS))
    assert out.shape == (2, 5, 7)


# ---------------------------------------------------------------- attention and order


def test_attention_without_positions_is_permutation_equivariant():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 5, 64)).astype(np.float32)
    out = tg_attention(Tensor(x)).numpy()
    for b in range(2):  # the tinygrad version is right
        np.testing.assert_allclose(out[b], np_attention(x[b].astype(np.float64)),
                                   rtol=1e-4, atol=1e-5)
    for _ in range(5):
        perm = rng.permutation(5)
        shuffled = tg_attention(Tensor(x[:, perm])).numpy()
        np.testing.assert_allclose(shuffled, out[:, perm], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_token_embeddings_alone_keep_the_symmetry_and_positions_break_it(kind):
    embed = make(kind)
    # Trained tables are not tiny. With GPT-2's initial std of 0.02 every score is ~0, the softmax
    # is uniform and each output is the plain mean of the rows: symmetric with or without positions.
    rng = np.random.default_rng(0)
    embed.wte.weight = Tensor(rng.normal(size=(100, 64)).astype(np.float32) / embed.token_scale)
    if kind == "learned":
        embed.wpe.weight = Tensor(rng.normal(size=(256, 64)).astype(np.float32))
    ids = IDS
    perm = np.array([4, 0, 3, 1, 2])
    tokens_only = embed.wte(Tensor(ids)).numpy() * embed.token_scale           # (2, 5, 64)
    with_positions = embed(Tensor(ids)).numpy()                                # (2, 5, 64)
    tokens_only_shuffled = embed.wte(Tensor(ids[:, perm])).numpy() * embed.token_scale
    with_positions_shuffled = embed(Tensor(ids[:, perm])).numpy()
    for b in range(2):
        a = np_attention(tokens_only[b].astype(np.float64))
        shuffled = np_attention(tokens_only_shuffled[b].astype(np.float64))
        np.testing.assert_allclose(shuffled, a[perm], atol=1e-6)
        a = np_attention(with_positions[b].astype(np.float64))
        shuffled = np_attention(with_positions_shuffled[b].astype(np.float64))
        assert np.abs(shuffled - a[perm]).max() > 0.1


# ---------------------------------------------------------------- gradients


@pytest.mark.parametrize("kind", KINDS)
def test_gradients_reach_only_the_rows_of_the_ids_used(kind):
    embed = make(kind)
    rng = np.random.default_rng(0)
    upstream = rng.normal(size=(2, 5, 64)).astype(np.float32)  # stands in for dL/d(output)
    (embed(Tensor(IDS)) * Tensor(upstream)).sum().backward()

    expected = np.zeros((100, 64), dtype=np.float64)
    # one-hot^T @ G
    np.add.at(expected, IDS.reshape(-1), upstream.reshape(-1, 64) * embed.token_scale)
    grad = embed.wte.weight.grad.numpy()
    np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-5)
    unused = np.setdiff1d(np.arange(100), IDS)
    assert len(unused) == 92 and not grad[unused].any()  # exactly zero, not just small
    if kind == "learned":
        expected_pos = np.zeros((256, 64))
        expected_pos[:5] = upstream.sum(axis=0)          # broadcast over B: the sum
        np.testing.assert_allclose(embed.wpe.weight.grad.numpy(), expected_pos,
                                   rtol=1e-5, atol=1e-5)


def test_an_sgd_step_moves_only_the_rows_that_were_used():
    embed = make("learned")
    upstream = np.random.default_rng(0).normal(size=(2, 5, 64)).astype(np.float32)
    before = {name: t.numpy().copy() for name, t in nn.state.get_state_dict(embed).items()}
    optimizer = nn.optim.SGD(nn.state.get_parameters(embed), lr=0.1)
    with training():
        optimizer.zero_grad()
        (embed(Tensor(IDS)) * Tensor(upstream)).sum().backward()
        optimizer.step()
    after = {name: t.numpy() for name, t in nn.state.get_state_dict(embed).items()}

    def moved(name):
        return np.flatnonzero(np.abs(after[name] - before[name]).sum(axis=1))

    np.testing.assert_array_equal(moved("wte.weight"), np.unique(IDS))
    np.testing.assert_array_equal(moved("wpe.weight"), np.arange(5))
    # plain SGD: the step is -lr * gradient, with the gradient from the one-hot picture
    expected = np.zeros((100, 64), dtype=np.float32)
    np.add.at(expected, IDS.reshape(-1), upstream.reshape(-1, 64))
    np.testing.assert_allclose(after["wte.weight"], before["wte.weight"] - 0.1 * expected,
                               rtol=1e-5, atol=1e-6)


def test_optimizers_treat_the_sinusoidal_table_as_a_buffer_not_a_parameter():
    embed = make("sinusoidal")
    optimizer = nn.optim.SGD(nn.state.get_parameters(embed), lr=0.1)
    assert any(t is embed.wte.weight for t in optimizer.params)
    assert not any(t is embed.pe for t in optimizer.params)
    assert any(t is embed.pe for t in optimizer.buffers)
