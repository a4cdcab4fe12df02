"""An op without a registry entry, or a Function no entry exercises, fails here."""
from __future__ import annotations

import numpy as np

import flodl_core as fl
from flodl_core.autograd.function import (ALL_FUNCTIONS, DIFFERENTIABLE_FUNCTIONS,
                                          DIFFERENTIABLE_METHODS)
from flodl_core.autograd.registry import all_opinfos, covered_names
from helpers import build_args, diff_positions, flatten_outputs


def test_every_public_differentiable_method_has_an_entry():
    missing = sorted(set(DIFFERENTIABLE_METHODS) - covered_names())
    assert not missing, f"differentiable methods without a registry entry: {missing}"


def test_every_public_functional_op_has_an_entry():
    missing = sorted({f"F.{n}" for n in DIFFERENTIABLE_FUNCTIONS} - covered_names())
    assert not missing, f"nn.functional ops without a registry entry: {missing}"


def test_every_entry_names_a_public_op():
    from flodl_core.nn.losses import LOSSES
    public = set(DIFFERENTIABLE_METHODS) | {f"F.{n}" for n in DIFFERENTIABLE_FUNCTIONS}
    public |= {f"loss.{n}" for n in LOSSES}
    unknown = sorted(covered_names() - public)
    assert not unknown, f"registry entries for unknown methods: {unknown}"


def _collect(outputs, seen):
    stack = [o._creator for o in outputs if isinstance(o, fl.Variable) and o._creator]
    visited = set()
    while stack:
        node = stack.pop()
        if id(node) in visited:
            continue
        visited.add(id(node))
        seen.add(type(node))
        for x in node.inputs or ():
            if x._creator is not None:
                stack.append(x._creator)


def test_every_function_is_exercised_by_the_registry():
    """Forward graphs and double-backward graphs of all samples must reach every
    Function class the package defines (internal ones included)."""
    seen = set()
    for info in all_opinfos():
        for sample in info.sample_inputs(np.random.default_rng(0)):
            if not diff_positions(sample):
                continue
            args = build_args(sample, fl.Device.CPU, fl.DType.Float64)
            outs = [o for o in flatten_outputs(info.op(*args, **sample.kwargs))
                    if isinstance(o, fl.Variable) and o.requires_grad]
            _collect(outs, seen)
            xs = [args[i] for i in diff_positions(sample)]
            gys = [fl.Variable(fl.ones_like(o), requires_grad=True) for o in outs]
            if outs and info.supports_gradgrad:
                grads = fl.grad(outs, xs, gys, create_graph=True, allow_unused=True)
                _collect([g for g in grads if g is not None], seen)
    # Private bases (``_ConvBase``) are never called themselves.
    ours = {f for f in ALL_FUNCTIONS
            if f.__module__.startswith("flodl_core.") and not f.__name__.startswith("_")}
    missing = sorted(f.__name__ for f in ours - seen)
    assert not missing, f"Functions no registry sample exercises: {missing}"


def test_entries_without_double_backward_say_why():
    for info in all_opinfos():
        if not info.supports_gradgrad:
            assert len(info.gradgrad_reason) > 10, info.name


def test_every_loss_has_an_entry():
    from flodl_core.nn.losses import LOSSES
    missing = sorted({f"loss.{n}" for n in LOSSES} - covered_names())
    assert not missing, f"losses without a registry entry: {missing}"
