"""lama.self_attention (chapter "Self-attention and masks"): masks, the masked softmax, scaled
dot-product attention and one head, against numpy, tinygrad and finite differences."""
import numpy as np
import pytest
from tinygrad import Tensor, dtypes

import attention_numpy as ref
from lama.block import training
from lama.self_attention import (SelfAttention, causal_mask, masked_softmax, padding_mask,
                                 scaled_dot_product_attention)


def t(a):
    return Tensor(np.asarray(a, dtype=np.float32))


def load_head(head, p):
    """Give a SelfAttention the numpy parameters p (nn.Linear layout)."""
    for name, linear in [("q", head.query), ("k", head.key), ("v", head.value)]:
        linear.weight, linear.bias = t(p[f"W{name}"]), t(p[f"b{name}"])


def random_head(rng, C, hs):
    return {f"{kind}{r}": rng.standard_normal((hs, C) if kind == "W" else hs) / (2 if kind == "W" else 4)
            for kind in "Wb" for r in "qkv"}


@pytest.mark.parametrize("T_q, T_k", [(1, 1), (3, 3), (2, 5), (1, 4), (4, 6)])
def test_causal_mask_semantics(T_q, T_k):
    mask = causal_mask(T_q, T_k)
    assert mask.dtype == dtypes.bool and mask.shape == (T_q, T_k)
    np.testing.assert_array_equal(mask.numpy(), ref.causal(T_q, T_k))
    if T_q == T_k:
        np.testing.assert_array_equal(causal_mask(T_q).numpy(), np.tril(np.ones((T_q, T_q), bool)))


def test_causal_mask_rejects_more_queries_than_keys():
    with pytest.raises(ValueError, match="3 queries"):
        causal_mask(3, 2)


def test_padding_mask_hides_padded_keys_from_every_query():
    valid = np.array([[True, True, False], [False, True, True]])
    mask = padding_mask(Tensor(valid))
    assert mask.shape == (2, 1, 3)
    np.testing.assert_array_equal(np.broadcast_to(mask.numpy(), (2, 4, 3)), np.repeat(valid[:, None], 4, 1))
    with pytest.raises(TypeError, match="bool"):
        padding_mask(Tensor([[1.0, 0.0]]))


def random_mask(rng, shape, empty_rows=True):
    keep = rng.random(shape) < 0.5
    keep[..., 0, :] = True                            # at least one non-empty row ...
    keep[..., 0, 0] = True
    if empty_rows:
        keep[..., -1, :] = False                      # ... and an empty one
    return keep


@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 4), (2, 3, 4, 5)])
def test_masked_softmax_matches_numpy_and_defines_empty_rows(shape):
    rng = np.random.default_rng(len(shape))
    scores, keep = rng.standard_normal(shape) * 4, random_mask(rng, shape)
    weights = masked_softmax(t(scores), Tensor(keep)).numpy()
    assert not np.isnan(weights).any()
    np.testing.assert_allclose(weights, ref.masked_softmax(scores, keep), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(weights[~keep], 0.0)                       # masked keys: exactly 0
    np.testing.assert_allclose(weights.sum(-1), keep.any(-1).astype(float), rtol=1e-5)  # 1, or 0 if empty
    np.testing.assert_allclose(masked_softmax(t(scores)).numpy(), ref.masked_softmax(scores), rtol=1e-5, atol=1e-6)


def test_masked_softmax_survives_huge_scores():
    scores = np.array([[1e4, -1e4, 3e3], [50.0, 60.0, 70.0]])
    keep = np.array([[False, True, True], [True, True, False]])
    weights = masked_softmax(t(scores), Tensor(keep)).numpy()
    np.testing.assert_allclose(weights, ref.masked_softmax(scores, keep), atol=1e-6)


def test_masked_softmax_rejects_an_additive_float_mask():
    with pytest.raises(TypeError, match="bool"):
        masked_softmax(t(np.zeros((2, 2))), t(np.zeros((2, 2))))


MASKS = ["none", "causal", "padding", "random"]


@pytest.mark.parametrize("mask_kind", MASKS)
@pytest.mark.parametrize("lead", [(2,), (2, 3)])
def test_attention_matches_numpy(lead, mask_kind):
    rng = np.random.default_rng(11)
    T, d, d_v = 5, 4, 3
    q, k, v = rng.standard_normal(lead + (T, d)), rng.standard_normal(lead + (T, d)), rng.standard_normal(lead + (T, d_v))
    mask = {"none": None, "causal": np.tril(np.ones((T, T), bool)),
            "padding": np.array([[True] * T, [True, True, False, False, False]]).reshape((2,) + (1,) * len(lead) + (T,)),
            "random": random_mask(rng, lead + (T, T))}[mask_kind]
    out, weights = scaled_dot_product_attention(t(q), t(k), t(v), None if mask is None else Tensor(mask))
    expected_out, expected_weights = ref.attention(q, k, v, mask)
    assert out.shape == lead + (T, d_v) and weights.shape == lead + (T, T)
    np.testing.assert_allclose(weights.numpy(), expected_weights, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out.numpy(), expected_out, rtol=1e-4, atol=1e-5)


def test_attention_with_fewer_queries_than_keys_is_the_last_rows_of_the_full_one():
    """What a KV cache will rely on: the last T_q queries against all keys, with causal_mask(T_q, T_k)."""
    rng = np.random.default_rng(12)
    q, k, v = (t(rng.standard_normal((2, 3, 6, 4))) for _ in range(3))
    full, _ = scaled_dot_product_attention(q, k, v, causal_mask(6))
    last, _ = scaled_dot_product_attention(q[:, :, -2:], k, v, causal_mask(2, 6))
    np.testing.assert_allclose(last.numpy(), full.numpy()[:, :, -2:], rtol=1e-5, atol=1e-6)


def test_attention_matches_tinygrads_where_it_is_defined():
    rng = np.random.default_rng(13)
    q, k, v = (t(rng.standard_normal((2, 3, 5, 4))) for _ in range(3))
    out, _ = scaled_dot_product_attention(q, k, v, causal_mask(5))
    np.testing.assert_allclose(out.numpy(), q.scaled_dot_product_attention(k, v, is_causal=True).numpy(), rtol=1e-5, atol=1e-6)
    keep = random_mask(rng, (2, 3, 5, 5), empty_rows=False)
    keep[..., :, 0] = True                            # no empty rows: tinygrad's is defined everywhere
    out, _ = scaled_dot_product_attention(q, k, v, Tensor(keep))
    np.testing.assert_allclose(out.numpy(), q.scaled_dot_product_attention(k, v, attn_mask=Tensor(keep)).numpy(),
                               rtol=1e-5, atol=1e-6)
    out, _ = scaled_dot_product_attention(q, k, v)
    np.testing.assert_allclose(out.numpy(), q.scaled_dot_product_attention(k, v).numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("causal", [True, False])
def test_self_attention_matches_numpy(causal):
    rng = np.random.default_rng(14)
    B, T, C, hs = 2, 5, 6, 4
    p, x = random_head(rng, C, hs), rng.standard_normal((B, T, C))
    head = SelfAttention(C, hs, causal=causal)
    load_head(head, p)
    valid = np.array([[True] * T, [True, True, True, False, False]])
    for mask in [None, valid[:, None, :]]:
        out, weights = head(t(x), None if mask is None else Tensor(mask), return_weights=True)
        expected_out, expected_weights = ref.self_attention(x, p, causal, mask)
        np.testing.assert_allclose(weights.numpy(), expected_weights, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(out.numpy(), expected_out, rtol=1e-4, atol=1e-5)


def test_self_attention_gradients_match_finite_differences():
    """Gradients of a causal head with left padding, so that one query has no key at all."""
    rng = np.random.default_rng(15)
    B, T, C, hs = 2, 4, 3, 2
    p, x, R = random_head(rng, C, hs), rng.standard_normal((B, T, C)), rng.standard_normal((B, T, hs))
    mask = np.array([[True] * T, [False, True, True, True]])[:, None, :]  # sequence 1: left-padded by one
    numeric = ref.numeric_gradients(lambda: (ref.self_attention(x, p, True, mask)[0] * R).sum(), {"x": x, **p})

    head = SelfAttention(C, hs)
    load_head(head, p)
    xt = t(x)
    (head(xt, Tensor(mask)) * t(R)).sum().backward()
    ours = {"x": xt.grad}
    for name, linear in [("q", head.query), ("k", head.key), ("v", head.value)]:
        ours[f"W{name}"], ours[f"b{name}"] = linear.weight.grad, linear.bias.grad
    ref.assert_gradients_match(ours, numeric)


def test_a_causal_head_does_not_see_the_future():
    rng = np.random.default_rng(16)
    B, T, C = 2, 6, 8
    head = SelfAttention(C, 4)
    x = rng.standard_normal((B, T, C))
    out = head(t(x)).numpy()
    for pos in range(T - 1):
        changed = x.copy()
        changed[:, pos + 1:] = rng.standard_normal((B, T - pos - 1, C)) * 3
        new = head(t(changed)).numpy()
        np.testing.assert_array_equal(new[:, :pos + 1], out[:, :pos + 1])
        assert np.abs(new[:, pos + 1:] - out[:, pos + 1:]).max() > 1e-4
    # A non-causal head does see it: changing the last token changes the first output.
    both_ways = SelfAttention(C, 4, causal=False)
    changed = x.copy()
    changed[:, -1] += 1.0
    assert np.abs(both_ways(t(changed)).numpy()[:, 0] - both_ways(t(x)).numpy()[:, 0]).max() > 1e-4


def test_padding_gives_padded_keys_zero_weight_and_empty_rows_zero_output():
    rng = np.random.default_rng(17)
    B, T, C, hs = 2, 5, 6, 4
    head = SelfAttention(C, hs)
    valid = np.array([[True] * T, [False, False, True, True, True]])   # left padding: rows 0, 1 of seq 1 are empty
    out, weights = head(t(rng.standard_normal((B, T, C))), padding_mask(Tensor(valid)), return_weights=True)
    out, weights = out.numpy(), weights.numpy()
    assert not np.isnan(out).any() and not np.isnan(weights).any()
    np.testing.assert_array_equal(weights[1][:, :2], 0.0)
    np.testing.assert_array_equal(weights[1][:2], 0.0)
    np.testing.assert_array_equal(out[1, :2], 0.0)
    np.testing.assert_allclose(weights[1, 2:].sum(-1), 1.0, rtol=1e-5)


def test_return_weights_changes_only_what_is_returned():
    rng = np.random.default_rng(18)
    head = SelfAttention(6, 3)
    x = t(rng.standard_normal((2, 4, 6)))
    out, weights = head(x, return_weights=True)
    np.testing.assert_array_equal(head(x).numpy(), out.numpy())
    assert weights.shape == (2, 4, 4)


def test_dropout_acts_only_in_training_mode():
    rng = np.random.default_rng(19)
    Tensor.manual_seed(0)
    head = SelfAttention(6, 3, dropout=0.5)
    plain = SelfAttention(6, 3)
    for a, b in [(head.query, plain.query), (head.key, plain.key), (head.value, plain.value)]:
        b.weight, b.bias = a.weight, a.bias
    x = t(rng.standard_normal((2, 4, 6)))
    np.testing.assert_array_equal(head(x).numpy(), plain(x).numpy())
    with training():
        out, weights = head(x, return_weights=True)
        out, weights = out.numpy(), weights.numpy()
    assert np.abs(out - plain(x).numpy()).max() > 1e-3
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-5)   # the returned weights are before dropout
