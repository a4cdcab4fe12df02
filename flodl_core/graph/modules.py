"""Small modules that the graph constructs use: state cells, routers, selectors
and halt conditions.

Each is an ordinary :class:`~flodl_core.nn.Module`, usable on its own; the
FlowBuilder only relies on the protocols described below.

Protocols
---------
Named inputs (``.using(...)``)
    A module that defines ``forward_named(x, refs)`` receives the values wired
    with ``.using("a", "b")`` as an ordered dict ``{"a": va, "b": vb}``
    (declaration order). :class:`NamedInputModule` is the base class for
    those; :func:`accepts_refs` tells whether a module takes refs at all.
Halt conditions (``loop_body(...).while_cond / until_cond``)
    ``forward(state)`` returns the halting signal, positive = halt: shape
    ``[B]`` (one value per sample, ``B = state.shape[0]``), or a scalar /
    one-element tensor that decides for the whole batch.
Routers (``gate``)
    ``forward(x)`` returns mixing weights ``[B, N]``, one per expert.
Selectors (``switch``)
    ``forward(x)`` returns a Python int or 0-d integer tensor (one branch for
    the whole batch), or an integer tensor ``[B]`` (one branch per sample).

Unlike flodl, where a batched loop halts all samples together, halting and
switch routing here are per sample; the modules below emit one value per row.

>>> import flodl_core as fl
>>> from flodl_core.graph.modules import SoftmaxRouter, ThresholdHalt
>>> SoftmaxRouter(8, 3)(fl.randn(4, 8)).shape
(4, 3)
>>> halt = ThresholdHalt(0.5)(fl.tensor([[0.1, 0.9], [0.2, 0.3]]))   # per sample
>>> [round(v, 4) for v in halt.tolist()]
[0.4, -0.2]
"""
from __future__ import annotations

import math
import numbers
from abc import ABCMeta, abstractmethod
from collections.abc import Mapping

import numpy as np

from ..autograd.grad_mode import no_grad
from ..autograd.variable import Variable
from ..errors import ShapeError
from ..nn.layers.linear import Linear
from ..nn.module import Module
from ..tensor import TensorLike

__all__ = ["NamedInputModule", "accepts_refs", "sum_named_refs", "StateAdd",
           "SoftmaxRouter", "SigmoidRouter", "FixedSelector", "ArgmaxSelector",
           "ThresholdHalt", "LearnedHalt"]


# ------------------------------------------------------------------ helpers


def _name(module) -> str:
    """``SoftmaxRouter(in_features=8, n=3)``: the module as error messages name it."""
    return f"{type(module).__name__}({module.extra_repr()})"


def _shape_of(module, x, what="input") -> tuple:
    if not isinstance(x, TensorLike):
        raise TypeError(f"{_name(module)}: {what} must be a Tensor or Variable, got "
                        f"{type(x).__name__}")
    return tuple(x.shape)


def _count(who, what, v, minimum) -> int:
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or int(v) < minimum:
        raise ValueError(f"{who}: {what} must be an int >= {minimum}, got {v!r}")
    return int(v)


def _rank_1_or_2(module, shape, what):
    if len(shape) not in (1, 2):
        raise ShapeError(f"{_name(module)}: expected {what} [B, {module.in_features}] (or "
                         f"unbatched [{module.in_features}]), got shape {shape}; flatten "
                         f"the leading dims into rows first")


# ------------------------------------------------------------- named inputs


class NamedInputModule(Module, metaclass=ABCMeta):
    """A module that also takes the graph's ``.using(...)`` values by name.

    Subclasses implement ``forward_named(x, refs)``, where ``refs`` is an
    ordered dict ``{tag: Variable}`` in ``.using()`` declaration order.
    ``forward(x)`` defaults to ``forward_named(x, {})``.
    """

    @abstractmethod
    def forward_named(self, x, refs: Mapping):
        """The output for stream ``x`` and the named values ``refs``."""

    def forward(self, x):
        return self.forward_named(x, {})


def accepts_refs(module) -> bool:
    """True when ``module`` defines ``forward_named`` (takes ``.using()`` refs)."""
    return callable(getattr(module, "forward_named", None))


def sum_named_refs(x, refs: Mapping, who: str = "sum_named_refs"):
    """``x + refs[a] + refs[b] + ...``, added left to right in the mapping's order.

    A fixed order keeps the result bit-reproducible (float addition is not
    associative). Each ref must broadcast to ``x``'s shape without changing
    it, so a misshapen ref is an error rather than a silently bigger stream.
    With no refs, returns ``x`` itself.
    """
    if not isinstance(refs, Mapping):
        raise TypeError(f"{who}: refs must be a mapping of name -> Tensor, got "
                        f"{type(refs).__name__}")
    if not isinstance(x, TensorLike):
        raise TypeError(f"{who}: the stream must be a Tensor or Variable, got "
                        f"{type(x).__name__}")
    shape = tuple(x.shape)
    out = x
    for name, ref in refs.items():
        if not isinstance(ref, TensorLike):
            raise TypeError(f"{who}: ref {name!r} must be a Tensor or Variable, got "
                            f"{type(ref).__name__}")
        try:
            fits = np.broadcast_shapes(shape, tuple(ref.shape)) == shape
        except ValueError:
            fits = False
        if not fits:
            raise ShapeError(f"{who}: ref {name!r} has shape {tuple(ref.shape)}, which does "
                             f"not broadcast to the stream's shape {shape}")
        out = out.add(ref)
    return out


class StateAdd(NamedInputModule):
    """``x + sum(refs)``: the additive state cell for forward references.

    ``.through(StateAdd()).using("memory").tag("memory")`` reads the value
    tagged ``memory`` on the previous call (zeros on the first one) and adds
    it to the stream, so state accumulates across forward calls. Refs are
    added left to right in declaration order; with none, returns ``x``
    unchanged. Output: ``x``'s shape. No parameters.
    """

    def forward_named(self, x, refs):
        return sum_named_refs(x, refs, "StateAdd")


# ----------------------------------------------------------------- routers


class _Projected(NamedInputModule):
    """A Linear projection ``proj`` to ``n`` logits; refs are summed into the
    input before projecting (flodl's router behaviour)."""

    _n_what = "n"

    def __init__(self, in_features, n, device=None, dtype=None):
        super().__init__()
        who = type(self).__name__
        self.in_features = _count(who, "in_features", in_features, 1)
        self.n = _count(who, self._n_what, n, 1)
        self.proj = Linear(self.in_features, self.n, device=device, dtype=dtype)

    def _logits(self, x):
        _shape_of(self, x)
        try:
            return self.proj(x)
        except ShapeError as e:   # Linear's message, with the module that owns it
            raise ShapeError(f"{_name(self)}: {e}") from None

    def forward_named(self, x, refs):
        return self.forward(sum_named_refs(x, refs, _name(self)))

    def extra_repr(self):
        return f"in_features={self.in_features}, n={self.n}"


class SoftmaxRouter(_Projected):
    """Gate router: ``softmax(proj(x))`` over the last dim.

    Returns weights ``[B, n]`` (any leading dims are kept) that are positive
    and sum to 1 per row, so a gate's output is a convex mix of its experts.
    Parameters ``proj.weight`` ``[n, in_features]`` and ``proj.bias`` ``[n]``
    (Linear's initialisation). With ``.using(...)`` the refs are added to
    ``x`` before projecting.
    """

    def forward(self, x):
        return self._logits(x).softmax(-1)


class SigmoidRouter(_Projected):
    """Gate router with independent gates: ``sigmoid(proj(x))``.

    Returns weights ``[B, n]`` in (0, 1) that do not sum to 1: each expert is
    switched on or off on its own. Parameters as :class:`SoftmaxRouter`.
    """

    def forward(self, x):
        return self._logits(x).sigmoid()


# --------------------------------------------------------------- selectors


class FixedSelector(Module):
    """Switch selector that always picks branch ``index`` for the whole batch.

    Returns the Python int ``index`` whatever the input; useful for tests,
    ablations and static configurations. No parameters.
    """

    def __init__(self, index):
        super().__init__()
        self.index = _count("FixedSelector", "index", index, 0)

    def forward(self, x):
        return self.index

    def extra_repr(self):
        return f"index={self.index}"


class ArgmaxSelector(_Projected):
    """Switch selector: the branch with the largest ``proj(x)`` logit, per sample.

    Input ``[B, in_features]`` gives an Int64 tensor ``[B]`` of branch indices
    (one per sample, first index on ties); an unbatched ``[in_features]`` input
    gives a 0-d index for the whole stream. The choice is not differentiable
    (it is computed without recording a graph): the branch a sample is sent to
    gets gradients, ``proj`` does not unless you add a loss on it yourself
    (e.g. a policy gradient on ``proj(x).log_softmax(-1)``). Parameters as
    :class:`SoftmaxRouter`.
    """

    def forward(self, x):
        _rank_1_or_2(self, _shape_of(self, x), "an input")
        with no_grad():
            return self._logits(x).argmax(-1)


# ---------------------------------------------------------- halt conditions


class ThresholdHalt(Module):
    """Halt condition: per sample, ``max(state[b]) - threshold`` (positive = halt).

    The max runs over every non-batch dim, so ``[B, ...]`` gives ``[B]``; a 1-D
    state ``[B]`` is read as one value per sample. The result carries no
    gradient (the halt decision is a hard threshold). No parameters.
    """

    def __init__(self, threshold):
        super().__init__()
        if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) \
                or math.isnan(threshold):
            raise ValueError(f"ThresholdHalt: threshold must be a real number, got "
                             f"{threshold!r}")
        self.threshold = float(threshold)

    def forward(self, state):
        shape = _shape_of(self, state, "state")
        if not shape:
            raise ShapeError(f"{_name(self)}: expected a state with a batch dim ([B] or "
                             f"[B, ...]), got a 0-d state of shape {shape}")
        if len(shape) > 1 and 0 in shape[1:]:
            raise ShapeError(f"{_name(self)}: the state has no elements per sample to "
                             f"take the max of, got shape {shape}")
        s = state.detach() if isinstance(state, Variable) else state
        if len(shape) > 2:
            s = s.flatten(1)
        if len(shape) > 1:
            s = s.max_dim(1)
        return s.sub_scalar(self.threshold)

    def extra_repr(self):
        return f"threshold={self.threshold}"


class LearnedHalt(Module):
    """Learned halt condition: a linear probe ``proj(state)`` per sample (positive = halt).

    State ``[B, in_features]`` gives ``[B]`` (an unbatched ``[in_features]``
    state gives a 0-d value for the whole stream). The probe is differentiable,
    but the loop only compares it with 0, a hard decision that passes no
    gradient: as in Adaptive Computation Time, train it through a loss you add
    yourself (e.g. a ponder cost on ``sigmoid(halt(state))`` per step).
    Parameters ``proj.weight`` ``[1, in_features]`` and ``proj.bias`` ``[1]``.
    """

    def __init__(self, in_features, device=None, dtype=None):
        super().__init__()
        self.in_features = _count("LearnedHalt", "in_features", in_features, 1)
        self.proj = Linear(self.in_features, 1, device=device, dtype=dtype)

    def forward(self, state):
        _rank_1_or_2(self, _shape_of(self, state, "state"), "a state")
        try:
            probe = self.proj(state)
        except ShapeError as e:
            raise ShapeError(f"{_name(self)}: {e}") from None
        return probe.squeeze(-1)

    def extra_repr(self):
        return f"in_features={self.in_features}"
