"""Leak diagnostics: count live tensors and graph nodes.

The counts walk the objects tracked by Python's cycle collector, so they cost
nothing on the hot path and also see objects kept alive only by a reference
cycle (which is what a leak test wants to catch, with ``gc.disable()``).
"""
from __future__ import annotations

import gc

from ..tensor import Tensor
from .function import Function
from .variable import Variable


def live_tensor_count() -> int:
    """Number of Tensor and Variable objects currently alive."""
    return sum(1 for o in gc.get_objects() if isinstance(o, (Tensor, Variable)))


def live_node_count() -> int:
    """Number of graph nodes (Function instances) currently alive."""
    return sum(1 for o in gc.get_objects() if isinstance(o, Function))
