"""masked_select: values, broadcasting both ways, gradients (first and second
order), dtypes and error messages. Expected values are written out by hand."""
from __future__ import annotations

import numpy as np
import pytest

import flodl_core as fl
from flodl_core.errors import DTypeError, ShapeError

M23 = np.array([[True, False, True], [False, True, True]])


def _var(a):
    return fl.Variable(fl.tensor(np.array(a, dtype=np.float64)), requires_grad=True)


def _np(t):
    return np.asarray(t.to_numpy())


def test_same_shape_row_major():
    x = fl.tensor(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))
    y = x.masked_select(fl.tensor(M23))
    assert y.shape == (4,)
    np.testing.assert_array_equal(_np(y), [1.0, 3.0, 5.0, 6.0])
    np.testing.assert_array_equal(_np(fl.masked_select(x, fl.tensor(M23))), _np(y))


def test_broadcast_mask():
    x = _var([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    y = x.masked_select(fl.tensor(np.array([False, True, True])))
    np.testing.assert_array_equal(_np(y), [2.0, 3.0, 5.0, 6.0])
    (y * fl.tensor(np.array([1.0, 2.0, 3.0, 4.0]))).sum().backward()
    np.testing.assert_array_equal(_np(x.grad), [[0.0, 1.0, 2.0], [0.0, 3.0, 4.0]])


def test_broadcast_input_sums_gradient_back():
    x = _var([10.0, 20.0, 30.0])
    y = x.masked_select(fl.tensor(M23))
    np.testing.assert_array_equal(_np(y), [10.0, 30.0, 20.0, 30.0])
    (y * fl.tensor(np.array([1.0, 2.0, 3.0, 4.0]))).sum().backward()
    # position 0 picked once (weight 1), 1 once (3), 2 twice (2 + 4)
    np.testing.assert_array_equal(_np(x.grad), [1.0, 3.0, 6.0])
    assert x.grad.shape == (3,)


def test_both_broadcast():
    x = _var([[1.0], [2.0]])
    y = x.masked_select(fl.tensor(np.array([True, False, True])))
    np.testing.assert_array_equal(_np(y), [1.0, 1.0, 2.0, 2.0])
    y.sum().backward()
    np.testing.assert_array_equal(_np(x.grad), [[2.0], [2.0]])


def test_all_false_gives_empty_and_zero_gradient():
    x = _var([[1.0, 2.0], [3.0, 4.0]])
    y = x.masked_select(fl.tensor(np.zeros((2, 2), dtype=bool)))
    assert y.shape == (0,) and y.dtype == fl.DType.Float64
    y.sum().backward()
    np.testing.assert_array_equal(_np(x.grad), np.zeros((2, 2)))


def test_zero_dim():
    x = fl.tensor(np.array(3.5))
    np.testing.assert_array_equal(_np(x.masked_select(fl.tensor(np.array(True)))), [3.5])
    assert x.masked_select(fl.tensor(np.array(False))).shape == (0,)


def test_non_contiguous_input():
    base = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    x = fl.tensor(base.T)                     # [[1, 4], [2, 5], [3, 6]], a view
    m = np.array([[True, False], [False, True], [True, True]])
    np.testing.assert_array_equal(_np(x.masked_select(fl.tensor(m))), [1.0, 5.0, 3.0, 6.0])


def test_keeps_dtype():
    ints = fl.tensor(np.array([5, 6, 7], dtype=np.int32))
    y = ints.masked_select(fl.tensor(np.array([True, False, True])))
    assert y.dtype == fl.DType.Int32
    np.testing.assert_array_equal(_np(y), [5, 7])
    f32 = fl.tensor(np.array([1.5, 2.5], dtype=np.float32))
    assert f32.masked_select(fl.tensor(np.array([False, True]))).dtype == fl.DType.Float32


def test_double_backward():
    x = _var([1.0, 2.0, 3.0])
    y = x.masked_select(fl.tensor(np.array([True, False, True])))     # [1, 3]
    (g,) = fl.grad([(y * y * y).sum()], [x], create_graph=True)
    np.testing.assert_array_equal(_np(g), [3.0, 0.0, 27.0])          # 3 x**2 where picked
    (gg,) = fl.grad([g.sum()], [x])
    np.testing.assert_array_equal(_np(gg), [6.0, 0.0, 18.0])         # 6 x where picked


def test_gradcheck_broadcast():
    x = _var(np.linspace(-1.0, 1.0, 3))
    mask = fl.tensor(M23)
    assert fl.gradcheck(lambda v: v.masked_select(mask), [x])
    assert fl.gradgradcheck(lambda v: v.masked_select(mask), [x])


def test_non_bool_mask_raises():
    x = fl.tensor(np.ones((2, 3)))
    with pytest.raises(DTypeError, match="masked_select: mask must be a Bool tensor"):
        x.masked_select(fl.tensor(np.ones((2, 3))))
    with pytest.raises(DTypeError, match="masked_select"):
        x.masked_select(fl.tensor(np.ones((2, 3), dtype=np.int64)))


def test_non_broadcastable_raises_naming_both_shapes():
    x = fl.tensor(np.ones((2, 3)))
    with pytest.raises(ShapeError, match=r"masked_select:.*\(2, 3\).*\(4,\)"):
        x.masked_select(fl.tensor(np.ones(4, dtype=bool)))
    with pytest.raises(ShapeError, match=r"masked_select:.*\(2, 3\).*\(3, 3\)"):
        x.masked_select(fl.tensor(np.ones((3, 3), dtype=bool)))
