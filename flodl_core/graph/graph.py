"""Graph: the trainable Module a FlowBuilder builds.

Running a graph walks its nodes in order (the builder appends them in a valid
execution order), keeping each node's output in a dict until the last reader is
done. Forward refs (``using`` before ``tag``) read the value their tag had at
the end of the previous forward, or zeros shaped like the reader's input on the
first call.
"""
from __future__ import annotations

import hashlib
import time

from ..autograd.variable import Variable
from ..creation import zeros
from ..errors import FlodlError, GraphError
from ..nn.module import Module
from .nodes import call, run_gate, run_loop, run_map, run_merge, run_switch
from .observe import Observer, Reduce
from .tree import GraphTreeMixin


class Graph(GraphTreeMixin, Module):
    """A built flow graph; a Module, so it nests anywhere a module is accepted."""

    @classmethod
    def _from_builder(cls, fb) -> "Graph":
        g = cls()
        object.__setattr__(g, "label", fb._label)
        object.__setattr__(g, "_nodes", list(fb._nodes))
        object.__setattr__(g, "_tags", dict(fb._tags))
        object.__setattr__(g, "_tag_groups", dict(fb._tag_groups))
        object.__setattr__(g, "_internal", set(fb._internal))
        object.__setattr__(g, "_input_names", list(fb._inputs))
        object.__setattr__(g, "_output", fb._current[0])
        object.__setattr__(g, "_state", {})
        object.__setattr__(g, "_outputs", {})     # tagged outputs of the last forward
        object.__setattr__(g, "_traces", {})
        object.__setattr__(g, "_profiling", False)
        object.__setattr__(g, "_timings", {})
        object.__setattr__(g, "_observer", Observer(tag_groups=dict(fb._tag_groups)))
        # Forward-ref tags: written at the end of every forward.
        state_tags = []
        for node in g._nodes:
            for kind, name in node.refs.values():
                if kind == "state" and name not in state_tags:
                    state_tags.append(name)
        object.__setattr__(g, "_state_tags", state_tags)
        # Last reader of every node, so intermediate outputs are dropped early.
        last_use = {}
        for i, node in enumerate(g._nodes):
            for src in node.inputs:
                last_use[src] = i
            for kind, src in node.refs.values():
                if kind == "tag":
                    last_use[src] = i
        keep = set(g._tags.values()) | {g._tags[t] for t in state_tags if t in g._tags}
        keep.add(g._output)
        # The execution plan: (node, runner, input ids, ids to drop after it).
        object.__setattr__(g, "_plan", [
            (node, g._runner(node.kind), tuple(node.inputs) if node.kind != "input" else (),
             tuple(src for src, last in last_use.items() if last == i and src not in keep))
            for i, node in enumerate(g._nodes)])
        for node in g._nodes:
            if node.module is not None:
                g._modules[node.name] = node.module
        return g

    def __init__(self):
        super().__init__()

    # ---------------------------------------------------------------- forward
    def forward(self, x, **inputs):
        """Run the graph on ``x``; auxiliary inputs by name (``ctx=...``)."""
        missing = [n for n in self._input_names if n not in inputs]
        extra = [n for n in inputs if n not in self._input_names]
        if missing or extra:
            raise GraphError(f"{self._where()}: forward expects inputs "
                             f"{['x'] + self._input_names}; missing {missing}, "
                             f"unexpected {extra}")
        env = {"__input__": x}
        for name in self._input_names:
            env[f"input_{name}"] = inputs[name]
        outputs = self._outputs
        outputs.clear()
        profiling = self._profiling
        for node, run, srcs, release in self._plan:
            args = [env[src] for src in srcs]
            refs = self._refs(node, env, args) if node.refs else None
            start = time.perf_counter() if profiling else 0.0
            try:
                y = run(node, args, refs, env)
            except FlodlError as e:
                raise self._node_error(node, args, e) from e
            if profiling:
                seconds = self._timings[node.id] = time.perf_counter() - start
                self._observer.record_timing(node.name, seconds)
            env[node.id] = y
            if node.tag is not None:
                outputs[node.tag] = y
            for src in release:
                del env[src]
        for tag in self._state_tags:
            self._state[tag] = env[self._tags[tag]]
        return env[self._output]

    def forward_multi(self, values):
        """``forward`` with inputs as a list: ``[x, *auxiliary inputs in declaration order]``."""
        values = list(values)
        if len(values) != 1 + len(self._input_names):
            raise GraphError(f"{self._where()}: forward_multi expects "
                             f"{1 + len(self._input_names)} inputs "
                             f"{['x'] + self._input_names}, got {len(values)}")
        return self.forward(values[0], **dict(zip(self._input_names, values[1:])))

    def _runner(self, kind):
        """The function that runs a node of ``kind``: (node, args, refs, env) -> value."""
        if kind == "module":
            return lambda node, args, refs, env: call(node.module, args[0], refs)
        if kind == "add":
            return lambda node, args, refs, env: args[0] + args[1]
        if kind == "input":
            return lambda node, args, refs, env: env[node.id]
        if kind == "merge":
            return lambda node, args, refs, env: (
                run_merge(node, args) if not refs else node.module.forward_named(args, refs))
        if kind == "loop":
            return lambda node, args, refs, env: run_loop(node, self, args[0], refs)
        if kind == "gate":
            return lambda node, args, refs, env: run_gate(node, args[0], refs)
        if kind == "switch":
            return lambda node, args, refs, env: run_switch(node, args[0], refs)
        if kind == "map":
            return lambda node, args, refs, env: run_map(node, args[0], refs, args[-1])
        raise GraphError(f"unknown node kind {kind}")

    def _refs(self, node, env, args):
        refs = {}
        for name, (kind, src) in node.refs.items():
            if kind == "tag":
                refs[name] = env[src]
            else:
                value = self._state.get(src)
                if value is None:
                    like = args[0] if args else None
                    value = zeros(*like.shape, dtype=like.dtype, device=like.device) \
                        if like is not None else None
                refs[name] = value
        return refs

    # --------------------------------------------------------------- errors
    def _where(self) -> str:
        return f"graph '{self.label}'" if self.label else "graph"

    def _node_error(self, node, args, e):
        """Re-raise ``e`` (same class) naming the node, its tag, its path in the graph
        tree and the input shapes. An error from a nested graph keeps the innermost
        node's details and gains this graph's label in front of its path."""
        path = getattr(e, "graph_path", None)
        if path is None:
            shapes = [tuple(a.shape) for a in args if hasattr(a, "shape")]
            detail = (f"(node '{node.id}'{', tag ' + repr(node.tag) if node.tag else ''}, "
                      f"built at {node.step}, input shapes {shapes})")
            original, path = str(e), [self.label or "graph", node.name]
        else:
            detail, original = e.graph_detail, e.graph_original
            path = [self.label or "graph"] + path
        try:
            err = type(e)(f"in {'.'.join(path)} {detail}: {original}")
        except TypeError:
            err = GraphError(f"in {'.'.join(path)} {detail}: {original}")
        err.graph_path, err.graph_detail, err.graph_original = path, detail, original
        return err

    # ----------------------------------------------------------------- state
    def reset_state(self) -> None:
        """Forget forward-ref state (the next forward starts from zeros)."""
        self._state.clear()

    def detach_state(self) -> None:
        """Cut carried forward-ref state from the autograd graph (truncated BPTT)."""
        for tag, value in list(self._state.items()):
            if isinstance(value, Variable):
                self._state[tag] = value.detach()
        super().detach_state()

    def reset(self) -> None:
        self.reset_state()
        super().reset()

    # ----------------------------------------------------------------- tags
    def tagged(self, tag: str):
        """The output of the node tagged ``tag`` in the last forward (None before one)."""
        if tag not in self._tags:
            raise GraphError(f"{self._where()}: no tag '{tag}'; tags: {self.tag_names()}")
        return self._outputs.get(tag)

    def tag_names(self) -> list:
        return list(self._tags)

    def traces(self, name: str) -> list:
        """Per-iteration traces a loop body published in the last forward."""
        return list(self._traces.get(name, []))

    # ------------------------------------------------------------ observation
    def collect(self, tags) -> None:
        """Add the mean of each tagged output of the last forward to its batch buffer."""
        self.collect_with(tags, Reduce.MEAN)

    def collect_with(self, tags, reduce=Reduce.MEAN) -> None:
        """Like ``collect`` with another reduction (``Reduce.SUM|MAX|MIN|NORM``)."""
        for tag in ([tags] if isinstance(tags, str) else tags):
            for t in self._tag_groups.get(tag, [tag]):
                value = self.tagged(t)
                if value is None:
                    raise GraphError(f"{self._where()}: collect('{t}'): nothing computed "
                                     f"yet; run forward first")
                self._observer.collect_value(t, value, reduce)

    def record(self, tag: str, values) -> None:
        """Add external values (a list of numbers) to ``tag``'s batch buffer."""
        self._observer.record(tag, values)

    def record_scalar(self, tag: str, value) -> None:
        self._observer.record_scalar(tag, value)

    def flush(self, tags=None) -> None:
        """Batch buffers -> one epoch value each (their mean); labelled child graphs too."""
        self._observer.flush(tags)
        for child in self.child_graphs().values():
            child.flush(tags if tags is None else [t for t in
                                                   ([tags] if isinstance(tags, str) else tags)
                                                   if t in child._observer.tags()])

    def latest_metrics(self) -> dict:
        """{tag: latest epoch value} (what a Monitor logs)."""
        return self._observer.latest_metrics()

    def trend(self, tag: str):
        """The epoch history of ``tag`` as a Trend (slope, stalled, improving, ...)."""
        return self._observer.trend(tag)

    def trends(self, tags=None):
        return self._observer.trends(tags)

    def timing_trend(self, tag: str):
        """Epoch means of a node's profiled time (flushed by ``end_epoch``)."""
        return self._observer.timing_trend(tag)

    def end_step(self) -> None:
        """Per-step housekeeping: count the step, detach carried state (truncated BPTT)."""
        self._observer.end_step()
        self.detach_state()

    def end_epoch(self) -> None:
        """Flush every buffer (metrics and timings) into the epoch history."""
        self._observer.end_epoch()
        for child in self.child_graphs().values():
            child._observer.end_epoch()

    @property
    def observer(self) -> Observer:
        return self._observer

    def plot_html(self, path, tags=None) -> None:
        """Self-contained HTML page with the epoch curves of ``tags``."""
        self._observer.plot_html(path, tags, title=self.label or "Training Curves")

    def export_trends(self, path, tags=None) -> None:
        """Epoch histories as CSV."""
        self._observer.export_trends(path, tags)

    def write_log(self, path, total_epochs: int = 0, tags=None) -> None:
        self._observer.write_log(path, total_epochs, tags)

    # --------------------------------------------------- profiling and pictures
    def enable_profiling(self, recursive: bool = True) -> None:
        """Time every node in the following forwards (nested graphs too)."""
        from .profile import enable_profiling
        enable_profiling(self, recursive)

    def disable_profiling(self, recursive: bool = True) -> None:
        from .profile import disable_profiling
        disable_profiling(self, recursive)

    def profile(self):
        """Per-node and per-level timings of the last profiled forward."""
        from .profile import profile
        return profile(self)

    def timing(self, tag: str) -> float:
        """Seconds the tagged node took in the last profiled forward."""
        from .profile import timing
        return timing(self, tag)

    def dot(self) -> str:
        """The graph in Graphviz DOT."""
        from .dot import dot
        return dot(self)

    def svg(self, path=None) -> str:
        """Render through Graphviz's ``dot`` program; also written to ``path`` if given."""
        from .dot import svg
        return svg(self, path)

    def svg_with_profile(self, path=None) -> str:
        """Like ``svg``, nodes coloured green to red by their measured time."""
        from .dot import svg_with_profile
        return svg_with_profile(self, path)

    # ----------------------------------------------------------------- hash
    def structural_hash(self) -> str:
        """SHA-256 of the topology, module kinds, tags and parameter names/shapes
        (the label is left out, so relabelling keeps checkpoints loadable)."""
        h = hashlib.sha256()
        for node in self._nodes:
            parts = [node.id, node.kind, node.tag or "", ",".join(node.inputs),
                     ";".join(f"{k}:{v[0]}:{v[1]}" for k, v in node.refs.items()),
                     repr(sorted((k, str(v)) for k, v in node.spec.items()))]
            m = node.module
            if isinstance(m, Graph):
                parts.append("graph:" + m.structural_hash())
            elif m is not None:
                parts.append(type(m).__name__)
                parts.extend(f"{name}{tuple(p.shape)}" for name, p in m.named_parameters())
            h.update(("|".join(parts) + "\n").encode())
        return h.hexdigest()

    def short_hash(self) -> str:
        return self.structural_hash()[:8]

    def extra_repr(self) -> str:
        return f"label={self.label!r}, nodes={len(self._nodes)}" if self.label else \
            f"nodes={len(self._nodes)}"
