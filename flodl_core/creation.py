"""Tensor factories: zeros, ones, rand, arange, from_numpy, tensor, ...

Shapes are given as ``zeros(2, 3)``, ``zeros((2, 3))`` or ``zeros([2, 3])``.
``dtype=`` and ``device=`` keywords choose the type and place (Float32 on CPU
by default); flodl's ``TensorOptions`` is accepted as ``opts=`` or as a final
positional argument.

>>> import flodl_core as fl
>>> fl.zeros(2, 3).shape
(2, 3)
>>> fl.arange(0, 10, 2).tolist()
[0, 2, 4, 6, 8]
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .backend import rng as _rng
from .backend.array_module import on_device, xp_for_device
from .backend.device import Device
from .backend.dtype import BFLOAT16_NUMPY, DType, TensorOptions, dtype_of, to_numpy_dtype
from .errors import DTypeError, ShapeError
from .tensor import Tensor, TensorLike, array_to_device

# --------------------------------------------------------------- arguments


def _options(fn, args, dtype, device, opts):
    """Split a trailing TensorOptions off ``args`` and resolve dtype/device.

    Factories with fixed parameters (``full(shape, value, opts)``) receive a
    positional TensorOptions in their ``dtype`` slot; it is taken as ``opts``.
    """
    if isinstance(dtype, TensorOptions):
        args, dtype = args + (dtype,), None
    if args and isinstance(args[-1], TensorOptions):
        if opts is not None:
            raise TypeError(f"{fn}: TensorOptions given twice")
        opts, args = args[-1], args[:-1]
    if opts is not None:
        dtype = opts.dtype if dtype is None else dtype
        device = opts.device if device is None else device
    device = Device.CPU if device is None else Device.parse(device)
    return args, dtype, device


def _positional_opts(fn, values, defaults, opts):
    """A TensorOptions passed positionally into an optional parameter becomes
    ``opts``; that parameter goes back to its default."""
    out = list(values)
    for i, v in enumerate(values):
        if isinstance(v, TensorOptions):
            if opts is not None:
                raise TypeError(f"{fn}: TensorOptions given twice")
            opts, out[i] = v, defaults[i]
    return tuple(out), opts


def _shape(fn, args) -> tuple:
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    shape = []
    for s in args:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)):
            raise TypeError(f"{fn}: shape entries must be ints, got {args!r}")
        if s < 0:
            raise ShapeError(f"{fn}: negative dimension in shape {tuple(args)}")
        shape.append(int(s))
    return tuple(shape)


def _np_dtype(dtype, default=DType.Float32):
    return to_numpy_dtype(default if dtype is None else dtype)


def _make(device, build):
    """Run ``build(xp)`` with the device current and wrap the result."""
    xp = xp_for_device(device)
    with on_device(device):
        return Tensor._wrap(build(xp))


def _float_dtype(fn, np_dtype):
    if not (np_dtype.kind == "f" or np_dtype == BFLOAT16_NUMPY):
        raise DTypeError(f"{fn}: expected a floating dtype, got {dtype_of(np_dtype)}")


# ------------------------------------------------------------------ filled


def zeros(*shape, dtype=None, device=None, opts=None) -> Tensor:
    """A tensor of zeros."""
    shape, dtype, device = _options("zeros", shape, dtype, device, opts)
    shape, dt = _shape("zeros", shape), _np_dtype(dtype)
    return _make(device, lambda xp: xp.zeros(shape, dtype=dt))


def ones(*shape, dtype=None, device=None, opts=None) -> Tensor:
    """A tensor of ones."""
    shape, dtype, device = _options("ones", shape, dtype, device, opts)
    shape, dt = _shape("ones", shape), _np_dtype(dtype)
    return _make(device, lambda xp: xp.ones(shape, dtype=dt))


def empty(*shape, dtype=None, device=None, opts=None) -> Tensor:
    """An uninitialised tensor (contents are arbitrary)."""
    shape, dtype, device = _options("empty", shape, dtype, device, opts)
    shape, dt = _shape("empty", shape), _np_dtype(dtype)
    return _make(device, lambda xp: xp.empty(shape, dtype=dt))


def full(shape, value, dtype=None, device=None, opts=None) -> Tensor:
    """A tensor filled with ``value``; the dtype follows the value as in PyTorch
    (bool -> Bool, int -> Int64, float -> Float32) unless given."""
    (), dtype, device = _options("full", (), dtype, device, opts)
    shape = _shape("full", (shape,) if isinstance(shape, (tuple, list)) else (shape,))
    if dtype is None:
        dtype = _scalar_dtype(value)
    dt = _np_dtype(dtype)
    return _make(device, lambda xp: xp.full(shape, value, dtype=dt))


def _scalar_dtype(value) -> DType:
    if isinstance(value, (bool, np.bool_)):
        return DType.Bool
    if isinstance(value, numbers.Integral):
        return DType.Int64
    return DType.Float32


def eye(n: int, m: int | None = None, dtype=None, device=None, opts=None) -> Tensor:
    """The identity matrix (n x m, m defaults to n)."""
    (m,), opts = _positional_opts("eye", (m,), (None,), opts)   # eye(n, opts)
    (), dtype, device = _options("eye", (), dtype, device, opts)
    _shape("eye", (n,) if m is None else (n, m))
    dt = _np_dtype(dtype)
    return _make(device, lambda xp: xp.eye(n, m, dtype=dt))


def arange(start, end=None, step=1, dtype=None, device=None, opts=None) -> Tensor:
    """Values from ``start`` to ``end`` (exclusive) by ``step``.

    ``arange(5)`` counts from 0. As in PyTorch, all-integer arguments give Int64,
    any float gives Float32, unless ``dtype`` is given.
    """
    # arange(end, opts) and arange(start, end, opts)
    (end, step), opts = _positional_opts("arange", (end, step), (None, 1), opts)
    (), dtype, device = _options("arange", (), dtype, device, opts)
    if end is None:
        start, end = 0, start
    if dtype is not None and _np_dtype(dtype).kind in "biu":
        # PyTorch casts start/end/step to an integer dtype before sizing (toward
        # zero): arange(0.5, 5, 1.5, dtype=Int64) is [0..4], a 0.5 step is an error.
        start, end, step = int(start), int(end), int(step)
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    if (end - start) * step < 0:
        raise ValueError(f"arange: step {step} does not lead from {start} to {end}")
    if dtype is None:
        ints = all(isinstance(v, numbers.Integral) for v in (start, end, step))
        dtype = DType.Int64 if ints else DType.Float32
    dt = _np_dtype(dtype)
    n = max(0, math.ceil((end - start) / step))
    # Compute in float64 then cast, so float32 results match PyTorch's start + i*step.
    return _make(device, lambda xp: (start + xp.arange(n, dtype=np.float64) * step).astype(dt)
                 if dt.kind == "f" or dt == BFLOAT16_NUMPY
                 else xp.arange(start, end, step, dtype=dt))


def linspace(start: float, end: float, steps: int, dtype=None, device=None, opts=None) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    (), dtype, device = _options("linspace", (), dtype, device, opts)
    if not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"linspace: steps must be a non-negative int, got {steps!r}")
    dt = _np_dtype(dtype)
    return _make(device, lambda xp: xp.linspace(start, end, steps, dtype=np.float64).astype(dt))


def logspace(start: float, end: float, steps: int, base: float = 10.0, dtype=None,
             device=None, opts=None) -> Tensor:
    """``steps`` values from ``base ** start`` to ``base ** end``, the exponents evenly
    spaced (inclusive), as ``torch.logspace`` (Float32 unless ``dtype`` is given;
    integer dtypes truncate ``start``/``end`` first and the powers after)."""
    (), dtype, device = _options("logspace", (), dtype, device, opts)
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"logspace: steps must be a non-negative int, got {steps!r}")
    for name, v in (("start", start), ("end", end), ("base", base)):
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise TypeError(f"logspace: {name} must be a real number, got {type(v).__name__}")
    dt = _np_dtype(dtype)
    steps, base = int(steps), float(base)
    if dt.kind in "iu":
        start, end = int(start), int(end)   # PyTorch casts to the dtype before spacing
    start, end = float(start), float(end)

    def build(xp):
        if steps == 1:
            exps = xp.full((1,), start, dtype=np.float64)
        else:
            # PyTorch's kernel: the first half counts up from start, the rest down from end.
            idx = xp.arange(steps, dtype=np.float64)
            step = (end - start) / (steps - 1)   # steps == 0: no values
            exps = xp.where(idx < steps // 2, start + step * idx,
                            end - step * (steps - 1 - idx))
        vals = xp.power(base, exps)
        if dt.kind in "iu":   # truncate, wrapping like a C cast (1000 -> 232 in UInt8)
            return vals.astype(np.int64).astype(dt)
        return vals.astype(dt)
    return _make(device, build)


# ------------------------------------------------------------------ random


def _draw(device, cpu_fn, cuda_fn):
    if device.kind == "cpu":
        return Tensor._wrap(cpu_fn(_rng.cpu_generator()))
    xp_for_device(device)   # validates the ordinal
    with on_device(device):
        return Tensor._wrap(cuda_fn(_rng.cuda_generator(device.index)))


def _float_draw(fn, shape, dtype, device, opts, cpu_fn, cuda_fn, unit_interval=False):
    shape, dtype, device = _options(fn, shape, dtype, device, opts)
    shape, dt = _shape(fn, shape), _np_dtype(dtype)
    _float_dtype(fn, dt)
    # Draw in float32/float64 (what the generators support), then cast halves.
    draw_dt = np.float64 if dt == np.float64 else np.float32
    t = _draw(device, lambda g: cpu_fn(g, shape, draw_dt), lambda g: cuda_fn(g, shape, draw_dt))
    if t._data.dtype == dt:
        return t
    data = t._data
    if unit_interval:
        # Rounding to nearest would turn values near 1 into 1.0, outside [0, 1):
        # round down onto the half type's grid k / 2**digits (as PyTorch draws it).
        scale = 2.0 ** (8 if dt == BFLOAT16_NUMPY else 11)
        data = (data * scale) // 1 / scale
    return Tensor._wrap(data.astype(dt))


def rand(*shape, dtype=None, device=None, opts=None) -> Tensor:
    """Uniform samples in [0, 1) from the framework generator."""
    return _float_draw("rand", shape, dtype, device, opts,
                       lambda g, s, d: g.random(s, dtype=d),
                       lambda g, s, d: g.random_sample(s, dtype=d), unit_interval=True)


def randn(*shape, dtype=None, device=None, opts=None) -> Tensor:
    """Standard normal samples from the framework generator."""
    return _float_draw("randn", shape, dtype, device, opts,
                       lambda g, s, d: g.standard_normal(s, dtype=d),
                       lambda g, s, d: g.standard_normal(s, dtype=d))


def randint(low: int, high: int | None = None, shape=(), dtype=None, device=None,
            opts=None) -> Tensor:
    """Uniform integers in [low, high) (Int64 unless given). ``randint(high, shape=...)``
    draws from [0, high)."""
    # randint(high, opts) and randint(low, high, opts)
    (high, shape), opts = _positional_opts("randint", (high, shape), (None, ()), opts)
    if isinstance(high, (tuple, list)) and shape == ():
        high, shape = None, high   # randint(high, size), PyTorch's two-argument form
    (), dtype, device = _options("randint", (), dtype, device, opts)
    if high is None:
        low, high = 0, low
    if high <= low:
        raise ValueError(f"randint: empty range [{low}, {high})")
    shape = _shape("randint", (shape,) if isinstance(shape, (tuple, list)) else (shape,))
    dt = _np_dtype(dtype, DType.Int64)
    return _draw(device, lambda g: g.integers(low, high, shape).astype(dt),
                 lambda g: g.randint(low, high, shape).astype(dt))


def randperm(n: int, dtype=None, device=None, opts=None) -> Tensor:
    """A random permutation of 0..n-1 (Int64 unless given)."""
    (), dtype, device = _options("randperm", (), dtype, device, opts)
    dt = _np_dtype(dtype, DType.Int64)
    return _draw(device, lambda g: g.permutation(n).astype(dt),
                 lambda g: g.permutation(n).astype(dt))


# -------------------------------------------------------------------- *_like


def _like(fn, x: TensorLike, dtype, device):
    if not isinstance(x, TensorLike):
        raise TypeError(f"{fn}: expected a tensor, got {type(x).__name__}")
    return (x.dtype if dtype is None else dtype), (x.device if device is None else device)


def zeros_like(x, dtype=None, device=None) -> Tensor:
    dtype, device = _like("zeros_like", x, dtype, device)
    return zeros(x.shape, dtype=dtype, device=device)


def ones_like(x, dtype=None, device=None) -> Tensor:
    dtype, device = _like("ones_like", x, dtype, device)
    return ones(x.shape, dtype=dtype, device=device)


def empty_like(x, dtype=None, device=None) -> Tensor:
    dtype, device = _like("empty_like", x, dtype, device)
    return empty(x.shape, dtype=dtype, device=device)


def full_like(x, value, dtype=None, device=None) -> Tensor:
    dtype, device = _like("full_like", x, dtype, device)
    return full(x.shape, value, dtype=dtype, device=device)


def rand_like(x, dtype=None, device=None) -> Tensor:
    dtype, device = _like("rand_like", x, dtype, device)
    return rand(x.shape, dtype=dtype, device=device)


def randn_like(x, dtype=None, device=None) -> Tensor:
    dtype, device = _like("randn_like", x, dtype, device)
    return randn(x.shape, dtype=dtype, device=device)


# ------------------------------------------------------------- from data


def from_numpy(array: np.ndarray) -> Tensor:
    """Wrap a NumPy array without copying (the Tensor sees later writes to it)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    dtype_of(array.dtype)
    return Tensor._wrap(array)


def _from_flat(fn, data, shape, device, np_dtype):
    arr = np.asarray(data, dtype=np_dtype)
    if arr.ndim != 1:
        arr = arr.reshape(-1)
    shape = _shape(fn, (shape,) if isinstance(shape, (tuple, list)) else (shape,))
    if math.prod(shape) != arr.size:
        raise ShapeError(f"{fn}: {arr.size} values do not fill shape {shape} "
                         f"({math.prod(shape)} elements)")
    device = Device.CPU if device is None else Device.parse(device)
    return Tensor._wrap(array_to_device(arr.reshape(shape), device))


def from_f32(data, shape, device=None) -> Tensor:
    """A Float32 tensor from a flat sequence of values and a shape."""
    return _from_flat("from_f32", data, shape, device, np.float32)


def from_f64(data, shape, device=None) -> Tensor:
    """A Float64 tensor from a flat sequence of values and a shape."""
    return _from_flat("from_f64", data, shape, device, np.float64)


def from_i64(data, shape, device=None) -> Tensor:
    """An Int64 tensor from a flat sequence of values and a shape."""
    return _from_flat("from_i64", data, shape, device, np.int64)


def from_dlpack(obj) -> Tensor:
    """Import a tensor from any DLPack producer (NumPy, CuPy, PyTorch, ...), zero-copy."""
    kind = obj.__dlpack_device__()[0] if hasattr(obj, "__dlpack_device__") else 1
    if kind == 1:   # kDLCPU
        return from_numpy(np.from_dlpack(obj))
    from .backend.array_module import cupy_module
    return Tensor._wrap(cupy_module().from_dlpack(obj))


def _check_int_range(fn, arr, target):
    """Python values converted to an integer dtype must fit it, with PyTorch's bounds:
    floats within [lowest, max] (NaN never), ints within [min, max], or for an
    unsigned type within [-max, max] (negatives wrap, as C++ conversion does)."""
    if target.kind not in "iu":
        return
    info = np.iinfo(target)
    lo, hi = arr.min(), arr.max()
    if arr.dtype.kind == "f":
        bad = [v for v in (lo, hi) if not float(info.min) <= v <= float(info.max)]
    else:
        low = -int(info.max) if target.kind == "u" else int(info.min)
        bad = [v for v in (lo, hi) if not low <= int(v) <= info.max]
    if bad:
        raise OverflowError(f"{fn}: value {bad[0]} cannot be converted to "
                            f"{dtype_of(target).name} without overflow")


def tensor(data, dtype=None, device=None, opts=None) -> Tensor:
    """A new tensor holding a copy of ``data`` (nested lists, scalars, arrays, tensors).

    Inferred dtypes follow PyTorch: Python floats give Float32, ints Int64,
    bools Bool; NumPy arrays keep their dtype.
    """
    (), dtype, device = _options("tensor", (), dtype, device, opts)
    if isinstance(data, TensorLike):
        arr = data._host().copy()
    elif isinstance(data, np.ndarray) or hasattr(data, "__array_interface__"):
        arr = np.array(data, copy=True)
    elif type(data).__module__.startswith("cupy"):
        arr = data.get()
    else:
        try:
            arr = np.array(data)
        except ValueError as e:
            raise ShapeError(f"tensor: data is not rectangular: {e}") from None
        if arr.dtype.kind not in "fbiu":
            raise DTypeError(f"tensor: cannot build a tensor from {type(data).__name__} "
                             f"values (NumPy inferred {arr.dtype})")
        if dtype is None:   # PyTorch defaults; an explicit dtype converts once, exactly
            if arr.dtype == np.float64:
                arr = arr.astype(np.float32)
            elif arr.dtype.kind in "iu":
                # NumPy infers uint64 for ints above the int64 range: PyTorch raises
                # rather than wrapping them to negatives.
                if arr.dtype == np.uint64 and arr.size and arr.max() > np.iinfo(np.int64).max:
                    raise OverflowError("tensor: integer value out of the Int64 range")
                arr = arr.astype(np.int64)
        elif arr.size:
            _check_int_range("tensor", arr, to_numpy_dtype(dtype))
    if dtype is not None:
        with np.errstate(over="ignore"):      # 1e40 as Float32 is inf, as in PyTorch
            arr = arr.astype(to_numpy_dtype(dtype))
    else:
        dtype_of(arr.dtype)
    return Tensor._wrap(array_to_device(arr, device))


# flodl spells the factories as associated functions: Tensor.zeros(...)
for _fn in (zeros, ones, empty, full, eye, arange, linspace, logspace, rand, randn, randint,
            randperm, zeros_like, ones_like, empty_like, full_like, rand_like, randn_like,
            from_numpy, from_f32, from_f64, from_i64, from_dlpack):
    setattr(Tensor, _fn.__name__, staticmethod(_fn))
del _fn

# ------------------------------------------------------- tensor utilities
# Functional forms of the non-differentiable TensorLike methods (PyTorch's
# ``torch.nonzero(x)`` ...). ``any``/``all`` stay methods only: exporting them would
# shadow the builtins under ``from flodl_core import *`` (as sum/max/min).


def _utility_input(fn, x):
    if not isinstance(x, TensorLike):
        raise TypeError(f"{fn}: expected a tensor, got {type(x).__name__}")
    return x


def nonzero(input, as_tuple: bool = False):
    """See :meth:`Tensor.nonzero`."""
    return _utility_input("nonzero", input).nonzero(as_tuple=as_tuple)


def count_nonzero(input, dim=None) -> Tensor:
    """See :meth:`Tensor.count_nonzero`."""
    return _utility_input("count_nonzero", input).count_nonzero(dim=dim)


def unique(input, sorted: bool = True, return_inverse: bool = False,
           return_counts: bool = False, dim=None):
    """See :meth:`Tensor.unique`."""
    return _utility_input("unique", input).unique(sorted=sorted, return_inverse=return_inverse,
                                                  return_counts=return_counts, dim=dim)


def bincount(input, weights=None, minlength: int = 0) -> Tensor:
    """See :meth:`Tensor.bincount`."""
    return _utility_input("bincount", input).bincount(weights=weights, minlength=minlength)


__all__ = ["zeros", "ones", "empty", "full", "eye", "arange", "linspace", "rand", "randn",
           "randint", "randperm", "zeros_like", "ones_like", "empty_like", "full_like",
           "rand_like", "randn_like", "from_numpy", "from_f32", "from_f64", "from_i64",
           "from_dlpack", "tensor", "logspace", "nonzero", "count_nonzero", "unique",
           "bincount"]
