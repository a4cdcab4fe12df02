"""Reductions where finite differences cannot judge (ties, zeros, kinks) and the
PyTorch dtype/shape semantics the registry does not cover."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import flodl_core as fl
from flodl_core import DType


def _var(values, dtype=np.float64):
    return fl.Variable(fl.tensor(np.asarray(values, dtype=dtype)), requires_grad=True)


def _grad_of(fn, values):
    x = _var(values)
    (g,) = fl.grad(fn(x), x)
    return g.to_numpy()


# ------------------------------------------------------------------ ties


def test_max_splits_the_gradient_evenly_among_ties():
    np.testing.assert_allclose(_grad_of(lambda x: x.max(), [1.0, 3.0, 3.0]), [0, 0.5, 0.5])
    np.testing.assert_allclose(_grad_of(lambda x: x.max(), [[2.0, 2.0], [2.0, 1.0]]),
                               [[1 / 3, 1 / 3], [1 / 3, 0]])


def test_min_splits_the_gradient_evenly_among_ties():
    np.testing.assert_allclose(_grad_of(lambda x: x.min(), [-1.0, 4.0, -1.0]), [0.5, 0, 0.5])


def test_max_tie_gradient_scales_with_upstream_and_double_backward_is_zero():
    x = _var([5.0, 1.0, 5.0])
    y = x.max()
    (g,) = fl.grad(y.mul_scalar(4.0), x, create_graph=True)
    np.testing.assert_allclose(g.to_numpy(), [2.0, 0.0, 2.0])
    if g.requires_grad:   # piecewise linear: no second derivative
        (gg,) = fl.grad(g.sum(), x, allow_unused=True)
        assert gg is None or not np.any(gg.to_numpy())


def test_max_dim_gives_the_gradient_to_the_first_maximum():
    np.testing.assert_allclose(_grad_of(lambda x: x.max_dim(1).sum(),
                                        [[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]]),
                               [[0, 1, 0], [1, 0, 0]])
    np.testing.assert_allclose(_grad_of(lambda x: x.max_dim(0, keepdim=True).sum(),
                                        [[1.0, 3.0], [1.0, 3.0]]),
                               [[1, 1], [0, 0]])


def test_min_dim_gives_the_gradient_to_the_first_minimum():
    np.testing.assert_allclose(_grad_of(lambda x: x.min_dim(-1).sum(), [[4.0, 0.5, 0.5, 1.0]]),
                               [[0, 1, 0, 0]])


def test_max_dim_value_matches_argmax():
    x = fl.tensor(np.array([[1.0, 7.0, 7.0], [9.0, 9.0, 2.0]]))
    np.testing.assert_array_equal(x.max_dim(1).to_numpy(), [7.0, 9.0])
    assert x.argmax(1).tolist() == [1, 0]


def test_inf_norm_splits_among_largest_magnitudes():
    np.testing.assert_allclose(_grad_of(lambda x: x.norm(float("inf")), [2.0, -2.0, 1.0]),
                               [0.5, -0.5, 0.0])


# ----------------------------------------------------------------- zeros


@pytest.mark.parametrize("values", [[2.0, 0.0, 3.0], [0.0, 0.0, 4.0], [0.0]])
def test_prod_gradient_with_zeros_is_the_product_of_the_others(values):
    v = np.asarray(values)
    expected = [np.prod(np.delete(v, i)) for i in range(v.size)]
    np.testing.assert_allclose(_grad_of(lambda x: x.prod(), values), expected)


def test_prod_dim_gradient_with_zeros():
    v = np.array([[2.0, 0.0, 3.0], [1.0, 2.0, 3.0], [0.0, 0.0, 5.0]])
    g = _grad_of(lambda x: x.prod_dim(1).sum(), v)
    expected = [[np.prod(np.delete(row, i)) for i in range(3)] for row in v]
    np.testing.assert_allclose(g, expected)
    g0 = _grad_of(lambda x: x.prod_dim(0, keepdim=True).sum(), v)
    expected0 = [[np.prod(np.delete(v[:, j], i)) for j in range(3)] for i in range(3)]
    np.testing.assert_allclose(g0, expected0)


def test_prod_with_zeros_passes_gradcheck():
    x = _var([[2.0, 0.0, 3.0], [0.0, 0.0, 1.5]])
    assert fl.gradcheck(lambda v: v.prod(), [x])
    assert fl.gradcheck(lambda v: v.prod_dim(1), [x])
    assert fl.gradcheck(lambda v: v.prod_dim(0, keepdim=True), [x])


def test_prod_with_zeros_refuses_double_backward():
    x = _var([2.0, 0.0, 3.0])
    with pytest.raises(fl.AutogradError, match="prod"):
        fl.grad(x.prod(), x, create_graph=True)


def test_prod_double_backward_without_zeros():
    x = _var([2.0, -1.5, 3.0])
    assert fl.gradgradcheck(lambda v: v.prod(), [x])


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, 0.5, float("inf")])
def test_norm_gradient_at_zero_is_zero(p):
    g = _grad_of(lambda x: x.norm(p), [0.0, 0.0, 0.0])
    assert np.all(g == 0), g


def test_norm_double_backward_at_zero_is_finite():
    x = _var([0.0, 0.0])
    (g,) = fl.grad(x.norm(), x, create_graph=True)
    (gg,) = fl.grad(g.sum(), x, allow_unused=True)
    assert gg is None or np.all(np.isfinite(gg.to_numpy()))


def test_std_gradient_of_a_constant_input_is_zero():
    assert np.all(_grad_of(lambda x: x.std(), [1.5, 1.5, 1.5]) == 0)


def test_var_of_one_element_is_nan_like_pytorch():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.isnan(fl.tensor(np.array([3.0])).var().item())
        assert np.isnan(fl.tensor(np.array([[3.0, 1.0]])).std_dim(0).to_numpy()).all()
    assert fl.tensor(np.array([3.0])).var(correction=0).item() == 0.0


# --------------------------------------------------------- dtype semantics


def test_integer_sum_prod_cumsum_give_int64():
    i = fl.tensor(np.array([1, 2, 3], dtype=np.int32))
    assert i.sum().dtype == DType.Int64 and i.sum().item() == 6
    assert i.prod().dtype == DType.Int64 and i.prod().item() == 6
    assert i.cumsum(0).dtype == DType.Int64 and i.cumsum(0).tolist() == [1, 3, 6]
    assert i.sum_dim(0).dtype == DType.Int64
    b = fl.tensor(np.array([True, True, False]))
    assert b.sum().dtype == DType.Int64 and b.sum().item() == 2
    assert i.max().dtype == DType.Int32 and i.max().item() == 3


@pytest.mark.parametrize("op, args", [("mean", ()), ("mean_dim", (0,)), ("var", ()),
                                      ("std", ()), ("var_dim", (0,)), ("std_dim", (0,)),
                                      ("softmax", (0,)), ("log_softmax", (0,)), ("norm", ())])
def test_float_only_reductions_reject_integers(op, args):
    i = fl.tensor(np.array([1, 2, 3], dtype=np.int64))
    with pytest.raises(fl.DTypeError, match=op):
        getattr(i, op)(*args)


def test_logsumexp_promotes_integers_to_float32():
    y = fl.tensor(np.array([1, 2, 3], dtype=np.int64)).logsumexp(0)
    assert y.dtype == DType.Float32
    np.testing.assert_allclose(y.item(), np.log(np.exp([1, 2, 3]).sum()), rtol=1e-6)


@pytest.mark.parametrize("dtype", [DType.Float16, DType.BFloat16])
def test_half_reductions_keep_their_dtype_and_accumulate_in_float32(dtype):
    x = fl.ones(1000, dtype=dtype)
    assert x.sum().dtype == dtype and x.sum().item() == 1000.0   # bf16 sums saturate at 256
    assert x.mean().item() == 1.0
    assert x.softmax(0).dtype == dtype
    assert x.norm().dtype == dtype


# ----------------------------------------------------------- shapes, errors


def test_dim_errors_name_the_op():
    x = fl.zeros(2, 3)
    with pytest.raises(fl.FlodlIndexError, match=r"sum_dim: dim 3 out of range for a 2-d "
                                                 r"tensor \(expected -2..1\)"):
        x.sum_dim(3)
    with pytest.raises(fl.ShapeError, match="mean_dim: repeated dim"):
        x.mean_dim((1, -1))
    with pytest.raises(fl.FlodlIndexError, match="softmax"):
        x.softmax(2)


def test_empty_max_min_raise():
    with pytest.raises(fl.ShapeError, match="max"):
        fl.zeros(0).max()
    with pytest.raises(fl.ShapeError, match="min"):
        fl.zeros(0, 3).min()
    with pytest.raises(fl.ShapeError, match="max_dim"):
        fl.zeros(0, 3).max_dim(0)
    assert fl.zeros(0, 3).max_dim(1).shape == (0,)


def test_empty_and_all_dims_reductions():
    assert fl.zeros(0).sum().item() == 0.0
    assert fl.zeros(0).prod().item() == 1.0
    assert fl.ones(2, 3).sum_dim(()).item() == 6.0           # () reduces every dim
    assert fl.ones(2, 3).norm(keepdim=True).shape == (1, 1)
    assert fl.tensor(np.array([-np.inf, -np.inf])).logsumexp(0).item() == -np.inf


def test_softmax_is_stable_for_large_inputs():
    y = fl.tensor(np.array([1000.0, 1000.0, -1000.0])).softmax(0).to_numpy()
    np.testing.assert_allclose(y, [0.5, 0.5, 0.0])
    ly = fl.tensor(np.array([1000.0, 0.0])).log_softmax(0).to_numpy()
    np.testing.assert_allclose(ly, [0.0, -1000.0])
