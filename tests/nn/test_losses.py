"""Loss behaviour the op registry cannot express: validation messages, edge
values (ignored targets, saturated probabilities, impossible CTC alignments),
dtype/type preservation and values pinned from PyTorch 2.13."""
from __future__ import annotations

import math

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
