"""Turning registry samples into calls on a device, in a dtype."""
from __future__ import annotations

import numpy as np

import flodl_core as fl
from flodl_core.tensor import array_to_device


def is_float_array(a) -> bool:
    return isinstance(a, np.ndarray) and a.dtype.kind == "f"


def diff_positions(sample) -> list:
    return [i for i, a in enumerate(sample.args) if is_float_array(a) and i not in sample.nondiff]


def to_device_array(a, device, dtype=None):
    a = np.array(a, copy=True, order="K")  # keep non-contiguous layouts through the copy
    if dtype is not None and a.dtype.kind == "f":
        a = a.astype(dtype.numpy)
    if device.kind == "cuda":
        return array_to_device(np.ascontiguousarray(a), device)
    return a


def build_args(sample, device, dtype=None, as_variables=True, requires_grad=True):
    """Arrays become Variables (float, differentiable), Tensors (everything else)."""
    diff = set(diff_positions(sample))
    args = []
    for i, a in enumerate(sample.args):
        args.append(_convert(a, i in diff, device, dtype, as_variables, requires_grad))
    return args


def _convert(a, differentiable, device, dtype, as_variables, requires_grad):
    if isinstance(a, np.ndarray):
        if dtype is not None and a.dtype.kind == "f":
            src = a.astype(dtype.numpy)
        else:
            src = a
        data = src if device.kind == "cpu" else array_to_device(np.ascontiguousarray(src), device)
        t = fl.Tensor(data)
        if differentiable and as_variables:
            return fl.Variable(t, requires_grad=requires_grad)
        return t
    if isinstance(a, list) and a and all(isinstance(x, np.ndarray) for x in a):
        return [_convert(x, differentiable, device, dtype, as_variables, requires_grad)
                for x in a]
    return a


def flatten_outputs(out) -> list:
    if isinstance(out, (tuple, list)):
        return [o for o in out]
    return [out]


def host(x) -> np.ndarray:
    arr = x._data
    arr = arr if isinstance(arr, np.ndarray) else arr.get()
    if arr.dtype.name == "bfloat16":
        arr = arr.astype(np.float32)
    return arr
