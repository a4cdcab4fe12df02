"""The non-differentiable tensor utilities: any / all (with dims), nonzero,
count_nonzero, unique, bincount and logspace.

Expected values are written out by hand (PyTorch's semantics); no torch needed.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import flodl_core as fl

D = fl.DType
NAN = math.nan


def T(data, dtype=None):
    return fl.tensor(data, dtype=dtype)


def same(t, values, dtype, shape=None):
    """``t`` is a Tensor of ``dtype`` holding ``values`` (and ``shape`` when given)."""
    assert isinstance(t, fl.Tensor), type(t)
    assert t.dtype is dtype, f"dtype {t.dtype} != {dtype}"
    if shape is not None:
        assert t.shape == shape, f"shape {t.shape} != {shape}"
    got = t.tolist()
    if isinstance(values, float) and math.isnan(values) or \
            isinstance(values, list) and any(isinstance(v, float) and math.isnan(v)
                                              for v in np.ravel(values)):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(values))
    else:
        assert got == values, f"{got} != {values}"


# ------------------------------------------------------------------ any / all


class TestAnyAll:
    def test_no_dim_is_a_0d_bool_tensor(self):
        x = T([[1.0, 0.0], [0.0, 0.0]])
        same(x.any(), True, D.Bool, ())
        same(x.all(), False, D.Bool, ())
        assert bool(x.any()) is True and bool(x.all()) is False
        assert x.any() and not x.all()   # truth value of the 0-d result
        same(x.any(keepdim=True), [[True]], D.Bool, (1, 1))

    def test_dims(self):
        x = T([[1, 0, 2], [0, 0, 3]])
        same(x.any(0), [True, False, True], D.Bool)
        same(x.all(0), [False, False, True], D.Bool)
        same(x.any(1), [True, True], D.Bool)
        same(x.all(-1), [False, False], D.Bool)
        same(x.any(1, keepdim=True), [[True], [True]], D.Bool, (2, 1))
        same(x.all(dim=(0, 1)), False, D.Bool, ())
        same(x.any(dim=(1, 0), keepdim=True), [[True]], D.Bool, (1, 1))
        same(x.all(dim=()), [[True, False, True], [False, False, True]], D.Bool)

    def test_nan_is_true_and_negative_zero_false(self):
        same(T([NAN, -0.0]).any(0), True, D.Bool)
        same(T([NAN, -0.0]).all(0), False, D.Bool)

    def test_empty_0d_uint8_bfloat16(self):
        same(fl.zeros(0).any(), False, D.Bool)
        same(fl.zeros(0).all(), True, D.Bool)
        same(fl.zeros(2, 0).all(1), [True, True], D.Bool)
        same(fl.zeros(2, 0).any(1), [False, False], D.Bool)
        same(T(3.0).any(0), True, D.Bool, ())
        same(T(0.0).all(-1, keepdim=True), False, D.Bool, ())
        same(T([3, 0], D.UInt8).any(), 1, D.UInt8)
        same(T([3, 0], D.UInt8).all(0), 0, D.UInt8)
        same(T([0.5, 0.0], D.BFloat16).any(), True, D.Bool)

    def test_variables_get_tensors(self):
        v = fl.Variable(T([1.0, 0.0]), requires_grad=True)
        assert type(v.any()) is fl.Tensor and type(v.all(0)) is fl.Tensor

    def test_bad_dims(self):
        with pytest.raises(fl.FlodlIndexError, match="any"):
            T([1, 2]).any(1)
        with pytest.raises(fl.ShapeError, match="all"):
            T([[1, 2]]).all((0, 0))
        with pytest.raises(TypeError, match="any"):
            T([1, 2]).any(0.5)


# --------------------------------------------------------- nonzero / count


class TestNonzero:
    def test_row_major_indices(self):
        x = T([[0, 2, 0], [3, 0, 4]])
        same(x.nonzero(), [[0, 1], [1, 0], [1, 2]], D.Int64, (3, 2))
        rows, cols = x.nonzero(as_tuple=True)
        same(rows, [0, 1, 1], D.Int64)
        same(cols, [1, 0, 2], D.Int64)
        same(fl.nonzero(T([0.0, NAN, -0.0, 1.0])), [[1], [3]], D.Int64)

    def test_edge_cases(self):
        same(fl.zeros(2, 3).nonzero(), [], D.Int64, (0, 2))
        same(fl.zeros(0, 3).nonzero(), [], D.Int64, (0, 2))
        same(T(5).nonzero(), [[]], D.Int64, (1, 0))
        same(T(0).nonzero(), [], D.Int64, (0, 0))
        (i,) = T(5).nonzero(as_tuple=True)
        same(i, [0], D.Int64)
        (i,) = T(0).nonzero(as_tuple=True)
        same(i, [], D.Int64)
        assert fl.zeros(0, 3).nonzero(as_tuple=True)[1].shape == (0,)

    def test_count_nonzero(self):
        x = T([[1.0, 0.0, 2.0], [0.0, 0.0, NAN]])
        same(x.count_nonzero(), 3, D.Int64, ())
        same(fl.count_nonzero(x, dim=0), [1, 0, 2], D.Int64)
        same(x.count_nonzero(-1), [2, 1], D.Int64)
        same(x.count_nonzero((0, 1)), 3, D.Int64)
        same(x.count_nonzero(()), 3, D.Int64)   # () counts everything, as in PyTorch
        same(T([True, False, True]).count_nonzero(), 2, D.Int64)
        same(fl.zeros(0, 2).count_nonzero(0), [0, 0], D.Int64)
        same(T(7, D.Int32).count_nonzero(), 1, D.Int64)


# ------------------------------------------------------------------ unique


class TestUnique:
    def test_sorted_values_inverse_counts(self):
        x = T([[5, 3], [5, 1], [9, 3]])
        same(x.unique(), [1, 3, 5, 9], D.Int64)
        vals, inv, cnt = fl.unique(x, return_inverse=True, return_counts=True)
        same(vals, [1, 3, 5, 9], D.Int64)
        same(inv, [[2, 1], [2, 0], [3, 1]], D.Int64, (3, 2))
        same(cnt, [1, 2, 2, 1], D.Int64)
        vals, cnt = x.unique(return_counts=True)
        same(cnt, [1, 2, 2, 1], D.Int64)
        vals, inv = x.unique(sorted=False, return_inverse=True)
        same(vals, [1, 3, 5, 9], D.Int64)

    def test_nan_each_distinct_and_dtypes(self):
        vals, cnt = T([3.0, NAN, 1.0, NAN, 3.0]).unique(return_counts=True)
        same(vals, [1.0, 3.0, NAN, NAN], D.Float32)
        same(cnt, [1, 2, 1, 1], D.Int64)
        same(T([True, False, True]).unique(), [False, True], D.Bool)
        same(T([2.0, 2.0, 1.0], D.BFloat16).unique(), [1.0, 2.0], D.BFloat16)
        same(T([7, 7], D.UInt8).unique(return_counts=True)[1], [2], D.Int64)

    def test_empty_and_0d(self):
        vals, inv, cnt = fl.zeros(0).unique(return_inverse=True, return_counts=True)
        same(vals, [], D.Float32, (0,))
        same(inv, [], D.Int64, (0,))
        same(cnt, [], D.Int64, (0,))
        vals, inv, cnt = T(4).unique(return_inverse=True, return_counts=True)
        same(vals, [4], D.Int64, (1,))
        same(inv, 0, D.Int64, ())
        same(cnt, [1], D.Int64)

    def test_dim_not_supported(self):
        with pytest.raises(NotImplementedError, match="unique"):
            T([[1, 2]]).unique(dim=0)


# ---------------------------------------------------------------- bincount


class TestBincount:
    def test_counts(self):
        same(T([0, 1, 1, 3]).bincount(), [1, 2, 0, 1], D.Int64)
        same(fl.bincount(T([0, 1, 1, 3]), minlength=6), [1, 2, 0, 1, 0, 0], D.Int64)
        same(T([2, 2], D.UInt8).bincount(minlength=1), [0, 0, 2], D.Int64)
        same(T([1, 0], D.Int32).bincount(), [1, 1], D.Int64)

    def test_weights_dtypes(self):
        x = T([0, 1, 1, 3])
        same(x.bincount(T([0.5, 1.0, 1.0, 2.0])), [0.5, 2.0, 0.0, 2.0], D.Float32)
        same(x.bincount(T([0.5, 1.0, 1.0, 2.0], D.Float64)), [0.5, 2.0, 0.0, 2.0], D.Float64)
        same(x.bincount(T([0.5, 1.0, 1.0, 2.0], D.Float16)), [0.5, 2.0, 0.0, 2.0], D.Float64)
        same(x.bincount(T([1, 2, 3, 4])), [1.0, 5.0, 0.0, 4.0], D.Float64)
        same(x.bincount(weights=T([1.0, 1.0, 1.0, 1.0]), minlength=5),
             [1.0, 2.0, 0.0, 1.0, 0.0], D.Float32)

    def test_empty_gives_int64_zeros(self):
        empty = fl.zeros(0, dtype=D.Int64)
        same(empty.bincount(), [], D.Int64, (0,))
        same(empty.bincount(minlength=3), [0, 0, 0], D.Int64)
        same(empty.bincount(fl.zeros(0), minlength=2), [0, 0], D.Int64)

    def test_bad_input(self):
        with pytest.raises(fl.DTypeError, match="bincount"):
            T([1.0, 2.0]).bincount()
        with pytest.raises(fl.DTypeError, match="bincount"):
            T([True, False]).bincount()
        with pytest.raises(fl.ShapeError, match="bincount.*non-negative"):
            T([1, -1]).bincount()
        with pytest.raises(fl.ShapeError, match="bincount"):
            T([[1, 2]]).bincount()
        with pytest.raises(fl.ShapeError, match="bincount"):
            T(1).bincount()
        with pytest.raises(fl.ShapeError, match="bincount.*weights"):
            T([0, 1]).bincount(T([1.0]))
        with pytest.raises(fl.ShapeError, match="bincount.*minlength"):
            T([0, 1]).bincount(minlength=-1)
        with pytest.raises(TypeError, match="bincount"):
            T([0, 1]).bincount(minlength=1.5)
        with pytest.raises(TypeError, match="bincount"):
            T([0, 1]).bincount([1.0, 2.0])
        with pytest.raises(TypeError, match="bincount"):
            fl.bincount([0, 1])


# ---------------------------------------------------------------- logspace


class TestLogspace:
    def test_values_and_default_dtype(self):
        same(fl.logspace(0, 3, 4), [1.0, 10.0, 100.0, 1000.0], D.Float32)
        same(fl.logspace(-1, 1, 3, base=2.0), [0.5, 1.0, 2.0], D.Float32)
        same(fl.logspace(2, 0, 3, dtype=D.Float64), [100.0, 10.0, 1.0], D.Float64)
        same(fl.logspace(1, 5, 1), [10.0], D.Float32)   # one step: base ** start
        same(fl.logspace(1, 5, 0), [], D.Float32, (0,))
        np.testing.assert_allclose(fl.logspace(0, 1, 3, dtype=D.Float64).tolist(),
                                   [1.0, math.sqrt(10.0), 10.0], rtol=1e-15)
        same(fl.Tensor.logspace(0, 2, 3), [1.0, 10.0, 100.0], D.Float32)

    def test_integer_dtypes_truncate(self):
        same(fl.logspace(0, 3, 4, dtype=D.Int64), [1, 10, 100, 1000], D.Int64)
        same(fl.logspace(-2, 2, 5, dtype=D.Int64), [0, 0, 1, 10, 100], D.Int64)
        same(fl.logspace(0, 2, 3, base=2.5, dtype=D.Int64), [1, 2, 6], D.Int64)
        same(fl.logspace(0.5, 2.5, 3, dtype=D.Int32), [1, 10, 100], D.Int32)
        same(fl.logspace(0, 3, 4, dtype=D.UInt8), [1, 10, 100, 232], D.UInt8)   # wraps

    def test_bad_arguments(self):
        with pytest.raises(ValueError, match="logspace"):
            fl.logspace(0, 1, -1)
        with pytest.raises(ValueError, match="logspace"):
            fl.logspace(0, 1, 2.0)
        with pytest.raises(TypeError, match="logspace"):
            fl.logspace("0", 1, 2)
