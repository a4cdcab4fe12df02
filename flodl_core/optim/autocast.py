"""autocast: automatic mixed precision, as ``torch.autocast``.

Inside an autocast region each op picks its own precision:

* matmul-like ops (matmul, addmm, linear, conv*, conv_transpose*, prelu,
  scaled_dot_product_attention, the recurrent cells and fused sequences) cast
  their floating inputs to the low dtype (Float16 or BFloat16);
* numerically sensitive ops (softmax, log_softmax, the normalisations, norms,
  reductions, exp/log/pow and friends, every loss) cast them to Float32;
* ops that take several tensors of one dtype (addcmul, addcdiv, atan2, cat,
  bilinear, grid_sample, scatter_add, index_add) promote them to the widest;
* everything else runs in the dtype of its inputs.

Float64 inputs are never cast, integer and bool inputs neither. The casts are
ordinary differentiable ops, so every gradient arrives in its input's own
dtype (a Float32 Parameter gets a Float32 ``.grad``). Backward never runs under
autocast. See ``docs/autocast.md`` for the op lists and the cast cache.

>>> import flodl_core as fl
>>> from flodl_core.optim.autocast import autocast
>>> x, w = fl.randn(2, 3), fl.randn(3, 4)
>>> with autocast(fl.DType.BFloat16):
...     y = x @ w                       # lower precision
...     p = y.softmax(-1)               # float32
>>> y.dtype, p.dtype
(DType.BFloat16, DType.Float32)
"""
from __future__ import annotations

import functools

import numpy as np

from ..autograd.function import autocast_region
from ..autograd.grad_mode import state
from ..backend.dtype import DType, dtype_of
from ..errors import DTypeError

__all__ = ["autocast", "is_autocast_enabled", "get_autocast_dtype"]

_LOW = (DType.Float16, DType.BFloat16)


def _parse_dtype(dtype) -> DType:
    """DType.Float16 / DType.BFloat16, or their names ("float16", "BFloat16", ...)."""
    if isinstance(dtype, DType):
        dt = dtype
    else:
        dt = None
        if isinstance(dtype, str):
            for d in DType:
                if dtype in (d.value, d.name):
                    dt = d
                    break
            if dt is None:
                hint = (" (autocast covers every device: give only the dtype)"
                        if dtype.split(":")[0] in ("cpu", "cuda") else "")
                raise DTypeError(f"autocast: unknown dtype {dtype!r}; expected "
                                 f"DType.Float16 or DType.BFloat16{hint}")
        else:
            try:
                dt = dtype_of(np.dtype(dtype))
            except (TypeError, ValueError):
                raise DTypeError(f"autocast: unknown dtype {dtype!r}; expected "
                                 "DType.Float16 or DType.BFloat16") from None
    if dt not in _LOW:
        raise DTypeError(f"autocast: dtype must be DType.Float16 or DType.BFloat16, got {dt}")
    return dt


class autocast:
    """Run the ops of a region in mixed precision (thread-local, nestable).

    Args:
        dtype: the low-precision dtype, ``DType.Float16`` (default) or
            ``DType.BFloat16`` (or the names ``"float16"`` / ``"bfloat16"``).
        enabled: False turns autocast off for the region (nested regions
            restore the outer setting on exit).
        cache_enabled: cache the low-precision cast of each Float32 Parameter for
            the outermost region, so a weight used several times is cast once.

    A context manager (``with autocast(DType.BFloat16): ...``) and a decorator
    (``@autocast()``). Wrap the forward pass and the loss; call ``backward()``
    after the region (inside it also works: backward never runs autocast).
    """

    def __init__(self, dtype=DType.Float16, enabled: bool = True, cache_enabled: bool = True):
        self.dtype = _parse_dtype(dtype)
        self.enabled = bool(enabled)
        self.cache_enabled = bool(cache_enabled)
        self._np_dtype = self.dtype.numpy
        self._prev = []

    def __enter__(self):
        st = state
        self._prev.append((st.autocast, st.autocast_dtype, st.autocast_cache_enabled))
        autocast_region(1)        # before the switch: ops look at it first
        if st.autocast_nesting == 0:
            st.autocast_cache = {}
        st.autocast_nesting += 1
        st.autocast_dtype = self._np_dtype
        st.autocast_cache_enabled = self.cache_enabled
        st.autocast = self.enabled
        return self

    def __exit__(self, *exc):
        st = state
        st.autocast, st.autocast_dtype, st.autocast_cache_enabled = self._prev.pop()
        st.autocast_nesting -= 1
        if st.autocast_nesting == 0:
            st.autocast_cache = None     # drop the cached casts with the outermost region
        autocast_region(-1)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with autocast(self.dtype, self.enabled, self.cache_enabled):
                return fn(*args, **kwargs)
        return wrapper

    def __repr__(self):
        return (f"autocast(dtype={self.dtype}, enabled={self.enabled}, "
                f"cache_enabled={self.cache_enabled})")


def is_autocast_enabled() -> bool:
    """Whether ops in this thread run under autocast now."""
    return state.autocast


def get_autocast_dtype() -> DType:
    """The low-precision dtype of the current autocast region (Float16 outside any)."""
    return dtype_of(state.autocast_dtype)
