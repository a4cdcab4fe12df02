"""The backward engine: reverse-mode differentiation over the recorded graph.

Scheduling uses generation numbers: a Function's generation is one more than
the largest generation among its inputs' creators, so every consumer of a
Variable has a higher generation than its producer. Popping nodes from a
max-heap on generation therefore processes a node only after every gradient
flowing into its outputs has arrived. The loop is iterative: graph depth is
limited by memory, not by Python's recursion limit.

Pending gradients live in a table keyed by node during the pass. Only leaves
(and Variables that asked for ``retain_grad()``) keep ``.grad`` afterwards.
"""
from __future__ import annotations

import heapq
import itertools

from ..errors import AutogradError, ShapeError
from ..tensor import TensorLike
from .function import _as_array
from .grad_mode import set_grad_enabled, state
from .variable import Variable


def run_backward(roots, root_grads, retain_graph: bool, create_graph: bool,
                 inputs=None, allow_unused: bool = False):
    """Differentiate ``roots`` (seeded with ``root_grads``).

    With ``inputs`` None, gradients accumulate into the ``.grad`` of leaves.
    Otherwise the gradients of ``inputs`` are returned (leaves untouched), the
    ``fl.grad`` behaviour.

    Backward never runs under autocast, even when called inside an autocast
    region: the formulas use the dtypes the forward chose (as in PyTorch). It
    also empties autocast's cache of Parameter casts: the optimizer step that
    usually follows updates the Parameters in place, which would make the
    cached casts stale for the region's next forward.
    """
    st = state
    if st.autocast_cache:
        st.autocast_cache.clear()
    if not st.autocast:
        return _run_backward(roots, root_grads, retain_graph, create_graph, inputs,
                             allow_unused)
    st.autocast = False
    try:
        return _run_backward(roots, root_grads, retain_graph, create_graph, inputs,
                             allow_unused)
    finally:
        st.autocast = True


def _run_backward(roots, root_grads, retain_graph, create_graph, inputs, allow_unused):
    pending = {}          # node -> [grad per output]
    heap = []
    tie = itertools.count()
    leaf_grads = {}       # id(leaf) -> [leaf, grad]
    captured = None
    capture_leaf = capture_node = None
    if inputs is not None:
        captured = [None] * len(inputs)
        capture_leaf = {}
        capture_node = {}
        for i, v in enumerate(inputs):
            if not isinstance(v, Variable):
                raise TypeError(f"grad: inputs must be Variables, got {type(v).__name__}")
            if not v._requires_grad:
                raise AutogradError(f"grad: input {i} does not require grad")
            if v._creator is None:
                capture_leaf.setdefault(id(v), []).append(i)
            else:
                capture_node.setdefault((id(v._creator), v._index), []).append(i)

    summer = _GradSum(create_graph)
    with set_grad_enabled(create_graph):
        for root, g in zip(roots, root_grads):
            g = _seed_grad(root, g)
            creator = root._creator
            if creator is None:
                _accumulate_leaf(leaf_grads, root, g, summer)
                continue
            slot = pending.get(creator)
            if slot is None:
                pending[creator] = slot = [None] * creator.n_outputs
                heapq.heappush(heap, (-creator.generation, next(tie), creator))
            slot[root._index] = g if slot[root._index] is None else summer.add(
                slot[root._index], g)

        anomaly = state.anomaly
        free_now = not retain_graph and not create_graph
        visited = [] if (not retain_graph and create_graph) else None
        while heap:
            node = heapq.heappop(heap)[2]
            grads = pending.pop(node)
            summer.hand_over(grads)
            node_inputs = node.inputs
            if node_inputs is None:
                raise AutogradError(
                    f"backward: the graph through '{node.op_name}' was already freed by an "
                    "earlier backward; pass retain_graph=True to the first backward to "
                    "differentiate twice" + _where(node))
            if node._retained is not None or capture_node:
                _deliver_nonleaf(node, grads, create_graph, capture_node, captured)
            if node.n_outputs > 1:
                grads = _fill_missing(node, grads)
            if anomaly:
                # The ops inside a backward formula are not user code: a non-finite
                # gradient is reported once, below, under this node's name.
                state.anomaly = False
                try:
                    gxs = node.backward(*grads)
                finally:
                    state.anomaly = True
            else:
                gxs = node.backward(*grads)
            if type(gxs) is not tuple:
                gxs = (gxs,)
            if len(gxs) != len(node_inputs):
                raise AutogradError(f"backward of '{node.op_name}' returned {len(gxs)} "
                                    f"gradients for {len(node_inputs)} inputs")
            if anomaly:
                from .function import _check_finite
                _check_finite(node.op_name, "backward",
                              [g._data for g in gxs if g is not None],
                              [g._data for g in grads if g is not None], node.trace)
            for x, gx in zip(node_inputs, gxs):
                if gx is None or not x._requires_grad:
                    continue
                if type(gx) is not Variable:
                    raise AutogradError(
                        f"backward of '{node.op_name}' returned a {type(gx).__name__} for one "
                        "of its inputs; backward formulas must return Variables (or None)")
                gd = gx._data
                xd = x._data
                if gd.shape != xd.shape or gd.dtype != xd.dtype:
                    gx = _conform(node, x, gx)
                creator = x._creator
                if creator is None:
                    entry = leaf_grads.get(id(x))
                    if entry is None:
                        leaf_grads[id(x)] = [x, gx]
                    else:
                        entry[1] = summer.add(entry[1], gx)
                    continue
                slot = pending.get(creator)
                if slot is None:
                    pending[creator] = slot = [None] * creator.n_outputs
                    heapq.heappush(heap, (-creator.generation, next(tie), creator))
                i = x._index
                slot[i] = gx if slot[i] is None else summer.add(slot[i], gx)
            if free_now:
                node.release()
            elif visited is not None:
                visited.append(node)
        if visited:
            for node in visited:
                node.release()

    if inputs is not None:
        for key, idxs in capture_leaf.items():
            entry = leaf_grads.get(key)
            for i in idxs:
                captured[i] = None if entry is None else _as_variable(entry[1])
        for i, g in enumerate(captured):
            if g is None and not allow_unused:
                raise AutogradError(f"grad: input {i} was not used to compute the outputs "
                                    "(pass allow_unused=True to get None for it)")
        return tuple(captured)

    for leaf, g in leaf_grads.values():
        old = leaf._grad
        if create_graph:
            g = _as_variable(g)
            leaf._grad = g if old is None else _as_variable(old) + g
        elif old is None:
            leaf._grad = g._data
        else:
            # Never add in place: the old grad may be aliased by the user.
            old_data = old._data if type(old) is Variable else old
            leaf._grad = _as_array(old_data + g._data)
    return None


# ----------------------------------------------------------------- helpers


def _seed_grad(root, g):
    if not isinstance(root, Variable):
        raise TypeError(f"backward: expected a Variable, got {type(root).__name__}")
    if not root._requires_grad:
        raise AutogradError("backward: the Variable does not require grad and has no "
                            "graph (did the computation run under no_grad, or from "
                            "Variables with requires_grad=False?)")
    if g is None:
        if root._data.size != 1:
            raise ShapeError(f"backward: a gradient can be implied only for one-element "
                             f"outputs; got shape {root.shape}, pass grad= explicitly")
        from ..backend.array_module import xp_of
        return Variable._make(xp_of(root._data).ones_like(root._data))
    if isinstance(g, Variable):
        pass
    elif isinstance(g, TensorLike):
        g = Variable._make(g._data)
    else:
        raise TypeError(f"backward: grad must be a Tensor or Variable, got {type(g).__name__}")
    if g.shape != root.shape:
        raise ShapeError(f"backward: grad shape {g.shape} does not match output shape "
                         f"{root.shape}")
    if g._data.dtype != root._data.dtype:
        g = g.to_dtype(root.dtype)
    return g


def _conform(node, x, gx):
    """Sum a broadcast gradient back to the input's shape and cast to its dtype."""
    xd = x._data
    if gx._data.shape != xd.shape:
        if not _sums_to(gx._data.shape, xd.shape):
            raise ShapeError(f"backward of '{node.op_name}' produced a gradient of shape "
                             f"{gx.shape} for an input of shape {x.shape}")
        gx = gx.sum_to(xd.shape)
    if gx._data.dtype != xd.dtype:
        gx = gx.to_dtype(x.dtype)
    return gx


def _sums_to(gshape, shape) -> bool:
    if len(gshape) < len(shape):
        return False
    for g, s in zip(gshape[len(gshape) - len(shape):], shape):
        if s != 1 and g != s:
            return False
    return True


class _GradSum:
    """Adds gradients arriving for the same Variable.

    Incoming gradients may alias user tensors or each other (``Add.backward``
    returns its upstream grad twice), so the first sum allocates a fresh buffer;
    later sums add into that buffer in place, since nothing else can see it.
    A buffer stops being ours once it is handed to a backward formula.
    Under create_graph the sum is a recorded op instead.
    """

    __slots__ = ("create_graph", "owned")

    def __init__(self, create_graph):
        self.create_graph = create_graph
        self.owned = set()

    def add(self, a, b):
        if self.create_graph:
            return a + b
        if id(a) in self.owned:
            a._data += b._data
            return a
        total = Variable._make(_as_array(a._data + b._data))
        self.owned.add(id(total))
        return total

    def hand_over(self, grads):
        if self.owned:
            for g in grads:
                self.owned.discard(id(g))


def _accumulate_leaf(leaf_grads, leaf, g, summer):
    entry = leaf_grads.get(id(leaf))
    if entry is None:
        leaf_grads[id(leaf)] = [leaf, g]
    else:
        entry[1] = summer.add(entry[1], g)


def _deliver_nonleaf(node, grads, create_graph, capture_node, captured):
    retained = node._retained
    for i, g in enumerate(grads):
        if g is None:
            continue
        if retained is not None and i in retained:
            var = retained[i]()
            if var is not None:
                old = var._grad
                if create_graph:
                    var._grad = g if old is None else _as_variable(old) + g
                else:
                    var._grad = g._data if old is None else _as_array(
                        (old._data if type(old) is Variable else old) + g._data)
        if capture_node:
            for j in capture_node.get((id(node), i), ()):
                captured[j] = g


def _fill_missing(node, grads):
    """Outputs that received no gradient get zeros, so backward formulas stay simple."""
    if all(g is not None for g in grads):
        return grads
    from ..backend.array_module import xp_of
    out = list(grads)
    for i, g in enumerate(out):
        if g is None:
            shape, dtype = node._out_meta[i]
            ref = next(x for x in grads if x is not None)._data
            out[i] = Variable._make(xp_of(ref).zeros(shape, dtype=dtype))
    return out


def _as_variable(g):
    return g if type(g) is Variable else Variable._make(g)


def _where(node) -> str:
    t = node.trace
    return f" (op created at {t})" if t else " (run under detect_anomaly() to see where it was created)"


def grad(outputs, inputs, grad_outputs=None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool = False):
    """Gradients of ``outputs`` with respect to ``inputs``, without touching ``.grad``.

    Args:
        outputs: a Variable or a sequence of Variables.
        inputs: a Variable or a sequence of Variables (leaves or not).
        grad_outputs: upstream gradients, one per output (None: ones for scalars).
        retain_graph: keep the graph (default: same as create_graph).
        create_graph: record the backward pass, for higher-order derivatives.
        allow_unused: return None for inputs the outputs do not depend on
            (otherwise that raises).

    Returns:
        A tuple of gradient Variables, one per input.

    >>> import flodl_core as fl
    >>> x = fl.Variable(fl.tensor([3.0]), requires_grad=True)
    >>> (gx,) = fl.grad(x ** 3, x, create_graph=True)
    >>> gx.item(), fl.grad(gx, x)[0].item()
    (27.0, 18.0)
    """
    outputs = (outputs,) if isinstance(outputs, Variable) else tuple(outputs)
    single_input = isinstance(inputs, Variable)
    inputs = (inputs,) if single_input else tuple(inputs)
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    elif isinstance(grad_outputs, TensorLike):
        grad_outputs = (grad_outputs,)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    if retain_graph is None:
        retain_graph = create_graph
    return run_backward(outputs, tuple(grad_outputs), retain_graph, create_graph,
                        inputs=inputs, allow_unused=allow_unused)
