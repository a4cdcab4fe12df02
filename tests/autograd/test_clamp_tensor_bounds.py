"""clamp / clamp_min / clamp_max with tensor bounds, against NumPy (no torch).

The registry checks broadcasting samples away from the kinks against finite
differences; here are the kinks themselves (ties, min == max, min > max, NaN),
written out by hand from PyTorch's backward rules (clamp_backward and
clamp_backward_min_max): x gets the upstream gradient where min <= x <= max,
min where x < min and min < max, max where x > max or max < min.
"""
import math

import numpy as np
import pytest

import flodl_core as fl
from flodl_core import DType, Variable
from flodl_core.autograd.ops.elementwise import Clamp, ClampTensor
from flodl_core.errors import DTypeError, ShapeError

NAN, INF = math.nan, math.inf


def arr(values, dtype=np.float64):
    return np.asarray(values, dtype=dtype)


def var(values, device=fl.Device.CPU):
    return Variable(fl.tensor(arr(values), device=device), requires_grad=True)


def host(t):
    return np.asarray(t.to_numpy())


def grads_of(y, xs, gy=None):
    gy = fl.ones_like(y) if gy is None else gy
    return [None if g is None else host(g) for g in fl.grad([y], xs, [gy], allow_unused=True)]


def np_clamp(x, lo=None, hi=None):
    """The forward: max first, then min (NaN propagates through both)."""
    if lo is not None:
        x = np.maximum(x, lo)
    if hi is not None:
        x = np.minimum(x, hi)
    return x


def np_clamp_grads(x, lo, hi, gy):
    """PyTorch's gradient rules, summed back to each operand's shape."""
    shape = np.broadcast_shapes(*(np.shape(a) for a in (x, lo, hi, gy) if a is not None))
    X = np.broadcast_to(x, shape)
    L = None if lo is None else np.broadcast_to(lo, shape)
    H = None if hi is None else np.broadcast_to(hi, shape)
    G = np.broadcast_to(gy, shape)
    with np.errstate(invalid="ignore"):
        keep_x = np.ones(shape, bool)
        if L is not None:
            keep_x &= X >= L
        if H is not None:
            keep_x &= X <= H
        keep_lo = None if L is None else (X < L) & ((L < H) if H is not None else True)
        keep_hi = None if H is None else (X > H) | ((H < L) if L is not None else False)

    def reduce(keep, like):
        if keep is None:
            return None
        g = np.where(keep, G, 0.0)
        while g.ndim > np.ndim(like):
            g = g.sum(0)
        for ax, n in enumerate(np.shape(like)):
            if n == 1 and g.shape[ax] != 1:
                g = g.sum(ax, keepdims=True)
        return g

    return reduce(keep_x, x), reduce(keep_lo, lo), reduce(keep_hi, hi)


# ------------------------------------------------------ ties and edge values

# Columns: below, at min, inside, at max, above; min == max with x below, at,
# above; min > max with x below, between, above; NaN in x, min, max; +-inf x;
# infinite bounds.
X = [-2.0, -1.0, 0.0, 1.0, 2.0, -3.0, 0.5, 3.0, -2.0, 0.0, 2.0, NAN, 0.0, 0.0, -INF, INF, 0.0]
LO = [-1.0, -1.0, -1.0, -1.0, -1.0, 0.5, 0.5, 0.5, 1.0, 1.0, 1.0, -1.0, NAN, -1.0, -1.0, -1.0,
      -INF]
HI = [1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, -1.0, -1.0, -1.0, 1.0, 1.0, NAN, 1.0, 1.0, INF]

# Expected by hand, column by column.
Y = [-1.0, -1.0, 0.0, 1.0, 1.0, 0.5, 0.5, 0.5, -1.0, -1.0, -1.0, NAN, NAN, NAN, -1.0, 1.0, 0.0]
GX = [0, 1, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
GLO = [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0]
GHI = [0, 0, 0, 0, 1, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 0]


def test_both_bounds_ties_and_edges(device):
    x, lo, hi = var(X, device), var(LO, device), var(HI, device)
    y = x.clamp(lo, hi)
    assert isinstance(y._creator, ClampTensor)
    np.testing.assert_array_equal(host(y), arr(Y))
    gx, glo, ghi = grads_of(y, [x, lo, hi])
    np.testing.assert_array_equal(gx, arr(GX))
    np.testing.assert_array_equal(glo, arr(GLO))
    np.testing.assert_array_equal(ghi, arr(GHI))
    # ... and the reference agrees with the hand-written table.
    ref = np_clamp_grads(arr(X), arr(LO), arr(HI), np.ones(len(X)))
    for got, want in zip((gx, glo, ghi), ref):
        np.testing.assert_array_equal(got, want)


def test_min_only_and_max_only_ties():
    x, lo = var(X), var(LO)
    y = fl.clamp(x, min=lo)
    np.testing.assert_array_equal(host(y), np_clamp(arr(X), arr(LO)))
    gx, glo = grads_of(y, [x, lo])
    # At x == min the gradient goes to x (min gets it only where x < min).
    np.testing.assert_array_equal(gx, [0, 1, 1, 1, 1, 0, 1, 1, 0, 0, 1, 0, 0, 1, 0, 1, 1])
    np.testing.assert_array_equal(glo, [1, 0, 0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 0, 0, 1, 0, 0])

    x, hi = var(X), var(HI)
    for y in (x.clamp(max=hi), x.clamp(None, hi), x.clamp_max(hi)):
        np.testing.assert_array_equal(host(y), np_clamp(arr(X), None, arr(HI)))
        gx, ghi = grads_of(y, [x, hi])
        np.testing.assert_array_equal(gx, [1, 1, 1, 1, 0, 1, 1, 0, 1, 0, 0, 0, 1, 0, 1, 0, 1])
        np.testing.assert_array_equal(ghi, [0, 0, 0, 0, 1, 0, 0, 1, 0, 1, 1, 0, 0, 0, 0, 1, 0])

    x, lo = var(X), var(LO)
    y = x.clamp_min(lo)
    ref = np_clamp_grads(arr(X), arr(LO), None, np.ones(len(X)))
    for got, want in zip(grads_of(y, [x, lo]), ref):
        np.testing.assert_array_equal(got, want)


def test_min_greater_than_max_gives_max_and_its_gradient():
    x = var([[-5.0, 0.0, 5.0], [0.25, -0.25, 1.5]])
    lo, hi = var([1.0, 2.0, 0.5]), var([[0.0], [-1.0]])
    y = x.clamp(lo, hi)
    np.testing.assert_array_equal(host(y), [[0.0, 0.0, 0.0], [-1.0, -1.0, -1.0]])
    gx, glo, ghi = grads_of(y, [x, lo, hi])
    np.testing.assert_array_equal(gx, np.zeros((2, 3)))
    np.testing.assert_array_equal(glo, np.zeros(3))
    np.testing.assert_array_equal(ghi, [[3.0], [3.0]])


def test_infinite_upstream_gives_zero_not_nan_where_blocked():
    x, lo, hi = var([-2.0, 0.0, 2.0]), var([-1.0, -1.0, -1.0]), var([1.0, 1.0, 1.0])
    y = x.clamp(lo, hi)
    gx, glo, ghi = grads_of(y, [x, lo, hi], fl.tensor(arr([INF, INF, -INF])))
    np.testing.assert_array_equal(gx, [0.0, INF, 0.0])
    np.testing.assert_array_equal(glo, [INF, 0.0, 0.0])
    np.testing.assert_array_equal(ghi, [0.0, 0.0, -INF])


# ------------------------------------------------------------- broadcasting

SHAPES = [((2, 3), (3,), (2, 1)), ((3,), (2, 3), ()), ((), (2, 3), None), ((2, 1, 3), None, (4, 1)),
          ((4,), (1,), (4,)), ((2, 3), (), ())]


@pytest.mark.parametrize("sx, slo, shi", SHAPES)
def test_broadcast_values_and_gradients_against_numpy(sx, slo, shi, device):
    rng = np.random.default_rng(7)
    # Quarter steps make ties (x == min, x == max, min == max) frequent.
    draw = lambda s: None if s is None else rng.integers(-4, 5, size=s) * 0.25  # noqa: E731
    xa, loa, hia = draw(sx), draw(slo), draw(shi)
    x = var(xa, device)
    lo = None if loa is None else var(loa, device)
    hi = None if hia is None else var(hia, device)
    y = x.clamp(lo, hi)
    want = np_clamp(xa, loa, hia)
    assert y.shape == want.shape
    np.testing.assert_array_equal(host(y), want)
    gy = rng.standard_normal(want.shape)
    leaves = [v for v in (x, lo, hi) if v is not None]
    got = grads_of(y, leaves, fl.tensor(gy, device=device))
    ref = [g for g in np_clamp_grads(xa, loa, hia, gy) if g is not None]
    for g, r, v in zip(got, ref, leaves):
        assert g.shape == v.shape
        np.testing.assert_allclose(g, r, rtol=1e-12, atol=1e-12)


def test_constant_bounds_and_constant_input():
    xa, loa = arr([[-1.0, 0.5], [2.0, 0.0]]), arr([0.0, 1.0])
    # Tensor x, Variable bound: the result is a Variable, only the bound gets a gradient.
    lo = var(loa)
    y = fl.tensor(xa).clamp(lo)
    assert isinstance(y, Variable)
    (glo,) = grads_of(y, [lo])
    np.testing.assert_array_equal(glo, [1.0, 2.0])
    # Variable x, Tensor bound.
    x = var(xa)
    y = x.clamp(fl.tensor(loa))
    (gx,) = grads_of(y, [x])
    np.testing.assert_array_equal(gx, [[0.0, 0.0], [1.0, 0.0]])
    # All Tensors: a Tensor; a NumPy array bound is taken as a constant tensor.
    y = fl.tensor(xa).clamp(loa, arr(0.75))
    assert not isinstance(y, Variable)
    np.testing.assert_array_equal(host(y), np_clamp(xa, loa, 0.75))


def test_double_backward_through_upstream():
    # below min, inside, above max, min > max
    x, lo, hi = var([-2.0, 0.5, 2.0, 0.0]), var([-1.0, 0.0, 0.0, 1.0]), var([1.0, 1.0, 1.0, -1.0])
    gy = Variable(fl.tensor(arr([1.0, 2.0, 3.0, 4.0])), requires_grad=True)
    y = x.clamp(lo, hi)
    gx, glo, ghi = fl.grad([y], [x, lo, hi], [gy], create_graph=True)
    np.testing.assert_array_equal(host(gx), [0.0, 2.0, 0.0, 0.0])
    np.testing.assert_array_equal(host(glo), [1.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(host(ghi), [0.0, 0.0, 3.0, 4.0])
    (ggy,) = fl.grad([(gx * 1.0 + glo * 10.0 + ghi * 100.0).sum()], [gy])
    np.testing.assert_array_equal(host(ggy), [10.0, 1.0, 100.0, 100.0])


# ---------------------------------------------------------------------- dtypes

@pytest.mark.parametrize("xd, bd, zero_d, want", [
    (np.float32, np.float64, False, DType.Float64),   # a bound with dims promotes
    (np.float32, np.float64, True, DType.Float32),    # a 0-d one does not ...
    (np.int32, np.float64, True, DType.Float64),      # ... unless of a higher category
    (np.int32, np.int64, True, DType.Int32),
    (np.int32, np.int64, False, DType.Int64),
    (np.float32, np.int64, False, DType.Float32),
    (np.float16, np.float32, True, DType.Float16),
    (np.float16, np.float32, False, DType.Float32),
    (np.bool_, np.bool_, False, DType.Bool),
    (np.bool_, np.int64, True, DType.Int64),
])
def test_result_dtype(xd, bd, zero_d, want):
    x = np.array([0, 1, 3, 5]).astype(xd)
    b = (np.array(2) if zero_d else np.array([1, 2, 2, 4])).astype(bd)
    for y in (fl.tensor(x).clamp(fl.tensor(b)), fl.tensor(x).clamp(None, fl.tensor(b)),
              fl.tensor(x).clamp_min(fl.tensor(b)), fl.tensor(x).clamp(fl.tensor(b), fl.tensor(b))):
        assert y.dtype == want
    got = host(fl.tensor(x).clamp(fl.tensor(b), fl.tensor(x)).to_dtype(DType.Float64))
    np.testing.assert_array_equal(got, np_clamp(x.astype(np.float64), b.astype(np.float64),
                                                x.astype(np.float64)))


def test_half_and_bfloat16_bounds():
    x = np.array([-1.0, 0.3, 2.0], dtype=np.float16)
    y = fl.tensor(x).clamp(fl.tensor(arr([0.0, 0.5, 1.0])).to_dtype(DType.Float16))
    assert y.dtype == DType.Float16
    np.testing.assert_array_equal(host(y), np.array([0.0, 0.5, 2.0], dtype=np.float16))
    xb = fl.tensor(arr([-1.0, 0.25, 2.0])).to_dtype(DType.BFloat16)
    y = xb.clamp(fl.tensor(arr(0.0)).to_dtype(DType.BFloat16), fl.tensor(arr([1.0, 1.0, 1.0])))
    assert y.dtype == DType.Float64          # the float64 bound with dims wins
    np.testing.assert_array_equal(host(y), [0.0, 0.25, 1.0])
    # Float16 with BFloat16 gives Float32.
    y = fl.tensor(x).clamp(fl.tensor(arr([0.0, 0.0, 0.0])).to_dtype(DType.BFloat16))
    assert y.dtype == DType.Float32


def test_gradients_come_back_in_each_inputs_dtype():
    x = Variable(fl.tensor(np.array([-1.0, 0.5, 2.0], dtype=np.float32)), requires_grad=True)
    lo = var([0.0, 0.0, 0.0])
    y = x.clamp(lo, 1.0)
    assert y.dtype == DType.Float64
    gx, glo = fl.grad([y], [x, lo], [fl.ones_like(y)])
    assert gx.dtype == DType.Float32 and glo.dtype == DType.Float64
    np.testing.assert_array_equal(host(gx), [0.0, 1.0, 0.0])
    np.testing.assert_array_equal(host(glo), [1.0, 0.0, 0.0])


# ------------------------------------------- numbers next to tensor bounds

def test_number_and_tensor_bound_mixed():
    x, hi = var([-2.0, 0.0, 2.0]), var([1.0, -1.0, 3.0])
    y = x.clamp(-0.5, hi)
    np.testing.assert_array_equal(host(y), [-0.5, -1.0, 2.0])   # min > max in the middle
    gx, ghi = grads_of(y, [x, hi])
    np.testing.assert_array_equal(gx, [0.0, 0.0, 1.0])
    np.testing.assert_array_equal(ghi, [0.0, 1.0, 0.0])
    # An int tensor with a float number: Float32 (a Python float counts as Float32).
    y = fl.tensor(np.array([0, 5], dtype=np.int32)).clamp(0.5, fl.tensor(np.array([3, 3])))
    assert y.dtype == DType.Float32
    np.testing.assert_array_equal(host(y), [0.5, 3.0])


def test_number_bounds_keep_the_scalar_path():
    x = var([-2.0, 0.0, 2.0])
    for y in (x.clamp(-1.0, 1.0), x.clamp(min=0), x.clamp_min(0.5), x.clamp_max(1),
              x.clamp(np.float64(0.5)), fl.clamp(x, None, 1.0)):
        assert type(y._creator) is Clamp


# ---------------------------------------------------------------------- errors

def test_errors_name_clamp_the_shapes_and_what_was_expected():
    x = fl.tensor(np.zeros((2, 3)))
    with pytest.raises(ShapeError, match=r"clamp: min of shape \(4,\) cannot broadcast with "
                                         r"the input of shape \(2, 3\); expected"):
        x.clamp(fl.tensor(np.zeros(4)))
    with pytest.raises(ShapeError, match=r"clamp: min of shape \(3,\) and max of shape "
                                         r"\(2, 2\) cannot broadcast"):
        x.clamp(fl.tensor(np.zeros(3)), fl.tensor(np.zeros((2, 2))))
    with pytest.raises(ShapeError, match=r"clamp_max: max of shape \(5,\)"):
        x.clamp_max(fl.tensor(np.zeros(5)))
    with pytest.raises(ShapeError, match=r"clamp_min: min of shape \(2,\)"):
        x.clamp_min(np.zeros(2))
    with pytest.raises(DTypeError, match="clamp: min must be a number, a tensor or None, "
                                         "got str"):
        x.clamp("0")
    with pytest.raises(DTypeError, match="clamp: max must be a number, a tensor or None, "
                                         "got list"):
        x.clamp(None, [1.0])
    with pytest.raises(DTypeError, match="clamp_min: min must be an int or float, got bool"):
        x.clamp_min(True)
    with pytest.raises(ValueError, match="clamp: at least one of min and max"):
        x.clamp(None, None)
    with pytest.raises(ValueError, match="clamp_max: max must be a number or a tensor"):
        x.clamp_max(None)
    xi = fl.tensor(np.array([1, 2], dtype=np.int32))
    with pytest.raises(DTypeError, match=r"clamp: max=4294967296 out of range for .*Int32"):
        xi.clamp(fl.tensor(np.array(0, dtype=np.int32)), 2 ** 32)
