"""Special math and activations: what the registry cannot express.

erf/erfc accuracy on a dense grid, edge values, dtype rules, argument
validation and error messages, and PyTorch's gradient tie rules at kinks
(expected values derived by hand from PyTorch's backward formulas).
"""
import math

import numpy as np
import pytest

import flodl_core as fl
from flodl_core import DType, Variable
from flodl_core.errors import DTypeError, ShapeError
from flodl_core.nn import functional as F


def t64(values):
    return fl.tensor(np.asarray(values, dtype=np.float64))


def var(values):
    return Variable(t64(values), requires_grad=True)


def grad_of(y, x, gy=None):
    gy = fl.ones_like(y) if gy is None else gy
    (g,) = fl.grad([y], [x], [gy])
    return g.to_numpy()


def same_bits(a, b):
    """Equal values, equal signs of zero, NaN where NaN."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    both_nan = np.isnan(a) & np.isnan(b)
    return bool(np.all(both_nan | ((a == b) & (np.signbit(a) == np.signbit(b)))))


# ------------------------------------------------------------------- erf


def _ulps(got, want):
    got, want = np.asarray(got), np.asarray(want)
    err = np.abs(got - want)
    tiny = want == 0
    return np.where(tiny, np.where(got == 0, 0.0, np.inf), err / np.spacing(np.abs(want)))


@pytest.fixture(scope="module")
def erf_grid():
    x = np.concatenate([np.linspace(-30.0, 30.0, 120001),
                        np.geomspace(1e-300, 30.0, 20001), -np.geomspace(1e-300, 30.0, 20001),
                        # the fdlibm range boundaries and their neighbours
                        [b * s for b in (0.25, 0.84375, 1.25, 1 / 0.35, 6.0, 28.0)
                         for s in (1.0, -1.0, 1 + 2e-16, 1 - 2e-16)]])
    return x


def test_erf_float64_matches_math_erf_on_a_dense_grid(erf_grid):
    x = erf_grid
    got = t64(x).erf().to_numpy()
    want = np.array([math.erf(v) for v in x])
    assert np.max(_ulps(got, want)) <= 2.0
    assert np.max(np.abs(got - want) / np.maximum(np.abs(want), 1e-300)) < 1e-15


def test_erfc_float64_matches_math_erfc_on_a_dense_grid(erf_grid):
    x = erf_grid
    got = t64(x).erfc().to_numpy()
    want = np.array([math.erfc(v) for v in x])
    normal = want >= np.finfo(np.float64).tiny   # erfc(x > 26.5) is subnormal there
    rel = np.abs(got[normal] - want[normal]) / want[normal]
    assert np.max(rel) < 1e-15     # ~4 ulps; math.erfc itself is off by 2 ulps in places
    assert np.max(np.abs(got[~normal] - want[~normal])) <= 2 ** -1070


def test_erf_special_values():
    x = t64([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-310, -40.0])
    assert same_bits(x.erf().to_numpy(), [0.0, -0.0, 1.0, -1.0, np.nan, math.erf(1e-310), -1.0])
    assert same_bits(x.erfc().to_numpy(), [1.0, 1.0, 0.0, 2.0, np.nan, 1.0, 2.0])


def test_erf_dtypes():
    # Float32 results are the float64 values rounded once; ints and bools promote.
    x = np.linspace(-4, 4, 1001).astype(np.float32)
    got = fl.tensor(x).erf()
    assert got.dtype == DType.Float32
    want = np.array([math.erf(float(v)) for v in x]).astype(np.float32)
    assert np.max(np.abs(got.to_numpy() - want)) <= np.spacing(np.float32(1.0))
    assert fl.tensor([1, -2, 0]).erf().dtype == DType.Float32
    assert fl.tensor([True, False]).erfc().dtype == DType.Float32
    assert fl.tensor([0.5, -1.5]).half().erf().dtype == DType.Float16
    assert fl.tensor([0.5, -1.5]).bfloat16().erfc().dtype == DType.BFloat16


def test_erf_gradients():
    x = var([-1.0, 0.0, 0.5])
    expected = 2 / math.sqrt(math.pi) * np.exp(-np.array([1.0, 0.0, 0.25]))
    np.testing.assert_allclose(grad_of(x.erf(), x), expected, rtol=1e-15)
    np.testing.assert_allclose(grad_of(x.erfc(), x), -expected, rtol=1e-15)


def test_top_level_functions():
    x = t64([0.5])
    for name in ("tan", "asin", "acos", "atan", "erf", "erfc", "trunc", "frac"):
        assert getattr(fl, name)(x).tolist() == getattr(x, name)().tolist()
    assert fl.atan2(x, t64([-1.0])).tolist() == [math.atan2(0.5, -1.0)]
    assert fl.fmod(x, 0.3).tolist() == [math.fmod(0.5, 0.3)]


# ------------------------------------------------------------- trig, atan2


def test_atan2_quadrants_and_signed_zero():
    y = t64([1.0, 1.0, -1.0, -1.0, 0.0, -0.0, 0.0])
    x = t64([1.0, -1.0, -1.0, 1.0, -1.0, -1.0, 0.0])
    want = [math.atan2(a, b) for a, b in zip(y.tolist(), x.tolist())]
    assert same_bits(y.atan2(x).to_numpy(), want)


def test_atan2_dtypes_and_other_must_be_a_tensor():
    assert fl.tensor([1, 2]).atan2(fl.tensor([3, 4])).dtype == DType.Float32
    assert fl.tensor([1.0]).half().atan2(fl.tensor([2.0])).dtype == DType.Float32
    with pytest.raises(DTypeError, match="atan2: other must be a tensor"):
        fl.tensor([1.0]).atan2(2.0)


def test_atan2_gradients():
    y, x = var([1.0, -2.0]), var([3.0, 0.5])
    gy, gx = fl.grad([y.atan2(x)], [y, x], [fl.ones_like(y)])
    r2 = np.array([10.0, 4.25])
    np.testing.assert_allclose(gy.to_numpy(), np.array([3.0, 0.5]) / r2, rtol=1e-15)
    np.testing.assert_allclose(gx.to_numpy(), -np.array([1.0, -2.0]) / r2, rtol=1e-15)


def test_inverse_trig_outside_domain_is_nan():
    with np.errstate(invalid="ignore"):
        assert np.isnan(t64([1.5]).asin().to_numpy()).all()
        assert np.isnan(t64([-1.5]).acos().to_numpy()).all()


# ---------------------------------------------------------- trunc, frac


def test_trunc_and_frac_values():
    x = t64([-2.5, 2.5, -0.0, 3.0, -0.75])
    assert same_bits(x.trunc().to_numpy(), [-2.0, 2.0, -0.0, 3.0, -0.0])
    assert same_bits(x.frac().to_numpy(), [-0.5, 0.5, 0.0, 0.0, -0.75])


def test_trunc_and_frac_dtypes():
    i = fl.tensor([3, -4])
    assert i.trunc().dtype == DType.Int64 and i.trunc().tolist() == [3, -4]
    with pytest.raises(DTypeError, match="trunc: not supported for Bool"):
        fl.tensor([True]).trunc()
    with pytest.raises(DTypeError, match="frac: expected a floating-point tensor, got DType.Int64"):
        i.frac()
    assert fl.tensor([1.25]).half().frac().dtype == DType.Float16


def test_trunc_and_frac_gradients():
    x = var([-2.5, 0.3, 1.7])
    assert grad_of(x.trunc(), x).tolist() == [0.0, 0.0, 0.0]
    assert grad_of(x.frac(), x).tolist() == [1.0, 1.0, 1.0]


# ------------------------------------------------------- fmod, remainder


def test_fmod_and_remainder_signs():
    a = [5.5, -5.5, 5.5, -5.5, -4.0, 4.0, 0.0, -0.0]
    b = [2.0, 2.0, -2.0, -2.0, 2.0, -2.0, 2.0, -2.0]
    fm = t64(a).fmod(t64(b)).to_numpy()
    rem = t64(a).remainder(t64(b)).to_numpy()
    assert same_bits(fm, [math.fmod(x, y) for x, y in zip(a, b)])
    # PyTorch's remainder: fmod, plus the divisor when the signs differ; an exact
    # multiple keeps fmod's signed zero (-4 % 2 is -0.0, where Python gives 0.0).
    assert same_bits(rem, [1.5, 0.5, -0.5, -1.5, -0.0, 0.0, 0.0, -0.0])
    assert same_bits(t64(a).remainder(2.0).to_numpy()[:2], [1.5, 0.5])
    assert same_bits(t64([-3.0, 3.0]).remainder(np.inf).to_numpy(), [np.inf, 3.0])


def test_fmod_remainder_integers():
    i = fl.tensor([5, -7, 3])
    assert i.fmod(2).tolist() == [1, -1, 1] and i.fmod(2).dtype == DType.Int64
    assert i.remainder(-3).tolist() == [-1, -1, 0]
    assert i.remainder(fl.tensor([3, 3, 3])).tolist() == [2, 2, 0]
    assert i.fmod(2.5).dtype == DType.Float32 and i.fmod(2.5).tolist() == [0.0, -2.0, 0.5]
    assert fl.tensor([True, False]).fmod(1).dtype == DType.Int64
    with pytest.raises(DTypeError, match="not supported for two Bool"):
        fl.tensor([True]).fmod(fl.tensor([True]))


def test_integer_division_by_zero_raises_float_gives_nan():
    i = fl.tensor([5, -7])
    for fn in (lambda: i.fmod(0), lambda: i.remainder(0), lambda: i.fmod(fl.tensor([1, 0]))):
        with pytest.raises(ZeroDivisionError, match="integer division by zero"):
            fn()
    with np.errstate(invalid="ignore"):
        assert np.isnan(t64([1.0, -2.0]).fmod(0.0).to_numpy()).all()
        assert np.isnan(t64([1.0, -2.0]).remainder(t64([0.0])).to_numpy()).all()


def test_fmod_remainder_gradients():
    # d/dself = 1; d/dother = -trunc(a/b) (fmod), -floor(a/b) (remainder) (PyTorch).
    a, b = var([5.0, -5.0, 7.5]), var([3.0, 3.0, -2.0])
    ga, gb = fl.grad([a.fmod(b)], [a, b], [fl.ones_like(a)])
    assert ga.tolist() == [1.0, 1.0, 1.0] and gb.tolist() == [-1.0, 1.0, 3.0]
    ga, gb = fl.grad([a.remainder(b)], [a, b], [fl.ones_like(a)])
    assert ga.tolist() == [1.0, 1.0, 1.0] and gb.tolist() == [-1.0, 2.0, 4.0]
    assert grad_of(a.remainder(-2.0), a).tolist() == [1.0, 1.0, 1.0]


# ------------------------------------------------------------------ lerp


def test_lerp_is_exact_at_both_ends():
    s, e = t64([0.1, -3.3]), t64([0.3, 7.1])
    assert s.lerp(e, 1.0).tolist() == e.tolist()      # s + 1 * (e - s) would round
    assert s.lerp(e, 0.0).tolist() == s.tolist()
    assert s.lerp(e, t64([1.0, 0.0])).tolist() == [0.3, -3.3]
    np.testing.assert_allclose(s.lerp(e, 0.25).to_numpy(), [0.15, -0.7], rtol=1e-15)


def test_lerp_dtype_rules():
    f32, f64 = fl.tensor([1.0, 2.0]), t64([1.0, 2.0])
    with pytest.raises(DTypeError, match="lerp: expected end to have dtype DType.Float32"):
        f32.lerp(f64, 0.5)
    with pytest.raises(DTypeError, match="expected weight to have dtype DType.Float32"):
        f32.lerp(f32, t64([0.5, 0.5]))
    # A 0-d weight may have another dtype (even an integer one), as in PyTorch.
    assert f32.lerp(f32 * 3, t64(0.5)).dtype == DType.Float32
    assert f32.lerp(f32 * 3, fl.tensor(1)).tolist() == [3.0, 6.0]
    with pytest.raises(DTypeError, match="lerp: expected a floating-point tensor"):
        fl.tensor([1, 2]).lerp(fl.tensor([3, 4]), 0.5)


def test_lerp_gradients():
    s, e, w = var([1.0, 2.0]), var([3.0, -2.0]), var([0.25, 0.75])
    gs, ge, gw = fl.grad([s.lerp(e, w)], [s, e, w], [fl.ones_like(s)])
    assert gs.tolist() == [0.75, 0.25] and ge.tolist() == [0.25, 0.75]
    assert gw.tolist() == [2.0, -4.0]


# ------------------------------------------------------ addcmul, addcdiv


def test_addcmul_addcdiv_values_and_defaults():
    a, b, c = t64([1.0, 2.0]), t64([3.0, 4.0]), t64([2.0, 8.0])
    assert a.addcmul(b, c).tolist() == [7.0, 34.0]
    assert a.addcmul(b, c, value=-0.5).tolist() == [-2.0, -14.0]
    assert a.addcdiv(b, c).tolist() == [2.5, 2.5]
    assert a.addcdiv(b, c, value=2).tolist() == [4.0, 3.0]
    assert fl.addcmul(a, b, c).tolist() == [7.0, 34.0]


def test_addcmul_addcdiv_dtype_rules():
    i = fl.tensor([1, 2])
    assert i.addcmul(i, i, value=2).tolist() == [3, 10] and i.addcmul(i, i).dtype == DType.Int64
    with pytest.raises(DTypeError, match="addcmul: value must be an integer for DType.Int64"):
        i.addcmul(i, i, value=0.5)          # PyTorch silently truncates 0.5 to 0
    with pytest.raises(DTypeError, match="addcdiv: integer division is not supported"):
        fl.tensor([1.0, 2.0]).addcdiv(i, i)
    assert i.addcdiv(fl.tensor([1.0, 3.0]), i).dtype == DType.Float32
    assert fl.tensor([1.0]).addcmul(t64([2.0]), i[:1]).dtype == DType.Float64


def test_addcmul_addcdiv_gradients():
    a, b, c = var([1.0]), var([3.0]), var([2.0])
    ga, gb, gc = fl.grad([a.addcmul(b, c, value=0.5)], [a, b, c], [fl.ones_like(a)])
    assert (ga.tolist(), gb.tolist(), gc.tolist()) == ([1.0], [1.0], [1.5])
    ga, gb, gc = fl.grad([a.addcdiv(b, c, value=2.0)], [a, b, c], [fl.ones_like(a)])
    assert (ga.tolist(), gb.tolist(), gc.tolist()) == ([1.0], [1.0], [-1.5])


# --------------------------------------------------------------- isclose


def test_isclose_basics_and_broadcasting():
    a = t64([1.0, 1.0 + 1e-9, 1.0 + 1e-4, 0.0])
    out = a.isclose(t64([1.0, 1.0, 1.0, 1e-9]))
    assert out.dtype == DType.Bool and out.tolist() == [True, True, False, True]
    assert a.isclose(t64([1.0, 1.0, 1.0, 0.0]), rtol=1e-3).tolist() == [True] * 4
    assert fl.isclose(fl.zeros(2, 1), fl.zeros(3)).shape == (2, 3)
    assert fl.isclose(fl.tensor(1.0), fl.tensor(1.0)).shape == ()
    assert fl.isclose(fl.tensor(1.0), fl.tensor([1.0, 2.0])).tolist() == [True, False]
    # Zero tolerances: exact equality.
    assert a.isclose(t64([1.0, 1.0, 1.0, 0.0]), rtol=0, atol=0).tolist() == [True, False,
                                                                                False, True]


def test_isclose_nan_and_inf():
    a = t64([np.nan, np.inf, -np.inf, np.inf, 1.0])
    b = t64([np.nan, np.inf, np.inf, 1e308, np.nan])
    assert a.isclose(b).tolist() == [False, True, False, False, False]
    assert a.isclose(b, equal_nan=True).tolist() == [True, True, False, False, False]


def test_isclose_integers_and_half():
    i = fl.tensor([1, 5, 100])
    assert i.isclose(fl.tensor([2, 5, 101]), atol=1).tolist() == [True, True, True]
    assert i.isclose(fl.tensor([2, 5, 101])).tolist() == [False, True, False]
    assert fl.tensor([True, False]).isclose(fl.tensor([True, True])).tolist() == [True, False]
    h = fl.tensor([1.0, 2.0]).half()
    assert h.isclose(h).tolist() == [True, True]


def test_isclose_is_not_differentiable_and_validates():
    x = var([1.0, 2.0])
    out = x.isclose(x)
    assert type(out) is fl.Tensor and out.tolist() == [True, True]
    with pytest.raises(DTypeError, match="isclose: expected both tensors to have the same "
                                         "dtype, got DType.Float32 and DType.Float64"):
        fl.tensor([1.0]).isclose(t64([1.0]))
    with pytest.raises(ValueError, match="rtol must be greater than or equal to zero"):
        x.isclose(x, rtol=-1)
    with pytest.raises(ValueError, match="atol must be greater than or equal to zero"):
        x.isclose(x, atol=-1e-3)
    with pytest.raises(DTypeError, match="other must be a tensor"):
        x.isclose(1.0)
    with pytest.raises(ShapeError, match="cannot broadcast"):
        fl.zeros(2).isclose(fl.zeros(3))


# ----------------------------------------------------------- activations


def test_functional_and_method_are_the_same_op():
    x = t64([-2.0, -0.5, 0.5, 2.0])
    for name in ("gelu", "silu", "leaky_relu", "elu", "selu", "softplus", "mish", "hardswish",
                 "hardsigmoid"):
        assert getattr(F, name)(x).tolist() == getattr(x, name)().tolist(), name
        assert getattr(F, name) is getattr(fl, name)
    w = t64([0.25])
    assert F.prelu(x, w).tolist() == x.prelu(w).tolist() == [-0.5, -0.125, 0.5, 2.0]
    assert F.relu6(t64([-1.0, 3.0, 7.0])).tolist() == [0.0, 3.0, 6.0]
    assert F.hardtanh(t64([-2.0, 0.5, 2.0])).tolist() == [-1.0, 0.5, 1.0]
    assert F.hardtanh(t64([-2.0, 0.5, 2.0]), -0.5, 0.25).tolist() == [-0.5, 0.25, 0.25]


def test_gelu_values_and_tail_accuracy():
    x = np.array([-10.0, -7.5, -1.0, 0.0, 1.0, 3.0])
    want = np.array([0.5 * v * math.erfc(-v / math.sqrt(2)) for v in x])
    # Relative accuracy even deep in the left tail, where 1 + erf(x / sqrt 2) would
    # cancel completely; at -10 rounding x / sqrt 2 alone costs ~2 z^2 = 100 ulps.
    np.testing.assert_allclose(t64(x).gelu().to_numpy(), want, rtol=3e-14, atol=0)
    k = math.sqrt(2 / math.pi)
    u = k * (x + 0.044715 * x ** 3)
    got = t64(x).gelu(approximate="tanh").to_numpy()
    # 0.5 x (1 + tanh(u)) == x / (1 + exp(-2u)): no cancellation for x << 0 (PyTorch's
    # literal formula gives -0.0 at -7.5 and -10; the true values are ~-4e-18, -1e-37).
    np.testing.assert_allclose(got, x / (1 + np.exp(-2 * u)), rtol=1e-14, atol=0)
    np.testing.assert_allclose(got[2:], (0.5 * x * (1 + np.tanh(u)))[2:], rtol=1e-14)


def test_activation_edge_values():
    # PyTorch's values at +-inf, NaN, +-800 and signed zeros (checked against torch 2.13).
    x = t64([np.inf, -np.inf, np.nan, -800.0, 800.0, 0.0, -0.0])
    with np.errstate(invalid="ignore", over="ignore"):
        assert same_bits(x.gelu().to_numpy(), [np.inf, np.nan, np.nan, -0.0, 800.0, 0.0, -0.0])
        assert same_bits(x.silu().to_numpy(), [np.inf, np.nan, np.nan, -0.0, 800.0, 0.0, -0.0])
        assert same_bits(x.mish().to_numpy(), [np.inf, np.nan, np.nan, -0.0, 800.0, 0.0, -0.0])
        assert same_bits(x.softplus().to_numpy(), [np.inf, 0.0, np.nan, 0.0, 800.0,
                                                   math.log(2), math.log(2)])
        assert same_bits(x.elu().to_numpy(), [np.inf, -1.0, np.nan, -1.0, 800.0, 0.0, -0.0])
        assert same_bits(F.relu6(x).to_numpy(), [6.0, 0.0, np.nan, 0.0, 6.0, 0.0, -0.0])
        assert same_bits(x.hardswish().to_numpy()[3:], [-0.0, 800.0, 0.0, -0.0])


def test_softplus_threshold_is_strict_and_linear_above():
    # beta * x > threshold: x itself; at equality the log1p branch (PyTorch).
    x = t64([2.5, 2.5000001, 10.0, -10.0])
    y = x.softplus(beta=2.0, threshold=5.0).to_numpy()
    assert y[1] == 2.5000001 and y[2] == 10.0
    assert y[0] == pytest.approx(math.log1p(math.exp(5.0)) / 2.0, rel=1e-15)
    assert y[3] == pytest.approx(math.log1p(math.exp(-20.0)) / 2.0, rel=1e-15)
    # Overflow-free where PyTorch's log1p(exp(.)) overflows (it gives inf here).
    assert F.softplus(fl.tensor([100.0]), threshold=200).tolist() == [100.0]


def test_tie_rules_at_kinks():
    """First derivatives exactly at the kinks, from PyTorch's backward formulas."""
    x = var([0.0, -3.0, 3.0])
    assert grad_of(x.leaky_relu(0.2), x).tolist() == [0.2, 0.2, 1.0]       # x > 0 is linear
    assert grad_of(x.elu(2.0), x)[0] == 2.0                                 # x <= 0: alpha e^x
    assert grad_of(x.selu(), x)[0] == pytest.approx(1.0507009873554805 * 1.6732632423543772)
    assert grad_of(x.hardswish(), x).tolist() == [0.5, 0.0, 1.0]            # 0 at -3, 1 at 3
    assert grad_of(x.hardsigmoid(), x).tolist() == [1 / 6, 0.0, 0.0]        # 0 at both ends
    b = var([0.0, 6.0, -1.0, 1.0])
    assert grad_of(F.relu6(b), b).tolist() == [0.0, 0.0, 0.0, 1.0]          # 0 at both bounds
    assert grad_of(F.hardtanh(b), b).tolist() == [1.0, 0.0, 0.0, 0.0]
    s = var([2.5])                                                          # beta x == threshold
    assert grad_of(s.softplus(2.0, 5.0), s)[0] == pytest.approx(1 / (1 + math.exp(-5.0)))
    p, w = var([0.0, -2.0, 1.0]), var([0.25])
    gp, gw = fl.grad([p.prelu(w)], [p, w], [fl.ones_like(p)])
    assert gp.tolist() == [0.25, 0.25, 1.0] and gw.tolist() == [-2.0]


def test_second_derivative_ties_follow_pytorch():
    # elu: PyTorch's double backward masks with x < 0, so d2/dx2 at 0 is 0.
    x = var([0.0, -1.0])
    (g,) = fl.grad([x.elu(2.0)], [x], [fl.ones_like(x)], create_graph=True)
    (gg,) = fl.grad([g], [x], [fl.ones_like(x)])
    assert gg.tolist() == [0.0, 2.0 * math.exp(-1.0)]
    # softplus at beta x == threshold: first derivative sigmoid(threshold), second 0.
    s = var([2.5])
    (g,) = fl.grad([s.softplus(2.0, 5.0)], [s], [fl.ones_like(s)], create_graph=True)
    (gg,) = fl.grad([g], [s], [fl.ones_like(s)])
    assert gg.tolist() == [0.0]


def test_prelu_weight_shapes():
    x = var(np.arange(-6.0, 6.0).reshape(2, 3, 2))
    w = var([0.1, 0.2, 0.3])
    y = x.prelu(w).to_numpy()
    want = np.where(x.to_numpy() > 0, x.to_numpy(), x.to_numpy() * np.array([0.1, 0.2, 0.3])
                    [:, None])
    np.testing.assert_allclose(y, want, rtol=1e-15)
    (gw,) = fl.grad([x.prelu(w)], [w], [fl.ones_like(x)])
    assert gw.shape == (3,)
    np.testing.assert_allclose(gw.to_numpy(), [-6 - 5, -4 - 3, -2 - 1])
    assert t64(-2.0).prelu(t64([0.5])).tolist() == -1.0               # 0-d input, 1 weight
    assert t64([-2.0, 3.0]).prelu(t64(0.5)).tolist() == [-1.0, 3.0]   # 0-d weight
    with pytest.raises(ShapeError, match="prelu: 2 weights for 3 channels"):
        fl.zeros(2, 3).prelu(fl.ones(2))
    with pytest.raises(ShapeError, match="prelu: 3 weights for 1 channels"):
        fl.zeros(3).prelu(fl.ones(3))
    with pytest.raises(ShapeError, match="a 0-d input takes a single weight"):
        fl.zeros(()).prelu(fl.ones(2))
    with pytest.raises(ShapeError, match="weight must be a scalar or 1-D"):
        fl.zeros(2, 3).prelu(fl.ones(1, 3))
    with pytest.raises(DTypeError, match="prelu: weight must have the input's dtype DType.Float32"):
        fl.zeros(2, 3).prelu(t64([0.25]))


def test_activation_argument_validation():
    x = fl.tensor([1.0, -1.0])
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh', got 'fast'"):
        x.gelu(approximate="fast")
    with pytest.raises(ValueError, match="hardtanh: min_val .* cannot be greater than max_val"):
        F.hardtanh(x, 2.0, 1.0)
    with pytest.raises(ValueError, match="inplace=True is not supported"):
        F.silu(x, inplace=True)
    with pytest.raises(DTypeError, match="negative_slope must be a real Python number"):
        x.leaky_relu("0.1")
    for name in ("gelu", "silu", "leaky_relu", "elu", "selu", "softplus", "mish", "hardswish",
                 "hardsigmoid"):
        with pytest.raises(DTypeError, match="expected a floating-point tensor, got DType.Int64"):
            getattr(fl.tensor([1, 2]), name)()
    # hardtanh/relu6 clamp integers, as in PyTorch.
    assert F.relu6(fl.tensor([-1, 3, 9])).tolist() == [0, 3, 6]
    assert F.hardtanh(fl.tensor([-5, 0, 5])).dtype == DType.Int64


def test_activation_half_types_keep_their_dtype():
    for dt in (DType.Float16, DType.BFloat16):
        x = fl.tensor([-2.0, 0.5, 4.0]).to_dtype(dt)
        for name in ("gelu", "silu", "leaky_relu", "elu", "selu", "softplus", "mish",
                     "hardswish", "hardsigmoid"):
            assert getattr(x, name)().dtype == dt, (name, dt)
        assert F.relu6(x).dtype == dt and x.prelu(fl.tensor([0.5]).to_dtype(dt)).dtype == dt


def test_activation_gradients_survive_infinite_inputs():
    # The unused branch of elu's gradient stays finite: no NaN at large x.
    x = var([1000.0, -1000.0])
    (g,) = fl.grad([x.elu()], [x], [fl.ones_like(x)], create_graph=True)
    (gg,) = fl.grad([g], [x], [fl.ones_like(x)])
    assert g.tolist() == [1.0, 0.0] and gg.tolist() == [0.0, 0.0]
    assert grad_of(x.softplus(), x).tolist() == [1.0, 0.0]
    assert grad_of(x.silu(), x).tolist() == [1.0, 0.0]


def test_sigmoid_float32_matches_float64_across_its_range():
    import numpy as np
    import flodl_core as fl
    x = np.linspace(-80, 80, 20001).astype(np.float32)
    want = 1.0 / (1.0 + np.exp(-x.astype(np.float64)))
    got = fl.from_numpy(x).sigmoid().to_numpy().astype(np.float64)
    np.testing.assert_allclose(got, want, rtol=3e-7, atol=1e-38)
    edge = fl.tensor([-100.0, 100.0, float("nan")]).sigmoid().to_numpy()
    assert edge[0] == 0.0 and edge[1] == 1.0 and np.isnan(edge[2])
