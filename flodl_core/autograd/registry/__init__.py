"""The op registry: one :class:`OpInfo` per public differentiable op.

An entry says how to call the op, which inputs to try (broadcasting, size-1
and 0-d shapes, non-contiguous views, domains away from kinks), a NumPy
reference, the dtypes its forward supports, whether double backward works
(and if not, why) and its tolerances. The suites in ``gradcheck/`` iterate
the registry; an op without an entry makes them fail.

Entries live in one module per op family, mirroring ``autograd/ops``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ...backend.dtype import DType


@dataclass
class SampleInput:
    """One way to call an op.

    ``args`` holds NumPy arrays and plain values. Float arrays become Variables
    (the differentiable inputs, unless ``nondiff`` lists their positions);
    integer and bool arrays become constant Tensors; anything else passes as is.
    """

    args: tuple
    kwargs: dict = field(default_factory=dict)
    nondiff: tuple = ()
    desc: str = ""

    def __repr__(self):
        parts = []
        for a in self.args:
            if isinstance(a, np.ndarray):
                tag = "" if a.flags.c_contiguous or a.ndim < 1 else " noncontig"
                parts.append(f"{a.dtype}{list(a.shape)}{tag}")
            elif isinstance(a, (list, tuple)) and a and isinstance(a[0], np.ndarray):
                parts.append("[" + ", ".join(f"{x.dtype}{list(x.shape)}" for x in a) + "]")
            else:
                parts.append(repr(a))
        parts += [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"({', '.join(parts)}){' ' + self.desc if self.desc else ''}"


# Forward tolerances (atol, rtol) against the float64 reference, per dtype.
DEFAULT_FWD_TOL = {
    DType.Float64: (1e-10, 1e-8),
    DType.Float32: (1e-5, 1e-4),
    DType.Float16: (1e-2, 1e-2),
    DType.BFloat16: (5e-2, 3e-2),
}


@dataclass
class OpInfo:
    """Everything the suites need to know about one op.

    Args:
        name: the public method name (``"sum_dim"``).
        sample_inputs: ``fn(rng) -> list[SampleInput]`` with float64 arrays.
        ref: NumPy reference taking the same arguments as arrays.
        op: how to call it on Variables/Tensors; default ``x.<name>(*rest)``.
        aliases: other public names this entry covers (``view`` for reshape).
        dtypes: dtypes whose forward is compared with the reference.
        supports_gradgrad: whether double backward is checked.
        gradgrad_reason: why not, when it is not.
        fwd_tol: per-dtype (atol, rtol) overrides for the forward check.
        grad_atol, grad_rtol, eps: finite-difference settings (float64).
    """

    name: str
    sample_inputs: Callable
    ref: Callable
    op: Callable | None = None
    aliases: tuple = ()
    dtypes: tuple = (DType.Float64, DType.Float32)
    supports_gradgrad: bool = True
    gradgrad_reason: str = ""
    fwd_tol: dict = field(default_factory=dict)
    grad_atol: float = 1e-5
    grad_rtol: float = 1e-3
    eps: float = 1e-6

    def __post_init__(self):
        if not self.supports_gradgrad and not self.gradgrad_reason:
            raise ValueError(f"OpInfo {self.name}: say why double backward is unsupported")
        if self.op is None:
            name = self.name
            self.op = lambda x, *args, **kwargs: getattr(x, name)(*args, **kwargs)

    def tolerance(self, dtype: DType):
        return self.fwd_tol.get(dtype, DEFAULT_FWD_TOL[dtype])

    def __repr__(self):
        return f"OpInfo({self.name})"


OP_REGISTRY: dict = {}


def register(info: OpInfo) -> OpInfo:
    if info.name in OP_REGISTRY:
        raise ValueError(f"duplicate registry entry for {info.name!r}")
    OP_REGISTRY[info.name] = info
    return info


def all_opinfos() -> list:
    """Every registered entry, sorted by name (importing the family modules)."""
    from . import (activation, arithmetic, attention, conv, conversion,  # noqa: F401
                   dropout, elementwise, embedding, indexing, linalg, linear, losses,
                   normalization, pool, rearrange, recurrent, reductions, resample,
                   scatter, shape, sorting, special)
    return [OP_REGISTRY[k] for k in sorted(OP_REGISTRY)]


def covered_names() -> set:
    names = set()
    for info in all_opinfos():
        names.add(info.name)
        names.update(info.aliases)
    return names
