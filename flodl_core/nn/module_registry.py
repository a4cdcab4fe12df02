"""The module registry: one :class:`ModuleInfo` per public layer.

Like the op registry, it tells the suite in ``tests/nn/test_module_registry.py``
how to build a small instance, which inputs to feed it and how to compute the
expected output independently in NumPy from the module's own ``state_dict()``.
The suite checks the forward (train and eval mode), input and parameter
gradients by float64 finite differences, and fails for a public layer without
an entry. Entries live next to the layers, in ``flodl_core/nn/layers/``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass
class ModuleInfo:
    """How to test one layer.

    Args:
        name: the class name (``"Linear"``).
        make: ``make(dtype)`` builds a small instance with float parameters of ``dtype``.
        inputs: ``inputs(rng)`` gives a list of argument tuples (float64 NumPy arrays
            become differentiable Variables, integer arrays constant Tensors).
        ref: ``ref(state, *args, training=bool)``: the expected output (NumPy array or
            tuple) from ``state`` (the module's ``state_dict()``) and the arguments.
        modes: which of "train"/"eval" to check the forward in.
        gradcheck: whether to finite-difference input and parameter gradients.
        stochastic: the train-mode output is random (dropout): the forward is
            checked only in eval mode, and properties go in a unit test.
        atol, rtol: forward tolerance (float64).
    """

    name: str
    make: Callable
    inputs: Callable
    ref: Callable
    modes: tuple = ("train", "eval")
    gradcheck: bool = True
    stochastic: bool = False
    atol: float = 1e-10
    rtol: float = 1e-8
    grad_atol: float = 1e-5
    grad_rtol: float = 1e-3


MODULE_REGISTRY: dict = {}


def register_module(info: ModuleInfo) -> ModuleInfo:
    if info.name in MODULE_REGISTRY:
        raise ValueError(f"duplicate module registry entry for {info.name!r}")
    MODULE_REGISTRY[info.name] = info
    return info


def all_moduleinfos() -> list:
    from . import layers  # noqa: F401  (each layer module registers its entries)
    return [MODULE_REGISTRY[k] for k in sorted(MODULE_REGISTRY)]
