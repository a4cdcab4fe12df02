"""Small helpers shared by the op families (array-level, no graph)."""
from __future__ import annotations

import numbers

import numpy as np

from ...backend.array_module import xp_of
from ...backend.dtype import BFLOAT16_NUMPY, HALF_NUMPY, dtype_of
from ...errors import DTypeError, FlodlIndexError, ShapeError

Number = numbers.Number
FLOAT32 = np.dtype(np.float32)
BOOL = np.dtype(np.bool_)
NATIVE_FLOATS = frozenset({FLOAT32, np.dtype(np.float64)})


def is_float(np_dtype) -> bool:
    return np_dtype.kind == "f" or np_dtype == BFLOAT16_NUMPY


def float_input(x):
    """Integer and bool inputs of float math promote to Float32, as in PyTorch."""
    if x.dtype.kind in "biu":
        return x.astype(FLOAT32)
    return x


def require_float(op, x):
    if not is_float(x.dtype):
        raise DTypeError(f"{op}: expected a floating-point tensor, got {dtype_of(x.dtype)}")


def compute_dtype(x):
    """Half types compute matmuls and reductions in float32 (bf16 sums saturate at 256)."""
    return FLOAT32 if x.dtype in HALF_NUMPY else x.dtype


def upcast(x):
    return x.astype(FLOAT32) if x.dtype in HALF_NUMPY else x


def apply_scalar(op, x, value, fn):
    """``fn(x, value)`` with PyTorch's promotion for a Python scalar operand.

    The scalar never changes a float tensor's dtype; half tensors compute in
    float32 and round once (the scalar is not rounded to half first); an int
    tensor with a float scalar computes in Float32.
    """
    if not isinstance(value, Number) or isinstance(value, complex):
        raise TypeError(f"{op}: expected a real Python number, got {type(value).__name__}")
    if isinstance(value, np.generic):
        value = value.item()   # a NumPy scalar must not widen the tensor (NumPy 2 rules)
    if x.dtype in HALF_NUMPY:
        return fn(x.astype(FLOAT32), value).astype(x.dtype)
    if x.dtype.kind in "biu" and isinstance(value, (float, np.floating)):
        return fn(x.astype(FLOAT32), value)
    return fn(x, value)


def norm_dim(dim, ndim, op) -> int:
    """Wrap a possibly negative dim into range, or raise naming the op."""
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__}")
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise FlodlIndexError(f"{op}: dim {dim} out of range for a {ndim}-d tensor "
                              f"(expected {-n}..{n - 1})")
    return int(dim) % n


def norm_dims(dims, ndim, op) -> tuple:
    dims = tuple(norm_dim(d, ndim, op) for d in dims)
    if len(set(dims)) != len(dims):
        raise ShapeError(f"{op}: repeated dim in {dims}")
    return dims


def xp(x):
    return xp_of(x)


def promote_types(da, db):
    """PyTorch's promotion of two tensor dtypes: a float dtype wins over an
    integer/bool one; Float16 with BFloat16 gives Float32; else NumPy's rule."""
    if da == db:
        return da
    fa, fb = is_float(da), is_float(db)
    if fa != fb:
        return da if fa else db
    if fa and {da, db} == HALF_NUMPY:
        return FLOAT32
    return np.result_type(da, db)


def combine_categories(higher, lower):
    """PyTorch's combine_categories: the dtype of a lower-priority operand counts
    only when it is of a higher category (float over int over bool)."""
    if higher is None:
        return lower
    if lower is None or is_float(higher):
        return higher
    if higher == BOOL or is_float(lower):
        return promote_types(higher, lower)
    return higher


def result_type(*arrays):
    """PyTorch's result dtype of an op on these arrays. As in torch, 0-d tensors
    rank below tensors with dims: Float32 with a 0-d Float64 stays Float32, Int32
    with a 0-d Int64 stays Int32, but Int32 with a 0-d Float64 gives Float64."""
    dims = zero = None
    for a in arrays:
        if a.ndim:
            dims = a.dtype if dims is None else promote_types(dims, a.dtype)
        else:
            zero = a.dtype if zero is None else promote_types(zero, a.dtype)
    return combine_categories(dims, zero)


def promote_pair(a, b):
    """Cast two arrays to their PyTorch result dtype (no copy when they agree)."""
    da, db = a.dtype, b.dtype
    if da == db:
        return a, b
    # NumPy multiplies a bool mask into float32/float64 in one pass: no cast needed.
    if (da == BOOL and db in NATIVE_FLOATS) or (db == BOOL and da in NATIVE_FLOATS):
        return a, b
    dt = result_type(a, b)
    return (a if da == dt else a.astype(dt)), (b if db == dt else b.astype(dt))
