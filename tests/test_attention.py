"""lama.attention (chapter "Attention as a lookup") against numpy and tinygrad's own attention."""
import math

import numpy as np
import pytest
from tinygrad import Tensor

import attention_numpy as ref
from lama.attention import (additive_score, attend, bahdanau_score, dot_product_score, entropy,
                            general_score, scaled_dot_product_score)

# (leading axes, T_q, T_k, d_q, d_k): no batch, a batch, a batch and heads; queries and keys of
# different sizes where the score allows it.
SHAPES = [((), 1, 4, 3, 3), ((2,), 3, 5, 4, 6), ((2, 3), 4, 2, 5, 3)]


def t(a):
    return Tensor(np.asarray(a, dtype=np.float32))


def pairwise(q, k, score):
    """The definition: score every (query, key) pair on its own."""
    lead = q.shape[:-2]
    out = np.zeros(lead + (q.shape[-2], k.shape[-2]))
    for idx in np.ndindex(lead):
        for i in range(q.shape[-2]):
            for j in range(k.shape[-2]):
                out[idx + (i, j)] = score(q[idx + (i,)], k[idx + (j,)])
    return out


@pytest.mark.parametrize("lead, T_q, T_k, d_q, d_k", SHAPES)
def test_every_score_matches_its_definition(lead, T_q, T_k, d_q, d_k):
    rng = np.random.default_rng(sum(lead) + T_q)
    q = rng.standard_normal(lead + (T_q, d_q))
    k_same = rng.standard_normal(lead + (T_k, d_q))  # keys of the queries' size, for dot products
    k = rng.standard_normal(lead + (T_k, d_k))
    W, d_a = rng.standard_normal((d_q, d_k)), 4
    W_q, W_k = rng.standard_normal((d_q, d_a)), rng.standard_normal((d_k, d_a))
    v = rng.standard_normal(d_a)
    w_q, w_k = rng.standard_normal(d_q), rng.standard_normal(d_k)
    cases = [
        (dot_product_score(t(q), t(k_same)),
         pairwise(q, k_same, lambda a, b: a @ b)),
        (scaled_dot_product_score(t(q), t(k_same)),
         pairwise(q, k_same, lambda a, b: a @ b / math.sqrt(d_q))),
        (general_score(t(q), t(k), t(W)),
         pairwise(q, k, lambda a, b: a @ W @ b)),
        (additive_score(t(q), t(k), t(w_q), t(w_k)),
         pairwise(q, k, lambda a, b: w_q @ a + w_k @ b)),
        (bahdanau_score(t(q), t(k), t(W_q), t(W_k), t(v)),
         pairwise(q, k, lambda a, b: v @ np.tanh(a @ W_q + b @ W_k))),
    ]
    for ours, expected in cases:
        assert ours.shape == lead + (T_q, T_k)
        np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("lead, T_q, T_k, d_q, d_k", SHAPES)
def test_attend_matches_numpy(lead, T_q, T_k, d_q, d_k):
    rng = np.random.default_rng(7)
    scores, v = rng.standard_normal(lead + (T_q, T_k)) * 3, rng.standard_normal(lead + (T_k, d_k))
    out, weights = attend(t(scores), t(v))
    e = np.exp(scores - scores.max(-1, keepdims=True))
    expected_weights = e / e.sum(-1, keepdims=True)
    np.testing.assert_allclose(weights.numpy(), expected_weights, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out.numpy(), expected_weights @ v, rtol=1e-4, atol=1e-5)


def test_attend_with_scaled_scores_is_tinygrads_attention():
    rng = np.random.default_rng(3)
    q, k, v = (t(rng.standard_normal((2, 3, 5, 8))) for _ in range(3))
    out, _ = attend(scaled_dot_product_score(q, k), v)
    tinygrads = q.scaled_dot_product_attention(k, v).numpy()
    references = ref.attention(q.numpy(), k.numpy(), v.numpy())[0]
    np.testing.assert_allclose(out.numpy(), tinygrads, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out.numpy(), references, rtol=1e-4, atol=1e-5)


def test_additive_score_weights_ignore_the_query_but_bahdanaus_do_not():
    rng = np.random.default_rng(4)
    q, k = t(rng.standard_normal((6, 4))), t(rng.standard_normal((5, 3)))
    values = t(np.zeros((5, 1)))
    w_q, w_k = t(rng.standard_normal(4)), t(rng.standard_normal(3))
    _, plain = attend(additive_score(q, k, w_q, w_k), values)
    plain = plain.numpy()
    np.testing.assert_allclose(plain, np.broadcast_to(plain[:1], plain.shape), atol=1e-6)
    W_q, W_k = t(rng.standard_normal((4, 8))), t(rng.standard_normal((3, 8)))
    v_a = t(rng.standard_normal(8))
    _, mixed = attend(bahdanau_score(q, k, W_q, W_k, v_a), values)
    assert np.abs(mixed.numpy() - mixed.numpy()[:1]).max() > 0.05


def test_entropy():
    rng = np.random.default_rng(5)
    weights = rng.random((2, 3, 6)) + 0.01
    weights /= weights.sum(-1, keepdims=True)
    weights[0, 0] = np.eye(6)[2]          # one key takes everything: 0, not NaN
    weights[1, 2] = 1 / 6                 # uniform: log 6
    H = entropy(t(weights)).numpy()
    assert H.shape == (2, 3) and not np.isnan(H).any()
    log_weights = np.log(np.where(weights > 0, weights, 1))  # log 1 = 0 stands in for log 0
    expected = -(np.where(weights > 0, weights * log_weights, 0)).sum(-1)
    np.testing.assert_allclose(H, expected, rtol=1e-5, atol=1e-6)
    assert H[0, 0] == 0
    np.testing.assert_allclose(H[1, 2], math.log(6), rtol=1e-6)


def test_scaling_keeps_the_softmax_soft():
    """The chapter's claim, at one size: unscaled scores of d=512 saturate the softmax, scaled
    ones do not."""
    rng = np.random.default_rng(6)
    q, k = t(rng.standard_normal((256, 512))), t(rng.standard_normal((16, 512)))
    v = t(np.zeros((16, 1)))
    unscaled = entropy(attend(dot_product_score(q, k), v)[1]).mean().item()
    scaled = entropy(attend(scaled_dot_product_score(q, k), v)[1]).mean().item()
    assert unscaled < 0.25 < 2.0 < scaled < math.log(16)
