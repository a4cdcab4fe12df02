"""Weight initialisation: the distributions PyTorch's layers use.

Each function takes a shape and returns a new Tensor drawn from the framework
generator (so ``fl.manual_seed`` makes it reproducible); the ``*_`` forms fill
an existing Parameter in place, like ``torch.nn.init``.

>>> import flodl_core as fl
>>> w = fl.nn.init.kaiming_uniform((128, 784), a=5 ** 0.5)   # nn.Linear's default
>>> w.shape, float(abs(w.to_numpy()).max()) <= 1 / 784 ** 0.5
((128, 784), True)
"""
from __future__ import annotations

import math

import numpy as np

from .. import creation as _c
from ..backend.dtype import DType
from ..errors import ShapeError

__all__ = ["calculate_gain", "uniform", "normal", "constant", "zeros", "ones", "xavier_uniform",
           "xavier_normal", "kaiming_uniform", "kaiming_normal", "orthogonal", "trunc_normal",
           "uniform_", "normal_", "constant_", "zeros_", "ones_", "xavier_uniform_",
           "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_",
           "trunc_normal_"]


def _shape(shape) -> tuple:
    return (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (PyTorch's table)."""
    if nonlinearity in ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                        "conv_transpose2d", "conv_transpose3d", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _fans(shape) -> tuple[int, int]:
    if len(shape) < 2:
        raise ShapeError(f"fan in and fan out need at least 2 dims, got shape {shape}")
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def uniform(shape, low: float = 0.0, high: float = 1.0, dtype=None, device=None):
    """U(low, high)."""
    return _c.rand(_shape(shape), dtype=dtype, device=device) * (high - low) + low


def normal(shape, mean: float = 0.0, std: float = 1.0, dtype=None, device=None):
    """N(mean, std**2)."""
    return _c.randn(_shape(shape), dtype=dtype, device=device) * std + mean


def constant(shape, value: float, dtype=None, device=None):
    return _c.full(_shape(shape), value, dtype=DType.Float32 if dtype is None else dtype,
                   device=device)


def zeros(shape, dtype=None, device=None):
    return _c.zeros(_shape(shape), dtype=dtype, device=device)


def ones(shape, dtype=None, device=None):
    return _c.ones(_shape(shape), dtype=dtype, device=device)


def xavier_uniform(shape, gain: float = 1.0, dtype=None, device=None):
    """Glorot uniform: U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(_shape(shape))
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform(shape, -a, a, dtype, device)


def xavier_normal(shape, gain: float = 1.0, dtype=None, device=None):
    """Glorot normal: N(0, std**2), std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(_shape(shape))
    return normal(shape, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), dtype, device)


def _kaiming_std(shape, a, mode, nonlinearity):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming init: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _fans(_shape(shape))
    fan = fan_in if mode == "fan_in" else fan_out
    if fan == 0:
        # a zero-element weight (Linear(0, n)): nothing to draw; torch returns it as is
        return 0.0
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform(shape, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", dtype=None, device=None):
    """He uniform: U(-b, b), b = sqrt(3) * gain / sqrt(fan).

    ``a=sqrt(5)`` gives the default of PyTorch's Linear and Conv layers (b = 1/sqrt(fan_in)).
    """
    bound = math.sqrt(3.0) * _kaiming_std(shape, a, mode, nonlinearity)
    return uniform(shape, -bound, bound, dtype, device)


def kaiming_normal(shape, a: float = 0.0, mode: str = "fan_in",
                   nonlinearity: str = "leaky_relu", dtype=None, device=None):
    """He normal: N(0, (gain / sqrt(fan))**2)."""
    return normal(shape, 0.0, _kaiming_std(shape, a, mode, nonlinearity), dtype, device)


def orthogonal(shape, gain: float = 1.0, dtype=None, device=None):
    """A (semi-)orthogonal matrix, reshaped to ``shape`` (dims after the first flattened)."""
    shape = _shape(shape)
    if len(shape) < 2:
        raise ShapeError(f"orthogonal: need at least 2 dims, got shape {shape}")
    rows, cols = shape[0], math.prod(shape[1:])
    flat = _c.randn(rows, cols, dtype=DType.Float64).to_numpy()
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))           # make the decomposition unique
    if rows < cols:
        q = q.T
    out = _c.tensor((gain * q).reshape(shape), dtype=DType.Float32 if dtype is None else dtype)
    return out if device is None else out.to_device(device)


def trunc_normal(shape, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0,
                 dtype=None, device=None):
    """N(mean, std**2) truncated to [a, b]: out-of-range draws are redrawn (an exact
    truncated normal, not a clamp)."""
    if not a < b:
        raise ValueError(f"trunc_normal: need a < b, got [{a}, {b}]")
    shape = _shape(shape)
    lo, hi = (a - mean) / std, (b - mean) / std
    accept = 0.5 * (math.erf(hi / math.sqrt(2)) - math.erf(lo / math.sqrt(2)))
    if accept < 1e-4:
        raise ValueError(f"trunc_normal: [{a}, {b}] holds only {accept:.2e} of N({mean}, {std}**2)")
    n = math.prod(shape)
    out = np.empty(n)
    filled = 0
    while filled < n:
        draw = _c.randn(max(16, int((n - filled) / accept * 1.1) + 1), dtype=DType.Float64).to_numpy()
        draw = draw[(draw >= lo) & (draw <= hi)][: n - filled]
        out[filled:filled + draw.size] = draw
        filled += draw.size
    t = _c.tensor((out * std + mean).reshape(shape), dtype=DType.Float32 if dtype is None else dtype)
    return t if device is None else t.to_device(device)


# ------------------------------------------------------- in-place forms


def _fill(param, tensor):
    param.set_data(tensor)
    return param


def uniform_(param, a=0.0, b=1.0):
    # torch.nn.init.uniform_'s argument names (a, b), so keyword calls port unchanged
    return _fill(param, uniform(param.shape, a, b, param.dtype, param.device))


def normal_(param, mean=0.0, std=1.0):
    return _fill(param, normal(param.shape, mean, std, param.dtype, param.device))


def constant_(param, val):
    # torch.nn.init.constant_'s argument name (val)
    return _fill(param, constant(param.shape, val, param.dtype, param.device))


def zeros_(param):
    return _fill(param, zeros(param.shape, param.dtype, param.device))


def ones_(param):
    return _fill(param, ones(param.shape, param.dtype, param.device))


def xavier_uniform_(param, gain=1.0):
    return _fill(param, xavier_uniform(param.shape, gain, param.dtype, param.device))


def xavier_normal_(param, gain=1.0):
    return _fill(param, xavier_normal(param.shape, gain, param.dtype, param.device))


def kaiming_uniform_(param, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
    return _fill(param, kaiming_uniform(param.shape, a, mode, nonlinearity, param.dtype,
                                        param.device))


def kaiming_normal_(param, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
    return _fill(param, kaiming_normal(param.shape, a, mode, nonlinearity, param.dtype,
                                       param.device))


def orthogonal_(param, gain=1.0):
    return _fill(param, orthogonal(param.shape, gain, param.dtype, param.device))


def trunc_normal_(param, mean=0.0, std=1.0, a=-2.0, b=2.0):
    return _fill(param, trunc_normal(param.shape, mean, std, a, b, param.dtype, param.device))
