"""Registry entries: sum, sum_dim, mean, mean_dim, var, std, var_dim, std_dim,
max, min, max_dim, min_dim, prod, prod_dim, cumsum, logsumexp, norm, softmax,
log_softmax.

References compute in float64. Samples of max/min use tie-free inputs
(``distinct``); prod and norm stay away from 0, where they have kinks or (prod)
no double backward. Ties and zeros are covered in ``tests/test_reduction_ties.py``.
"""
from __future__ import annotations

import numpy as np

from ...backend.dtype import DType
from . import OpInfo, SampleInput, register
from .samples import distinct, noncontig, uniform

FLOATS = (DType.Float64, DType.Float32)
ALL_FLOATS = (DType.Float64, DType.Float32, DType.Float16, DType.BFloat16)
HALF_TOL = {DType.Float16: (2e-2, 1e-2), DType.BFloat16: (1e-1, 3e-2)}

# Shapes for the full reductions: 0-d, size-1, vector, matrix, 3-d with a size-1 dim.
FULL_SHAPES = [(), (1,), (4,), (2, 3), (2, 1, 3)]


def _s(x, *args, nc=False, desc="", **kwargs):
    return SampleInput(((noncontig(x) if nc else x),) + args, kwargs,
                       desc=desc or ("non-contiguous" if nc else ""))


def _axis(x, dim):
    """NumPy axis for a flodl dim argument (None or () means every dim)."""
    if x.ndim == 0:
        return None
    if dim is None or (isinstance(dim, (tuple, list)) and not dim):
        return None
    return tuple(dim) if isinstance(dim, (tuple, list)) else dim


def _full(rng, gen=uniform, **kw):
    out = [_s(gen(rng, s, **kw)) for s in FULL_SHAPES]
    out.append(_s(gen(rng, (3, 2), **kw), nc=True))
    return out


# Dim samples shared by the sum/mean style reductions: (shape, dim, keepdim).
DIM_CASES = [((2, 3), 0, False), ((2, 3), -1, True), ((2, 3, 4), (0, 2), False),
             ((2, 3, 4), [-1, 0], True), ((1, 3), 0, False), ((2, 1, 3), 1, True),
             ((), 0, False), ((), -1, True), ((2, 3), (), False)]


def _dim_samples(rng, gen=uniform, cases=DIM_CASES, **kw):
    out = [_s(gen(rng, shape, **kw), dim, keepdim=k) for shape, dim, k in cases]
    out.append(_s(gen(rng, (3, 2), **kw), 1, nc=True, keepdim=False))
    return out


# ------------------------------------------------------------------ sum, mean

register(OpInfo("sum", _full, lambda x: np.sum(x), dtypes=ALL_FLOATS, fwd_tol=HALF_TOL))
register(OpInfo("sum_dim", _dim_samples, dtypes=ALL_FLOATS, fwd_tol=HALF_TOL,
                ref=lambda x, dim, keepdim=False: np.sum(x, axis=_axis(x, dim),
                                                         keepdims=keepdim)))
register(OpInfo("mean", _full, lambda x: np.mean(x), dtypes=ALL_FLOATS, fwd_tol=HALF_TOL))
register(OpInfo("mean_dim", _dim_samples, dtypes=ALL_FLOATS, fwd_tol=HALF_TOL,
                ref=lambda x, dim, keepdim=False: np.mean(x, axis=_axis(x, dim),
                                                          keepdims=keepdim)))

# -------------------------------------------------------------------- var, std


def _var_full(rng):
    # No single-element sample with correction=1: PyTorch gives NaN there.
    return [_s(uniform(rng, (4,))), _s(uniform(rng, (2, 3))), _s(uniform(rng, (2, 1, 3))),
            _s(uniform(rng, (4,)), correction=0), _s(uniform(rng, (2, 3)), correction=2),
            _s(uniform(rng, (1,)), correction=0), _s(uniform(rng, (3, 2)), nc=True)]


VAR_DIM_CASES = [((2, 3), 1, False), ((2, 3), 0, True), ((2, 3, 4), (0, 2), False),
                 ((3, 1, 2), (-3, 1), True), ((1, 3), -1, False)]


def _var_dim_samples(rng):
    out = [_s(uniform(rng, shape), dim, keepdim=k) for shape, dim, k in VAR_DIM_CASES]
    out += [_s(uniform(rng, (2, 3)), 1, correction=0), _s(uniform(rng, (2, 4)), 1, True, 2),
            _s(uniform(rng, (3, 2)), 0, nc=True)]
    return out


def _var_ref(x, dim=None, keepdim=False, correction=1):
    return np.var(x, axis=_axis(x, dim), keepdims=keepdim, ddof=correction)


def _std_ref(x, dim=None, keepdim=False, correction=1):
    return np.std(x, axis=_axis(x, dim), keepdims=keepdim, ddof=correction)


register(OpInfo("var", _var_full, lambda x, correction=1: _var_ref(x, correction=correction)))
register(OpInfo("std", _var_full, lambda x, correction=1: _std_ref(x, correction=correction)))
register(OpInfo("var_dim", _var_dim_samples, _var_ref))
register(OpInfo("std_dim", _var_dim_samples, _std_ref))

# -------------------------------------------------------------------- max, min

register(OpInfo("max", lambda rng: _full(rng, distinct), lambda x: np.max(x),
                dtypes=ALL_FLOATS, fwd_tol=HALF_TOL))
register(OpInfo("min", lambda rng: _full(rng, distinct), lambda x: np.min(x),
                dtypes=ALL_FLOATS, fwd_tol=HALF_TOL))

EXT_DIM_CASES = [((2, 3), 1, False), ((2, 3), 0, True), ((2, 1, 3), -1, False),
                 ((2, 1, 3), 1, True), ((3, 1), 1, False), ((4,), 0, False), ((), 0, False),
                 ((), -1, True)]


def _ext_dim_samples(rng):
    return _dim_samples(rng, distinct, EXT_DIM_CASES)


def _ext_ref(fn):
    def ref(x, dim, keepdim=False):
        return x if x.ndim == 0 else fn(x, axis=dim, keepdims=keepdim)
    return ref


register(OpInfo("max_dim", _ext_dim_samples, _ext_ref(np.max), dtypes=ALL_FLOATS,
                fwd_tol=HALF_TOL))
register(OpInfo("min_dim", _ext_dim_samples, _ext_ref(np.min), dtypes=ALL_FLOATS,
                fwd_tol=HALF_TOL))

# ------------------------------------------------------------------------ prod


def _nonzero(rng, shape):
    """Values in [-1.6, -0.4] U [0.4, 1.6]: no zeros (whose backward has no double
    backward) and products of moderate size."""
    return uniform(rng, shape, -1.5, 1.5, avoid=(0.0,), margin=0.3)


PROD_DIM_CASES = [((2, 3), 1, False), ((2, 3), 0, True), ((2, 1, 3), -2, False),
                  ((2, 1, 3), -1, True), ((4,), 0, False), ((), 0, False), ((), -1, True)]

register(OpInfo("prod", lambda rng: _full(rng, _nonzero), lambda x: np.prod(x),
                dtypes=ALL_FLOATS, fwd_tol=HALF_TOL))
register(OpInfo("prod_dim", lambda rng: _dim_samples(rng, _nonzero, PROD_DIM_CASES),
                dtypes=ALL_FLOATS, fwd_tol=HALF_TOL,
                ref=lambda x, dim, keepdim=False: x if x.ndim == 0 else
                np.prod(x, axis=dim, keepdims=keepdim)))

# ---------------------------------------------------------------------- cumsum


def _cumsum_samples(rng):
    cases = [((4,), 0), ((2, 3), 1), ((2, 3), -2), ((1, 3), 0), ((2, 1, 3), -1), ((), 0),
             ((), -1)]
    out = [_s(uniform(rng, shape), dim) for shape, dim in cases]
    out.append(_s(uniform(rng, (3, 2)), 0, nc=True))
    return out


register(OpInfo("cumsum", _cumsum_samples, dtypes=ALL_FLOATS, fwd_tol=HALF_TOL,
                ref=lambda x, dim: x if x.ndim == 0 else np.cumsum(x, axis=dim)))

# ------------------------------------------------------------ softmax family


def _np_logsumexp(x, axis, keepdims):
    if x.ndim == 0:
        return x
    m = np.max(x, axis=axis, keepdims=True)
    y = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return y if keepdims else np.squeeze(y, axis=axis)


def _np_softmax(x, dim):
    if x.ndim == 0:
        return np.ones_like(x)
    e = np.exp(x - np.max(x, axis=dim, keepdims=True))
    return e / np.sum(e, axis=dim, keepdims=True)


def _np_log_softmax(x, dim):
    return x - _np_logsumexp(x, dim, True)


def _softmax_samples(rng):
    cases = [((4,), 0), ((2, 3), 1), ((2, 3), 0), ((2, 1, 3), -1), ((3, 1), 1), ((), 0),
             ((2, 3, 2), -2)]
    out = [_s(uniform(rng, shape, -3.0, 3.0), dim) for shape, dim in cases]
    out.append(_s(uniform(rng, (3, 2), -3.0, 3.0), 0, nc=True))
    return out


LSE_CASES = [((2, 3), 1, False), ((2, 3), (0, 1), False), ((2, 3), 0, True),
             ((2, 3, 4), [2, -3], True), ((1, 3), -1, False), ((3, 1), 1, True), ((), 0, False)]

register(OpInfo("softmax", _softmax_samples, _np_softmax, dtypes=ALL_FLOATS,
                fwd_tol=HALF_TOL))
register(OpInfo("log_softmax", _softmax_samples, _np_log_softmax))
register(OpInfo("logsumexp",
                lambda rng: _dim_samples(rng, uniform, LSE_CASES, low=-3.0, high=3.0),
                ref=lambda x, dim, keepdim=False: _np_logsumexp(x, _axis(x, dim), keepdim)))

# ------------------------------------------------------------------------ norm


def _signed_distinct(rng, shape):
    """Magnitudes pairwise apart (no ties for the inf-norm), random signs."""
    mag = distinct(rng, shape, 0.2, 2.0, gap=0.05)
    return mag * rng.choice([-1.0, 1.0], size=np.shape(mag))


def _norm_samples(rng):
    u = lambda shape: uniform(rng, shape, avoid=(0.0,), margin=0.2)  # noqa: E731
    inf = float("inf")
    return [
        _s(u((2, 3))), _s(u((4,)), 1), _s(u((2, 3)), 3.0), _s(u((2, 3)), 1.5, 1),
        _s(u((2, 3)), 0.5), _s(u((2, 3)), 2, (0, 1), True), _s(u((2, 3, 2)), 2.0, [-1, 0]),
        _s(u(())), _s(u((1, 3)), 1, -1, True), _s(u((2, 3)), "fro"),
        _s(_signed_distinct(rng, (2, 3)), inf), _s(_signed_distinct(rng, (2, 3)), inf, 1, True),
        _s(_signed_distinct(rng, (2, 3)), -inf), _s(_signed_distinct(rng, (3, 2)), -inf, 0),
        _s(u((2, 3)), -1.5, 1), _s(u((4,)), 0, desc="p=0: count of nonzeros, zero gradient"),
        _s(u((3, 2)), 2.0, 0, nc=True),
    ]


def _norm_ref(x, p=2.0, dim=None, keepdim=False):
    p = 2.0 if p == "fro" else float(p)
    axis = _axis(x, dim)
    a = np.abs(x)
    if p == float("inf"):
        return np.max(a, axis=axis, keepdims=keepdim)
    if p == -float("inf"):
        return np.min(a, axis=axis, keepdims=keepdim)
    if p == 0:
        return np.sum(a != 0, axis=axis, keepdims=keepdim).astype(x.dtype)
    return np.sum(a ** p, axis=axis, keepdims=keepdim) ** (1.0 / p)


register(OpInfo("norm", _norm_samples, _norm_ref))
