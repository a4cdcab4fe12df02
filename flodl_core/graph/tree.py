"""The graph tree: labelled graphs nested in graphs, addressed by dotted paths.

``"encoder.scan.hidden"`` walks the labels ``encoder`` then ``scan`` and ends at
the tag ``hidden`` of that graph (or at a labelled graph, for paths that name a
whole subgraph). Tags declared ``internal`` or starting with ``_`` are invisible
from parent graphs. Errors name the failing segment and the full path.
"""
from __future__ import annotations

from ..errors import GraphError


class GraphTreeMixin:
    """Path-addressed operations of Graph (freeze, thaw, parameters_at, ...)."""

    # ------------------------------------------------------------- walking
    def child_graphs(self) -> dict:
        """Labelled graphs nested directly in this one (inside any node), by label."""
        from .graph import Graph
        out = {}
        for node in self._nodes:
            if node.module is None:
                continue
            for m in node.module.modules():
                if isinstance(m, Graph) and m is not self and m.label and m.label not in out:
                    out[m.label] = m
        return out

    def _resolve(self, path: str, want: str = "any"):
        """Walk ``path`` -> ("graph", graph) or ("tag", graph, tag)."""
        if not isinstance(path, str) or not path or any(not s for s in path.split(".")):
            raise GraphError(f"{self._where()}: bad path {path!r}; expected dotted labels "
                             f"and tags like 'encoder.hidden'")
        segments = path.split(".")
        g = self
        for i, seg in enumerate(segments):
            last = i == len(segments) - 1
            children = g.child_graphs()
            if seg in children and not (last and want == "tag"):
                g = children[seg]
                continue
            if last and want != "graph" and seg in g._tags:
                if g is not self and (seg in g._internal or seg.startswith("_")):
                    raise GraphError(f"path '{path}': tag '{seg}' is internal to graph "
                                     f"'{g.label}' and not visible from outside")
                return ("tag", g, seg)
            if last and want == "any" and any(n.id == seg for n in g._nodes):
                return ("node", g, seg)
            known = sorted(children) + ([] if want == "graph" else
                                        [t for t in g._tags
                                         if g is self or not (t in g._internal or
                                                              t.startswith("_"))])
            raise GraphError(f"path '{path}': no label or tag '{seg}' in "
                             f"{'this graph' if g is self else repr(g.label)}"
                             f" (segment {i + 1} of {len(segments)}); known here: {known}")
        return ("graph", g)

    def _modules_at(self, path: str) -> list:
        target = self._resolve(path)
        if target[0] == "graph":
            return [target[1]]
        g, name = target[1], target[2]
        node_id = g._tags[name] if target[0] == "tag" else name
        node = next(n for n in g._nodes if n.id == node_id)
        tag = name
        if node.module is None:
            raise GraphError(f"path '{path}': tag '{tag}' marks a {node.kind} node, which "
                             f"has no parameters")
        return [node.module]

    # -------------------------------------------------------------- params
    def named_parameters_at(self, path: str) -> list:
        """(name, Parameter) under ``path``, named relative to that subgraph/module."""
        out, seen = [], set()
        for m in self._modules_at(path):
            for name, p in m.named_parameters():
                if id(p) not in seen:
                    seen.add(id(p))
                    out.append((name, p))
        return out

    def parameters_at(self, path: str) -> list:
        return [p for _, p in self.named_parameters_at(path)]

    def freeze(self, path: str) -> "GraphTreeMixin":
        """Freeze every parameter under ``path`` (a label path or a tag)."""
        for p in self.parameters_at(path):
            p.freeze()
        return self

    def thaw(self, path: str) -> "GraphTreeMixin":
        """Unfreeze every parameter under ``path``."""
        for p in self.parameters_at(path):
            p.unfreeze()
        return self

    def is_frozen(self, path: str) -> bool:
        """True when every parameter under ``path`` is frozen (and there is one)."""
        params = self.parameters_at(path)
        return bool(params) and all(p.is_frozen for p in params)

    def set_training_at(self, path: str, training: bool) -> None:
        for m in self._modules_at(path):
            m.train(training)

    def subgraph(self, path: str):
        """The labelled graph at ``path``."""
        return self._resolve(path, want="graph")[1]

    def load_subgraph_checkpoint(self, path: str, file, strict: bool = False, *,
                                 check_finite: bool = False):
        """Load a checkpoint saved from a standalone graph into the child at ``path``.

        Entries are matched by the child's own names (``fc.weight``, not
        ``encoder.fc.weight``) and the file's structural hash must equal the
        child's. Returns the LoadReport; the rest of this graph is untouched.
        """
        from ..io.checkpoint import load_checkpoint
        child = self.subgraph(path)
        return load_checkpoint(file, child.named_parameters(), child._persistent_buffers(),
                               child.structural_hash(), strict=strict,
                               check_finite=check_finite)

    # ---------------------------------------------------------- observation
    def tagged_at(self, path: str):
        """The tagged output at ``path`` from the last forward; None when not computed
        yet. A path that does not exist is an error."""
        target = self._resolve(path, want="tag")
        if target[0] != "tag":
            raise GraphError(f"path '{path}' names a graph, not a tag")
        g, tag = target[1], target[2]
        return g._outputs.get(tag)

    def _owner(self, path: str):
        """(graph, metric name) for metric paths: labels, then any metric name."""
        head, _, name = path.rpartition(".")
        return (self.subgraph(head) if head else self), name

    def record_at(self, path: str, value) -> None:
        g, name = self._owner(path)
        g.record_scalar(name, value)

    def trend_at(self, path: str):
        g, name = self._owner(path)
        return g.trend(name)

    def collect_at(self, paths) -> None:
        for path in ([paths] if isinstance(paths, str) else paths):
            g, name = self._owner(path)
            g.collect([name])

    # -------------------------------------------------------------- summary
    def tree_summary(self) -> str:
        """An indented tree of labelled graphs with parameter counts and hashes."""
        lines = []

        def walk(g, depth, name):
            n = sum(p.numel() for p in g.parameters())
            frozen = sum(p.numel() for p in g.parameters() if p.is_frozen)
            lines.append(f"{'  ' * depth}{name}  [{len(g._nodes)} nodes, {n:,} params"
                         f"{f', {frozen:,} frozen' if frozen else ''}, hash {g.short_hash()}]")
            for label, child in g.child_graphs().items():
                walk(child, depth + 1, label)

        walk(self, 0, self.label or "graph")
        return "\n".join(lines)

    def param_summary(self) -> str:
        """One line per node with parameters: name, count, trainable, frozen."""
        rows = [("node", "params", "trainable", "frozen")]
        for node in self._nodes:
            if node.module is None:
                continue
            ps = node.module.parameters()
            if not ps:
                continue
            total = sum(p.numel() for p in ps)
            frozen = sum(p.numel() for p in ps if p.is_frozen)
            rows.append((node.name, f"{total:,}", f"{total - frozen:,}", f"{frozen:,}"))
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows)
