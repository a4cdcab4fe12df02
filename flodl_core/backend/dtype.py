"""Element types and tensor options.

Each :class:`DType` maps to one NumPy dtype. BFloat16 comes from ``ml_dtypes``;
it is stored in 16 bits, while matmul and reductions compute in float32
(a bf16 running sum stops growing at 256).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field

import ml_dtypes
import numpy as np

from .device import Device

_BF16 = np.dtype(ml_dtypes.bfloat16)


class DType(enum.Enum):
    """Tensor element type. ``DType.Float32`` is the default."""

    Float16 = "float16"
    BFloat16 = "bfloat16"
    Float32 = "float32"
    Float64 = "float64"
    Int32 = "int32"
    Int64 = "int64"
    Bool = "bool"
    UInt8 = "uint8"

    @property
    def numpy(self) -> np.dtype:
        """The NumPy dtype that stores this type."""
        return _TO_NUMPY[self]

    @property
    def is_floating_point(self) -> bool:
        return self in _FLOATING

    @property
    def itemsize(self) -> int:
        return _TO_NUMPY[self].itemsize

    @staticmethod
    def from_numpy(np_dtype) -> "DType":
        """The DType stored as ``np_dtype``; raises DTypeError for unsupported types."""
        dt = _FROM_NUMPY.get(np.dtype(np_dtype))
        if dt is None:
            from ..errors import DTypeError
            supported = ", ".join(str(d.numpy) for d in DType)
            raise DTypeError(f"unsupported NumPy dtype {np.dtype(np_dtype)}; supported: {supported}")
        return dt

    def __repr__(self):
        return f"DType.{self.name}"

    __str__ = __repr__


_TO_NUMPY = {
    DType.Float16: np.dtype(np.float16),
    DType.BFloat16: _BF16,
    DType.Float32: np.dtype(np.float32),
    DType.Float64: np.dtype(np.float64),
    DType.Int32: np.dtype(np.int32),
    DType.Int64: np.dtype(np.int64),
    DType.Bool: np.dtype(np.bool_),
    DType.UInt8: np.dtype(np.uint8),
}
_FROM_NUMPY = {v: k for k, v in _TO_NUMPY.items()}
_FLOATING = frozenset({DType.Float16, DType.BFloat16, DType.Float32, DType.Float64})

# Half types whose matmuls and reductions run in float32.
HALF_NUMPY = frozenset({np.dtype(np.float16), _BF16})
BFLOAT16_NUMPY = _BF16


def dtype_of(np_dtype) -> DType:
    """Fast lookup used on hot paths (no validation beyond the dict)."""
    try:
        return _FROM_NUMPY[np_dtype]
    except KeyError:
        return DType.from_numpy(np_dtype)


def to_numpy_dtype(dtype) -> np.dtype:
    """Accept a DType, a NumPy dtype or a name and return the NumPy dtype."""
    if isinstance(dtype, DType):
        return _TO_NUMPY[dtype]
    if isinstance(dtype, str) and dtype in DType.__members__:
        return _TO_NUMPY[DType[dtype]]
    return _TO_NUMPY[DType.from_numpy(dtype)]


def is_floating_numpy(np_dtype) -> bool:
    return np_dtype.kind == "f" or np_dtype == _BF16


@dataclass(frozen=True)
class TensorOptions:
    """dtype and device for tensor creation; ``TensorOptions()`` is Float32 on CPU."""

    dtype: DType = DType.Float32
    device: Device = field(default_factory=lambda: Device.CPU)
