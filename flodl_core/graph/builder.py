"""FlowBuilder: describe a network as data flow, get a trainable Graph.

    g = (FlowBuilder(Linear(784, 128))
         .through(GELU()).tag("hidden")
         .also(Linear(128, 128))              # residual: x + f(x)
         .through(Linear(128, 10))
         .build())

The builder keeps the *open streams* (the node ids whose outputs flow on) and
appends one node per construct. Nothing raises while describing: every problem
is recorded with the builder step that caused it ("step 4 .merge()") and
``build()`` reports all of them at once in one GraphError.
"""
from __future__ import annotations

import difflib
import re

from ..errors import GraphError
from ..nn.layers.linear import Identity
from ..nn.module import Module
from .modules import accepts_refs
from .nodes import GateModule, LoopModule, MapModule, MergeOp, Node, SwitchModule

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def _as_module(m, where: str, errors: list):
    """Accept a Module instance, or a Module class with no required arguments."""
    if isinstance(m, type) and issubclass(m, Module):
        try:
            return m()
        except TypeError as e:
            errors.append(f"{where}: {m.__name__} needs constructor arguments ({e}); pass "
                          f"an instance")
            return Identity()
    if not isinstance(m, Module):
        errors.append(f"{where}: expected a Module, got {type(m).__name__}")
        return Identity()
    return m


class FlowBuilder:
    """Fluent graph builder. ``FlowBuilder(entry)``; ``FlowBuilder()`` starts from Identity."""

    def __init__(self, entry=None):
        self._nodes: list = []
        self._errors: list = []
        self._step_index = 0
        self._tags: dict = {}            # tag -> node id
        self._tag_groups: dict = {}      # group -> [tags]
        self._internal: set = set()
        self._pending: dict = {}         # tag -> [(node, ref name, step)] forward refs
        self._inputs: list = []          # auxiliary input names, in order
        self._label = None
        self._fork = None                # a fork's node, named by the next tag()
        self._open_split_reported = None
        step = self._step("FlowBuilder")
        node = self._module_node(Identity() if entry is None else entry, ["__input__"], step)
        self._current = [node.id]
        self._targets = [node]           # where using() wires refs

    # ----------------------------------------------------------- bookkeeping
    def _step(self, method: str) -> str:
        label = f"step {self._step_index} .{method}()"
        self._step_index += 1
        return label

    def _add(self, kind, module, inputs, step, spec=None, node_id=None) -> Node:
        if node_id is None:
            base = _snake(type(module).__name__) if kind == "module" else kind
            node_id = f"{base}_{len(self._nodes)}"
        node = Node(node_id, kind, module, inputs, step, spec)
        self._nodes.append(node)
        return node

    def _module_node(self, m, inputs, step) -> Node:
        m = _as_module(m, step, self._errors)
        from .graph import Graph
        node_id = None
        if isinstance(m, Graph) and m.label:
            node_id = m.label
            if any(n.id == node_id for n in self._nodes):
                self._errors.append(f"{step}: two nested graphs are labelled "
                                    f"'{node_id}'; labels must be unique in a graph")
                node_id = None
        return self._add("module", m, inputs, step, node_id=node_id)

    def _single(self, step) -> str | None:
        if len(self._current) != 1:
            # Report an unmerged split once, not at every later step it breaks.
            if self._open_split_reported is not self._current:
                self._errors.append(f"{step}: needs a single stream but "
                                    f"{len(self._current)} are open after a split; add "
                                    f".merge(...) first (or .tag_group(name) to tag each branch)")
                self._open_split_reported = self._current
            return None
        return self._current[0]

    # ------------------------------------------------------------ constructs
    def through(self, module) -> "FlowBuilder":
        """Chain ``module`` on the stream."""
        step = self._step("through")
        cur = self._single(step)
        if cur is not None:
            node = self._module_node(module, [cur], step)
            self._current, self._targets, self._fork = [node.id], [node], None
        return self

    def fork(self, module) -> "FlowBuilder":
        """Run ``module`` on the stream as a side branch; the next ``tag`` names its
        output and the main stream continues unchanged."""
        step = self._step("fork")
        cur = self._single(step)
        if cur is not None:
            node = self._module_node(module, [cur], step)
            self._targets, self._fork = [node], node
        return self

    def also(self, module) -> "FlowBuilder":
        """Residual connection: ``x + module(x)``."""
        step = self._step("also")
        cur = self._single(step)
        if cur is not None:
            inner = self._module_node(module, [cur], step)
            join = self._add("add", None, [cur, inner.id], step)
            self._current, self._targets, self._fork = [join.id], [inner], None
        return self

    def also_with(self, skip, main) -> "FlowBuilder":
        """Residual connection with a transformed skip: ``skip(x) + main(x)``."""
        step = self._step("also_with")
        cur = self._single(step)
        if cur is not None:
            s = self._module_node(skip, [cur], step)
            m = self._module_node(main, [cur], step)
            join = self._add("add", None, [s.id, m.id], step)
            self._current, self._targets, self._fork = [join.id], [m], None
        return self

    def split(self, modules) -> "FlowBuilder":
        """Open one parallel stream per module (close them with ``merge``)."""
        step = self._step("split")
        cur = self._single(step)
        modules = list(modules)
        if len(modules) < 2:
            self._errors.append(f"{step}: split needs at least 2 branches, got {len(modules)}")
        if cur is not None and modules:
            nodes = [self._module_node(m, [cur], step) for m in modules]
            self._current, self._targets, self._fork = [n.id for n in nodes], nodes, None
        return self

    def merge(self, op=MergeOp.ADD) -> "FlowBuilder":
        """Close the open streams: ``MergeOp.ADD | MEAN | CAT`` or a Module taking the list."""
        step = self._step("merge")
        if len(self._current) < 2:
            self._errors.append(f"{step}: nothing to merge: {len(self._current)} open "
                                f"stream(s); merge follows a split")
            return self
        module = None
        if not isinstance(op, MergeOp):
            module = _as_module(op, step, self._errors)
            op = None
        node = self._add("merge", module, self._current, step, {"op": op})
        self._current, self._fork = [node.id], None
        self._targets = [node] if module is not None else []
        return self

    def tag(self, name: str) -> "FlowBuilder":
        """Name the stream here (or the output of the preceding ``fork``)."""
        step = self._step("tag")
        if not self._check_name(name, step, "tag"):
            return self
        if self._fork is not None:
            node, self._fork = self._fork, None
        else:
            cur = self._single(step)
            if cur is None:
                return self
            node = self._node(cur)
        if node.tag is not None:
            # One node, two names: an alias tag reads the same output.
            self._tags[name] = node.id
        else:
            node.tag = name
            self._tags[name] = node.id
        self._resolve(name)
        return self

    def tag_group(self, name: str) -> "FlowBuilder":
        """Name each open stream ``name_0``, ``name_1``, ..."""
        step = self._step("tag_group")
        if not self._check_name(name, step, "tag group"):
            return self
        if len(self._current) < 2:
            self._errors.append(f"{step}: tag_group needs several open streams (after a "
                                f"split), got {len(self._current)}; use .tag(name)")
            return self
        names = []
        for i, nid in enumerate(self._current):
            tag = f"{name}_{i}"
            if tag in self._tags:
                self._errors.append(f"{step}: tag '{tag}' already exists")
                continue
            node = self._node(nid)
            node.tag = node.tag or tag
            self._tags[tag] = nid
            self._resolve(tag)
            names.append(tag)
        self._tag_groups[name] = names
        return self

    def internal(self, name: str) -> "FlowBuilder":
        """Hide tag ``name`` from parent graphs (tags starting with ``_`` are hidden too)."""
        self._step("internal")
        self._internal.add(name)
        return self

    def using(self, *names) -> "FlowBuilder":
        """Wire named refs into the last module (also: its inner module; split: every
        branch; gate/switch: the router; loop: the body)."""
        step = self._step("using")
        if len(names) == 1 and isinstance(names[0], (list, tuple)):
            names = tuple(names[0])
        if not self._targets:
            self._errors.append(f"{step}: no module to wire refs {list(names)} into here")
            return self
        for target in self._targets:
            receiver = _ref_receiver(target)
            if not accepts_refs(receiver):
                self._errors.append(
                    f"{step}: refs {list(names)} go to node '{target.id}' "
                    f"({type(receiver).__name__}), which has no forward_named(x, refs); "
                    f"make it a NamedInputModule or wire the refs elsewhere")
                continue
            for name in names:
                if name in target.refs:
                    self._errors.append(f"{step}: ref '{name}' is wired twice into "
                                        f"'{target.id}'")
                elif name in self._tags:
                    target.refs[name] = ("tag", self._tags[name])
                else:
                    # A forward ref: resolved when the tag appears later, read from
                    # the previous forward pass.
                    target.refs[name] = ("state", name)
                    self._pending.setdefault(name, []).append((target, step))
        return self

    def input(self, *names) -> "FlowBuilder":
        """Declare extra graph inputs: ``forward(x, ctx=...)``, readable with using()."""
        step = self._step("input")
        if len(names) == 1 and isinstance(names[0], (list, tuple)):
            names = tuple(names[0])
        for name in names:
            if not self._check_name(name, step, "input"):
                continue
            node = self._add("input", None, [], step, {"name": name}, node_id=f"input_{name}")
            node.tag = name
            self._tags[name] = node.id
            self._inputs.append(name)
            self._resolve(name)
        self._targets = []
        return self

    def label(self, name: str) -> "FlowBuilder":
        """Name this graph in a graph tree (paths like ``"encoder.hidden"``)."""
        step = self._step("label")
        if not isinstance(name, str) or not _NAME.match(name):
            self._errors.append(f"{step}: label {name!r} must be an identifier "
                                f"(letters, digits, _; no dots)")
        else:
            self._label = name
        return self

    def loop_body(self, body) -> "LoopBuilder":
        """Start a loop: ``.loop_body(b).for_n(3)``, ``.while_cond(c, n)``, ``.until_cond(c, n)``."""
        return LoopBuilder(self, body, self._step("loop_body"))

    def gate(self, router, experts) -> "FlowBuilder":
        """Soft mixture: every expert runs; the router's [B, N] weights combine them."""
        step = self._step("gate")
        cur = self._single(step)
        experts = [_as_module(e, step, self._errors) for e in experts]
        if not experts:
            self._errors.append(f"{step}: gate needs at least one expert")
        if cur is not None and experts:
            module = GateModule(_as_module(router, step, self._errors), experts)
            node = self._add("gate", module, [cur], step)
            self._current, self._targets, self._fork = [node.id], [node], None
        return self

    def switch(self, selector, branches) -> "FlowBuilder":
        """Hard routing: per sample, only the selected branch runs."""
        step = self._step("switch")
        cur = self._single(step)
        branches = [_as_module(b, step, self._errors) for b in branches]
        if not branches:
            self._errors.append(f"{step}: switch needs at least one branch")
        if cur is not None and branches:
            module = SwitchModule(_as_module(selector, step, self._errors), branches)
            node = self._add("switch", module, [cur], step)
            self._current, self._targets, self._fork = [node.id], [node], None
        return self

    def map(self, body) -> "MapBuilder":
        """Apply ``body`` element-wise: ``.map(b).each()``, ``.over(tag)``, ``.slices(n)``."""
        return MapBuilder(self, body, self._step("map"))

    # ----------------------------------------------------------------- build
    def build(self):
        """Validate everything and return the Graph; raises GraphError listing every problem."""
        from .graph import Graph
        errors = list(self._errors)
        if len(self._current) != 1 and self._open_split_reported is not self._current:
            errors.append(f"build: {len(self._current)} streams are still open; close the "
                          f"split with .merge(...) before build()")
        for name, waiting in self._pending.items():
            for target, step in waiting:
                hint = difflib.get_close_matches(name, list(self._tags), n=1)
                did_you_mean = f"; did you mean '{hint[0]}'?" if hint else ""
                errors.append(f"{step}: ref '{name}' (into '{target.id}') is never tagged"
                              f"{did_you_mean}")
        if errors:
            raise GraphError(f"FlowBuilder: {len(errors)} problem(s) found:\n  - "
                             + "\n  - ".join(errors))
        return Graph._from_builder(self)

    # --------------------------------------------------------------- helpers
    def _node(self, node_id) -> Node:
        for n in self._nodes:
            if n.id == node_id:
                return n
        raise KeyError(node_id)

    def _check_name(self, name, step, what) -> bool:
        if not isinstance(name, str) or not _NAME.match(name):
            self._errors.append(f"{step}: {what} {name!r} must be an identifier "
                                f"(letters, digits, _; no dots)")
            return False
        if name in self._tags or name in self._tag_groups:
            self._errors.append(f"{step}: {what} '{name}' already exists; tags are unique "
                                f"in a graph")
            return False
        return True

    def _resolve(self, name) -> None:
        """A tag appeared: forward refs waiting for it are resolved (``using`` already
        wired them as state reads of the previous pass)."""
        self._pending.pop(name, None)


def _ref_receiver(node: Node):
    """The module that receives refs wired into ``node``."""
    if node.kind == "loop":
        return node.module.body
    if node.kind == "gate":
        return node.module.router
    if node.kind == "switch":
        return node.module.selector
    if node.kind == "map":
        return node.module.body
    return node.module


class LoopBuilder:
    """Finishes ``loop_body(body)`` with a repetition rule."""

    def __init__(self, fb: FlowBuilder, body, step: str):
        self._fb, self._body, self._step = fb, body, step

    def _finish(self, mode, cond=None, n=None, max_iter=None, method=""):
        fb = self._fb
        step = f"{self._step[:-2]}.{method}()"
        cur = fb._single(step)
        body = _as_module(self._body, step, fb._errors)
        if mode == "for" and (not isinstance(n, int) or n < 1):
            fb._errors.append(f"{step}: for_n needs n >= 1, got {n!r}")
            return fb
        if mode != "for":
            if not isinstance(max_iter, int) or max_iter < 1:
                fb._errors.append(f"{step}: {method} needs max_iter >= 1, got {max_iter!r}")
                return fb
            cond = _as_module(cond, step, fb._errors)
        if cur is not None:
            spec = {"mode": mode, "n": n, "max_iter": max_iter}
            node = fb._add("loop", LoopModule(body, cond), [cur], step, spec)
            fb._current, fb._targets, fb._fork = [node.id], [node], None
        return fb

    def for_n(self, n: int) -> FlowBuilder:
        """Run the body ``n`` times (backpropagation through every iteration)."""
        return self._finish("for", n=n, method="for_n")

    def while_cond(self, cond, max_iter: int) -> FlowBuilder:
        """Test ``cond`` before each run: 0..max_iter runs (per-sample halting)."""
        return self._finish("while", cond, max_iter=max_iter, method="while_cond")

    def until_cond(self, cond, max_iter: int) -> FlowBuilder:
        """Test ``cond`` after each run: 1..max_iter runs (per-sample halting)."""
        return self._finish("until", cond, max_iter=max_iter, method="until_cond")


class MapBuilder:
    """Finishes ``map(body)``: ``each()``, ``over(tag)`` or ``slices(n)``, then
    optionally ``.batched()`` on the returned builder's last map."""

    def __init__(self, fb: FlowBuilder, body, step: str):
        self._fb, self._body, self._step = fb, body, step

    def _finish(self, spec, method, source=None) -> "MappedFlow":
        fb = self._fb
        step = f"{self._step[:-2]}.{method}()"
        cur = fb._single(step)
        body = _as_module(self._body, step, fb._errors)
        inputs = [cur]
        if source is not None:
            if source not in fb._tags:
                hint = difflib.get_close_matches(source, list(fb._tags), n=1)
                fb._errors.append(f"{step}: map over unknown tag '{source}'"
                                  + (f"; did you mean '{hint[0]}'?" if hint else ""))
                return MappedFlow(fb, None)
            inputs = [cur, fb._tags[source]]
        if cur is None:
            return MappedFlow(fb, None)
        node = fb._add("map", MapModule(body), inputs, step, spec)
        fb._current, fb._targets, fb._fork = [node.id], [node], None
        return MappedFlow(fb, node)

    def each(self) -> "MappedFlow":
        """Apply the body to every element along dim 0 and stack the results."""
        return self._finish({"mode": "each"}, "each")

    def over(self, tag: str) -> "MappedFlow":
        """Apply the body to every element (dim 0) of a tagged tensor; the results,
        stacked, become the stream."""
        return self._finish({"mode": "over", "tag": tag}, "over", source=tag)

    def slices(self, n: int) -> "MappedFlow":
        """Cut the last dim into ``n`` equal slices, map each, concatenate back."""
        if not isinstance(n, int) or n < 1:
            self._fb._errors.append(f"{self._step[:-2]}.slices(): n must be >= 1, got {n!r}")
            return MappedFlow(self._fb, None)
        return self._finish({"mode": "slices", "n": n}, "slices")


class MappedFlow:
    """The FlowBuilder after a map; ``.batched()`` switches that map to one call over
    the whole batch (valid when the body treats leading dims as batch). Every other
    attribute is the FlowBuilder's."""

    def __init__(self, fb: FlowBuilder, node):
        self._fb, self._node = fb, node

    def batched(self) -> FlowBuilder:
        self._fb._step("batched")
        if self._node is not None:
            self._node.spec["batched"] = True
        return self._fb

    def __getattr__(self, name):
        return getattr(self._fb, name)
