"""Graph nodes and what each kind does when the graph runs.

A built graph is a list of nodes in execution order. Each node reads the outputs
of earlier nodes (its stream inputs), optionally a dict of named refs (tagged
outputs of this pass, or state carried from the previous pass), and produces one
value. The kinds:

    module   one module: entry, through, fork, a split branch, also's inner module
    add      sum of its inputs (the join of also / also_with)
    merge    MergeOp or a custom module over the open streams of a split
    input    an auxiliary graph input declared with .input()
    loop     a body repeated for_n / while_cond / until_cond
    gate     soft mixture: a router weighs every expert's output
    switch   hard routing: a selector picks a branch per sample
    map      a body applied to each element / slice of a tensor
"""
from __future__ import annotations

import enum

import numpy as np

from ..autograd.grad_mode import no_grad
from ..autograd.ops.elementwise import where
from ..autograd.ops.indexing import cat, stack
from ..creation import tensor
from ..errors import GraphError, ShapeError
from ..nn.module import Module, ModuleList
from ..tensor import TensorLike


class MergeOp(enum.Enum):
    """How ``merge`` combines the open streams of a ``split``."""

    ADD = "add"      # elementwise sum, in branch order
    MEAN = "mean"    # elementwise mean
    CAT = "cat"      # concatenation along the last dim


class Node:
    """One step of a built graph (see the module docstring for the kinds)."""

    __slots__ = ("id", "kind", "module", "inputs", "refs", "tag", "step", "spec")

    def __init__(self, id, kind, module=None, inputs=(), step="", spec=None):
        self.id = id
        self.kind = kind
        self.module = module       # the Module registered for this node (or None)
        self.inputs = list(inputs)  # ids of the nodes whose outputs feed this one
        self.refs = {}             # ref name -> ("tag", node id) | ("state", tag)
        self.tag = None
        self.step = step           # "step 3 .through()" for messages
        self.spec = spec or {}     # kind-specific settings (loop count, merge op, ...)

    @property
    def name(self) -> str:
        """The name parameters are registered under: the tag, else the node id."""
        return self.tag or self.id

    def __repr__(self):
        return f"<Node {self.id} {self.kind}{' tag=' + self.tag if self.tag else ''}>"


# ---------------------------------------------------------------- containers
class LoopModule(Module):
    """Holds a loop's body and condition so their parameters are registered."""

    def __init__(self, body, cond=None):
        super().__init__()
        self.body = body
        if cond is not None:
            self.cond = cond


class GateModule(Module):
    def __init__(self, router, experts):
        super().__init__()
        self.router = router
        self.experts = ModuleList(experts)


class SwitchModule(Module):
    def __init__(self, selector, branches):
        super().__init__()
        self.selector = selector
        self.branches = ModuleList(branches)


class MapModule(Module):
    def __init__(self, body):
        super().__init__()
        self.body = body


# ---------------------------------------------------------------- running
def call(module, x, refs):
    """``module(x)``, or ``module.forward_named(x, refs)`` when refs are wired."""
    if refs:
        return module.forward_named(x, refs)
    return module(x)


def run_merge(node, values):
    op = node.spec.get("op")
    if isinstance(op, MergeOp):
        if op is MergeOp.CAT:
            return cat(values, -1)
        out = values[0]
        for v in values[1:]:
            out = out + v
        return out / len(values) if op is MergeOp.MEAN else out
    return node.module(values)


def _halting(node, signal, batch: int, iteration: int):
    """The condition's output as a bool array [batch] (or a bool): positive = halt."""
    if isinstance(signal, TensorLike):
        arr = signal.to_numpy() if hasattr(signal, "to_numpy") else np.asarray(signal._data)
    else:
        arr = np.asarray(signal)
    arr = np.asarray(arr, dtype=np.float64)
    if arr.size == 1:
        return np.full(batch, bool(arr.reshape(()) > 0))
    flat = arr.reshape(-1) if arr.ndim == 2 and arr.shape[1] == 1 else arr
    if flat.shape != (batch,):
        raise ShapeError(f"{node.step}: the loop condition returned shape {arr.shape} at "
                         f"iteration {iteration}; expected one value per sample ({batch},) "
                         f"or a single value for the whole batch")
    return flat > 0


def _masked(new, old, active):
    """Rows where ``active`` take ``new``; halted rows keep ``old``."""
    if active.all():
        return new
    mask = active.reshape((-1,) + (1,) * (new.ndim - 1))
    return where(tensor(mask, device=new.device), new, old)


def run_loop(node, graph, x, refs):
    """Iterate the body. Halting is per sample: a sample whose condition turned
    positive keeps its state while the others go on; the loop ends when every
    sample has halted or at max_iter."""
    loop = node.module
    body, cond = loop.body, getattr(loop, "cond", None)
    mode, spec = node.spec["mode"], node.spec
    traces = []
    body.reset()

    def step(state):
        out = call(body, state, refs)
        trace = getattr(body, "trace", None)
        if callable(trace):
            value = trace()
            if value is not None:
                traces.append(value)
        return out

    state = x
    if mode == "for":
        for _ in range(spec["n"]):
            state = step(state)
    else:
        batch = state.shape[0] if state.ndim else 1
        active = np.ones(batch, dtype=bool)
        for i in range(spec["max_iter"]):
            if mode == "while":
                with no_grad():
                    active &= ~_halting(node, cond(state), batch, i)
                if not active.any():
                    break
                state = _masked(step(state), state, active)
            else:   # until: body first, then the test (not after the last run)
                state = _masked(step(state), state, active)
                if i == spec["max_iter"] - 1:
                    break
                with no_grad():
                    active &= ~_halting(node, cond(state), batch, i)
                if not active.any():
                    break
    graph._traces[node.name] = traces
    return state


def run_gate(node, x, refs):
    gate = node.module
    weights = call(gate.router, x, refs)
    n = len(gate.experts)
    if weights.ndim != 2 or weights.shape[1] != n or weights.shape[0] != x.shape[0]:
        raise ShapeError(f"{node.step}: the router returned weights of shape {weights.shape}; "
                         f"expected [batch, experts] = [{x.shape[0]}, {n}]")
    out = None
    for i, expert in enumerate(gate.experts):
        y = expert(x)
        w = weights[:, i:i + 1]
        if y.ndim != 2:
            w = w.reshape((y.shape[0],) + (1,) * (y.ndim - 1))
        out = y * w if out is None else out + y * w
    return out


def run_switch(node, x, refs):
    switch = node.module
    branches = switch.branches
    choice = call(switch.selector, x, refs)
    if isinstance(choice, TensorLike):
        choice = choice.to_numpy()
    idx = np.asarray(choice)
    if idx.dtype.kind not in "iub":
        raise GraphError(f"{node.step}: the selector returned {idx.dtype} values; expected "
                         f"integer branch indices")
    if idx.size == 1 and idx.ndim <= 1 and not (idx.ndim == 1 and x.shape[0] != 1):
        i = int(idx.reshape(()))
        _check_branch(node, i, len(branches))
        return branches[i](x)
    idx = idx.reshape(-1)
    if idx.shape[0] != x.shape[0]:
        raise ShapeError(f"{node.step}: the selector returned {idx.shape[0]} choices for a "
                         f"batch of {x.shape[0]}; expected one per sample or one in all")
    for i in np.unique(idx):
        _check_branch(node, int(i), len(branches))
    first = int(idx[0])
    if (idx == first).all():
        return branches[first](x)
    # Group rows by branch, run each used branch once, then put rows back in order.
    outs, order = [], []
    for b in np.unique(idx):
        rows = np.nonzero(idx == b)[0]
        order.append(rows)
        outs.append(branches[int(b)](x.index_select(0, tensor(rows, device=x.device))))
    order = np.concatenate(order)
    inverse = np.empty_like(order)
    inverse[order] = np.arange(order.size)
    return cat(outs, 0).index_select(0, tensor(inverse, device=x.device))


def _check_branch(node, i, n):
    if not 0 <= i < n:
        raise GraphError(f"{node.step}: the selector chose branch {i}; there are {n} "
                         f"branches (0..{n - 1})")


def run_map(node, x, refs, source):
    body = node.module.body
    mode, batched = node.spec["mode"], node.spec.get("batched", False)
    if mode == "slices":
        n = node.spec["n"]
        d = source.shape[-1]
        if d % n:
            raise ShapeError(f"{node.step}: map(...).slices({n}) needs the last dim to be "
                             f"divisible by {n}; got shape {source.shape}")
        if batched:
            lead = source.shape[:-1]
            y = call(body, source.reshape(lead + (n, d // n)), refs)
            return y.reshape(lead + (n * y.shape[-1],))
        size = d // n
        return cat([call(body, source[..., k * size:(k + 1) * size], refs)
                    for k in range(n)], -1)
    if batched:
        return call(body, source, refs)
    return stack([call(body, source[i], refs) for i in range(source.shape[0])], 0)
