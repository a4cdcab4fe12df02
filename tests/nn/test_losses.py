"""Loss behaviour the op registry cannot express: validation messages, edge
values (ignored targets, saturated probabilities, impossible CTC alignments),
dtype/type preservation and values pinned from PyTorch 2.13."""
from __future__ import annotations

import itertools
import math
import zlib

import numpy as np
import pytest

import flodl_core as fl
from flodl_core import nn
from flodl_core.nn import losses as L


def var(a, dtype=np.float64):
    return fl.Variable(fl.tensor(np.asarray(a, dtype=dtype)), requires_grad=True)


def t64(a):
    return fl.tensor(np.asarray(a, dtype=np.int64))


# ------------------------------------------------------------------ surface


def test_every_loss_is_listed_and_exported():
    expected = {"mse_loss", "cross_entropy_loss", "nll_loss", "bce_loss",
                "bce_with_logits_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
                "kl_div_loss", "ctc_loss", "poisson_nll_loss", "focal_loss",
                "triplet_margin_loss", "cosine_embedding_loss", "hinge_embedding_loss",
                "margin_ranking_loss"}
    assert set(L.LOSSES) == expected
    assert set(L.__all__) == expected
    for name, fn in L.LOSSES.items():
        assert getattr(nn, name) is fn


def test_tensor_in_tensor_out_and_dtype_kept():
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    out = L.mse_loss(fl.tensor(x), fl.tensor(x * 2))
    assert type(out) is fl.Tensor and out.dtype == fl.DType.Float32
    v = fl.Variable(fl.tensor(x), requires_grad=True)
    out = L.cross_entropy_loss(v, t64([0, 1, 3]))
    assert isinstance(out, fl.Variable) and out.dtype == fl.DType.Float32
    out.backward()
    assert v.grad.dtype == fl.DType.Float32


@pytest.mark.parametrize("name, args", [
    ("mse_loss", lambda: (var([1.0]), fl.tensor([1.0]))),
    ("l1_loss", lambda: (var([1.0]), fl.tensor([1.0]))),
    ("nll_loss", lambda: (var([[-1.0, -2.0]]), t64([0]))),
])
def test_bad_reduction_names_the_loss(name, args):
    with pytest.raises(ValueError, match=f"{name}: reduction must be one of"):
        L.LOSSES[name](*args(), reduction="avg")


# --------------------------------------------------------------- validation


def test_cross_entropy_target_shape_message():
    with pytest.raises(fl.ShapeError, match=r"cross_entropy_loss: target shape \(4, 3\) does "
                                            r"not match input \(4, 10\) without its class dim"):
        L.cross_entropy_loss(var(np.zeros((4, 10))), t64(np.zeros((4, 3))))


def test_cross_entropy_class_out_of_range_names_class_and_count():
    with pytest.raises(fl.FlodlIndexError, match="target class 10 out of range for 10 classes"):
        L.cross_entropy_loss(var(np.zeros((2, 10))), t64([3, 10]))
    with pytest.raises(fl.FlodlIndexError, match="target class -1 out of range"):
        L.nll_loss(var(np.zeros((2, 10))), t64([-1, 0]))


def test_float_class_indices_are_a_dtype_error():
    with pytest.raises(fl.DTypeError, match="cross_entropy_loss: target must hold class "
                                            "indices"):
        L.cross_entropy_loss(var(np.zeros((4, 10))), fl.tensor(np.zeros(4)))
    with pytest.raises(fl.DTypeError, match="nll_loss"):
        L.nll_loss(var(np.zeros((4, 10))), fl.tensor(np.zeros(4, dtype=np.float32)))
    # A target of the input's shape holds probabilities: integer there is an error too.
    with pytest.raises(fl.DTypeError, match="class probabilities"):
        L.cross_entropy_loss(var(np.zeros((4, 10))), t64(np.zeros((4, 10))))


def test_weight_shape_checked():
    with pytest.raises(fl.ShapeError, match=r"weight shape \(3,\) does not match the 4 "
                                            r"classes"):
        L.nll_loss(var(np.zeros((2, 4))), t64([0, 1]), weight=fl.tensor(np.ones(3)))


def test_elementwise_losses_check_shapes():
    with pytest.raises(fl.ShapeError, match=r"mse_loss: target shape \(3,\) does not match "
                                            r"input shape \(2, 3\)"):
        L.mse_loss(var(np.zeros((2, 3))), fl.tensor(np.zeros(3)))
    with pytest.raises(fl.ShapeError, match="bce_with_logits_loss"):
        L.bce_with_logits_loss(var(np.zeros(3)), fl.tensor(np.zeros(4)))


def test_bce_rejects_non_probabilities():
    with pytest.raises(ValueError, match=r"bce_loss: all elements of input must be "
                                         r"probabilities in \[0, 1\]"):
        L.bce_loss(var([0.5, 1.5]), fl.tensor([0.0, 1.0]))


def test_ctc_validation():
    lp = var(np.log(np.full((4, 2, 3), 1 / 3)))
    with pytest.raises(fl.ShapeError, match="input_lengths .* exceed the 4 time steps"):
        L.ctc_loss(lp, t64([[1], [2]]), [5, 4], [1, 1])
    with pytest.raises(fl.ShapeError, match="target_lengths sum to 3"):
        L.ctc_loss(lp, t64([1, 2]), [4, 4], [1, 2])
    with pytest.raises(fl.FlodlIndexError, match="target class 3 out of range for 3 classes"):
        L.ctc_loss(lp, t64([[3], [1]]), [4, 4], [1, 1])
    with pytest.raises(fl.FlodlIndexError, match="not the blank 0"):
        L.ctc_loss(lp, t64([[0], [1]]), [4, 4], [1, 1])
    with pytest.raises(fl.DTypeError, match="ctc_loss: targets must hold class indices"):
        L.ctc_loss(lp, fl.tensor(np.ones((2, 1))), [4, 4], [1, 1])


# ------------------------------------------------------------ edge values


def test_cross_entropy_pinned_value_and_extreme_logits():
    x = var([[1.0, 2.0, 0.5], [0.1, -1.0, 3.0]])
    out = L.cross_entropy_loss(x, t64([2, 0]), weight=fl.tensor([1.0, 2.0, 0.5]),
                               label_smoothing=0.1)
    assert out.item() == pytest.approx(2.6945085112917786, rel=1e-12)   # torch 2.13
    big = var([[1000.0, -1000.0, 0.0]])
    out = L.cross_entropy_loss(big, t64([1]))
    assert out.item() == pytest.approx(2000.0)
    out.backward()
    assert np.all(np.isfinite(big.grad.to_numpy()))


def test_all_targets_ignored_gives_nan_mean_and_zero_sum():
    x = var(np.zeros((2, 3)))
    t = t64([-100, -100])
    with np.errstate(invalid="ignore"):
        assert math.isnan(L.nll_loss(x, t).item())
    assert L.nll_loss(x, t, reduction="sum").item() == 0.0
    np.testing.assert_array_equal(L.cross_entropy_loss(x, t, reduction="none").to_numpy(),
                                  [0.0, 0.0])


def test_bce_saturated_probabilities_follow_torch():
    x = var([0.0, 1.0, 0.5])
    out = L.bce_loss(x, fl.tensor([1.0, 0.0, 1.0]), reduction="none")
    np.testing.assert_allclose(out.to_numpy(), [100.0, 100.0, math.log(2)])
    out.sum().backward()
    # (x - t) / max(x (1 - x), 1e-12), as PyTorch: large but finite.
    np.testing.assert_allclose(x.grad.to_numpy(), [-1e12, 1e12, -2.0])


def test_bce_with_logits_stable_for_huge_logits():
    x = var([1000.0, -1000.0, 0.0])
    out = L.bce_with_logits_loss(x, fl.tensor([0.0, 1.0, 1.0]), reduction="none")
    np.testing.assert_allclose(out.to_numpy(), [1000.0, 1000.0, math.log(2)])
    out.sum().backward()
    np.testing.assert_allclose(x.grad.to_numpy(), [1.0, -1.0, -0.5])


def test_kl_div_batchmean_and_mean():
    rng = np.random.default_rng(1)
    x = np.log(rng.dirichlet(np.ones(5), 4))
    t = rng.dirichlet(np.ones(5), 4)
    total = (t * (np.log(t) - x)).sum()
    assert L.kl_div_loss(var(x), fl.tensor(t), reduction="batchmean").item() == \
        pytest.approx(total / 4)
    assert L.kl_div_loss(var(x), fl.tensor(t)).item() == pytest.approx(total / 20)


def test_focal_loss_reduces_to_bce_without_alpha_and_gamma():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 4))
    t = (rng.uniform(size=(3, 4)) > 0.5).astype(np.float64)
    a = L.focal_loss(var(x), fl.tensor(t), alpha=-1, gamma=0.0)
    b = L.bce_with_logits_loss(var(x), fl.tensor(t))
    assert a.item() == pytest.approx(b.item(), rel=1e-12)


# --------------------------------------------------------------------- CTC


def test_ctc_pinned_value_unbatched_and_concatenated():
    lp = np.array([[[-1.2, -0.4, -2.0]], [[-0.3, -1.6, -2.2]], [[-0.9, -0.7, -1.9]]])
    out = L.ctc_loss(var(lp), t64([[1, 2]]), [3], [2])
    assert out.item() == pytest.approx(0.9657965508941844, rel=1e-12)   # torch 2.13
    # Mean divides by the target length.
    assert L.ctc_loss(var(lp), t64([[1, 2]]), [3], [2], reduction="sum").item() == \
        pytest.approx(2 * 0.9657965508941844, rel=1e-12)
    un = L.ctc_loss(var(lp[:, 0]), t64([1, 2]), 3, 2, reduction="none")
    assert un.shape == () and un.item() == pytest.approx(2 * 0.9657965508941844)
    rng = np.random.default_rng(3)
    lp2 = np.log(rng.dirichlet(np.ones(4), (6, 2)))
    padded = L.ctc_loss(var(lp2), t64([[1, 2, 3], [2, 2, 0]]), [6, 5], [3, 2],
                        reduction="none")
    concat = L.ctc_loss(var(lp2), t64([1, 2, 3, 2, 2]), t64([6, 5]), t64([3, 2]),
                        reduction="none")
    np.testing.assert_allclose(padded.to_numpy(), concat.to_numpy(), rtol=1e-12)


def test_ctc_impossible_alignment_and_zero_infinity():
    lp = var(np.log(np.full((2, 1, 3), 1 / 3)))
    # Two equal labels need a blank between them: three frames, only two given.
    with np.errstate(invalid="ignore"):
        assert L.ctc_loss(lp, t64([[1, 1]]), [2], [2], reduction="sum").item() == math.inf
    out = L.ctc_loss(lp, t64([[1, 1]]), [2], [2], reduction="sum", zero_infinity=True)
    assert out.item() == 0.0
    out.backward()
    np.testing.assert_array_equal(lp.grad.to_numpy(), np.zeros((2, 1, 3)))


def _ctc_path_posteriors(lp, targets, il, tl, blank):
    """Brute force over every alignment path: per-sample NLL and the exact
    derivative d NLL / d log_probs[t, n, c] = -P(path_t = c | target) (nan where
    no path exists). ``targets`` padded (N, S)."""
    T, N, C = lp.shape
    nll, exact = np.zeros(N), np.zeros((T, N, C))
    for n in range(N):
        tgt = list(targets[n][:tl[n]])
        total, occ = 0.0, np.zeros((T, C))
        for path in itertools.product(range(C), repeat=int(il[n])):
            collapsed = [c for i, c in enumerate(path)
                         if c != blank and (i == 0 or c != path[i - 1])]
            if collapsed == tgt:
                p = math.exp(sum(lp[t, n, c] for t, c in enumerate(path)))
                total += p
                occ[np.arange(il[n]), list(path)] += p
        nll[n] = -math.log(total) if total > 0 else math.inf
        exact[:, n] = -occ / total if total > 0 else np.nan
    return nll, exact


def _torch_ctc_grad(lp, targets, il, tl, upstream, blank=0, zero_infinity=False):
    """PyTorch's gradient of log_probs: (exact derivative + exp(log_probs)) times
    each sample's upstream gradient for t < input_length, 0 after, and 0 for a
    sample whose infinite loss zero_infinity zeroes."""
    nll, exact = _ctc_path_posteriors(lp, targets, il, tl, blank)
    g = (exact + np.exp(lp)) * upstream[None, :, None]
    g[np.arange(lp.shape[0])[:, None] >= np.asarray(il)[None, :]] = 0.0
    if zero_infinity:
        g[:, np.isinf(nll)] = 0.0
    return g


# (T, N, C), padded targets, input_lengths, target_lengths, options.
CTC_GRAD_CASES = {
    "short-inputs": ((5, 3, 3), [[1, 2], [2, 2], [1, 0]], [5, 4, 2], [2, 2, 1], {}),
    "empty-target": ((4, 2, 4), [[3, 1], [0, 0]], [4, 3], [2, 0], {}),
    "blank-last": ((5, 2, 3), [[0, 1], [1, 1]], [5, 5], [2, 2], dict(blank=2)),
    # Sample 0 needs 5 frames for 'a a a' but has 4: inf, zeroed with its gradient.
    "zero-infinity": ((5, 2, 3), [[1, 1, 1], [2, 1, 0]], [4, 5], [3, 2],
                      dict(zero_infinity=True)),
}


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("case", sorted(CTC_GRAD_CASES))
def test_ctc_log_probs_gradient_is_torchs_convention(case, reduction):
    """The gradient of a log_probs leaf is PyTorch's (the gradient w.r.t. logits
    under a log_softmax), checked against a path-enumerating NumPy computation."""
    shape, targets, il, tl, kw = CTC_GRAD_CASES[case]
    rng = np.random.default_rng(zlib.crc32(f"{case}{reduction}".encode()))
    lp = np.log(rng.dirichlet(np.ones(shape[2]), shape[:2]))
    targets = np.asarray(targets, dtype=np.int64)
    N = shape[1]
    x = var(lp)
    out = L.ctc_loss(x, t64(targets), il, tl, reduction=reduction, **kw)
    seed = rng.standard_normal(out.shape)
    out.backward(fl.tensor(seed))
    if reduction == "none":
        upstream = seed
    elif reduction == "sum":
        upstream = np.full(N, float(seed))
    else:
        upstream = float(seed) / (N * np.maximum(np.asarray(tl), 1))
    expected = _torch_ctc_grad(lp, targets, il, tl, upstream, **kw)
    np.testing.assert_allclose(x.grad.to_numpy(), expected, rtol=1e-10, atol=1e-13)


def test_ctc_log_probs_gradient_variants():
    """Concatenated targets, int32 tensor lengths, unbatched and float32 inputs
    get the same convention."""
    rng = np.random.default_rng(11)
    lp = np.log(rng.dirichlet(np.ones(4), (5, 2)))
    targets, il, tl = np.array([[1, 3], [2, 0]]), [5, 4], [2, 1]
    expected = _torch_ctc_grad(lp, targets, il, tl, np.ones(2))
    x = var(lp)
    L.ctc_loss(x, t64([1, 3, 2]), fl.tensor(np.array(il, np.int32)),
               fl.tensor(np.array(tl, np.int32)), reduction="sum").backward()
    np.testing.assert_allclose(x.grad.to_numpy(), expected, rtol=1e-10, atol=1e-13)
    x = var(lp[:, 0])
    L.ctc_loss(x, t64([1, 3]), 5, 2, reduction="sum").backward()
    np.testing.assert_allclose(x.grad.to_numpy(), expected[:, 0], rtol=1e-10, atol=1e-13)
    x = var(lp, dtype=np.float32)
    L.ctc_loss(x, t64(targets), il, tl, reduction="sum").backward()
    np.testing.assert_allclose(x.grad.to_numpy(), expected, rtol=1e-4, atol=1e-5)


def test_ctc_impossible_alignment_gradient_is_nan_within_the_input_length():
    """As in PyTorch: without zero_infinity an infinite loss has nan gradients on
    its frames t < input_length, 0 after; other samples are unaffected."""
    rng = np.random.default_rng(12)
    lp = np.log(rng.dirichlet(np.ones(3), (5, 2)))
    x = var(lp)
    with np.errstate(invalid="ignore"):
        L.ctc_loss(x, t64([[1, 1, 1], [2, 1, 0]]), [4, 5], [3, 2], reduction="none") \
            .backward(fl.tensor(np.array([0.5, 2.0])))
    g = x.grad.to_numpy()
    assert np.isnan(g[:4, 0]).all() and not np.any(g[4:, 0])
    expected = _torch_ctc_grad(lp, np.array([[1, 1, 1], [2, 1, 0]]), [4, 5], [3, 2],
                               np.array([0.5, 2.0]))
    np.testing.assert_allclose(g[:, 1], expected[:, 1], rtol=1e-10, atol=1e-13)


def test_ctc_logits_gradient_through_log_softmax_is_the_exact_derivative():
    """Through an explicit log_softmax the exp(log_probs) term cancels: the logits
    get J^T (exact derivative), J the log_softmax Jacobian."""
    rng = np.random.default_rng(13)
    z = rng.standard_normal((5, 2, 3))
    lp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    targets, il, tl = np.array([[1, 2], [2, 0]]), [5, 3], [2, 1]
    _, exact = _ctc_path_posteriors(lp, targets, il, tl, 0)
    exact[np.arange(5)[:, None] >= np.asarray(il)[None, :]] = 0.0
    expected = exact - np.exp(lp) * exact.sum(-1, keepdims=True)
    x = var(z)
    L.ctc_loss(x.log_softmax(-1), t64(targets), il, tl, reduction="sum").backward()
    np.testing.assert_allclose(x.grad.to_numpy(), expected, rtol=1e-10, atol=1e-13)


def test_ctc_gradient_ignores_frames_past_the_input_length():
    rng = np.random.default_rng(4)
    lp = var(np.log(rng.dirichlet(np.ones(3), (5, 2))))
    L.ctc_loss(lp, t64([[1], [2]]), [5, 3], [1, 1]).backward()
    g = lp.grad.to_numpy()
    assert not np.any(g[3:, 1]) and np.any(g[:3, 1]) and np.any(g[:, 0])


def test_ctc_has_no_double_backward():
    rng = np.random.default_rng(5)
    lp = var(np.log(rng.dirichlet(np.ones(3), (4, 1))))
    out = L.ctc_loss(lp, t64([[1, 2]]), [4], [2])
    with pytest.raises(fl.AutogradError, match="ctc_loss: double backward is not supported"):
        fl.grad([out], [lp], create_graph=True)


def test_ctc_float32_keeps_dtype():
    rng = np.random.default_rng(6)
    lp = var(np.log(rng.dirichlet(np.ones(4), (5, 2))), dtype=np.float32)
    out = L.ctc_loss(lp, t64([[1, 2], [3, 0]]), [5, 5], [2, 1])
    assert out.dtype == fl.DType.Float32
    out.backward()
    assert lp.grad.dtype == fl.DType.Float32
