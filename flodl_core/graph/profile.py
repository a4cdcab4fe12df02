"""Per-node and per-level timings of a Graph's forward pass.

    enable_profiling(g)        # g.forward now times every node
    g(x)
    print(profile(g))          # table: node, tag, kind, level, ms, share
    timing(g, "hidden")        # seconds of the node tagged "hidden"

A node's *level* is the length of the longest path from the graph input to it
in the node DAG (stream inputs and same-pass tag refs are dependencies; forward
refs read the previous pass, so they are not). The entry node and auxiliary
``input`` nodes are level 0. Nodes of one level depend on none of each other
and could run in parallel: a ``split`` puts all its branches on one level.

Timings are those of the most recent forward run while profiling was enabled
(``Graph.forward`` fills ``graph._timings``). A nested graph is timed as one
node; ``enable_profiling`` also enables its nested graphs (``recursive=True``)
so that ``profile(child)`` works on them too.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import GraphError


# ------------------------------------------------------------------ switches
def _nested_graphs(graph) -> list:
    from .graph import Graph
    out, seen = [], {id(graph)}
    for node in graph._nodes:
        if node.module is None:
            continue
        for m in node.module.modules():
            if isinstance(m, Graph) and id(m) not in seen:
                seen.add(id(m))
                out.append(m)
    return out


def enable_profiling(graph, recursive: bool = True) -> None:
    """Time every node from the next forward on (clears older timings)."""
    graphs = [graph] + (_nested_graphs(graph) if recursive else [])
    for g in graphs:
        object.__setattr__(g, "_profiling", True)
        g._timings.clear()


def disable_profiling(graph, recursive: bool = True) -> None:
    """Stop timing; the last timings stay readable with profile()/timing()."""
    graphs = [graph] + (_nested_graphs(graph) if recursive else [])
    for g in graphs:
        object.__setattr__(g, "_profiling", False)


def _where(graph) -> str:
    label = getattr(graph, "label", None)
    return f"graph '{label}'" if label else "graph"


def _require_timings(graph, fn: str) -> dict:
    timings = graph._timings
    if not timings:
        if not graph._profiling:
            raise GraphError(f"{_where(graph)}: {fn} needs profiling data, but profiling was "
                             f"never enabled; call enable_profiling(graph) (or "
                             f"graph.enable_profiling()) and run a forward first")
        raise GraphError(f"{_where(graph)}: {fn} needs profiling data, but no forward ran "
                         f"since profiling was enabled; run graph(x) first")
    return timings


# ------------------------------------------------------------------ levels
def levels(graph) -> dict:
    """node id -> level (longest path from the graph input; see the module doc)."""
    out = {}
    for node in graph._nodes:     # nodes are stored in a valid execution order
        deps = [s for s in node.inputs if s != "__input__"]
        deps += [src for kind, src in node.refs.values() if kind == "tag"]
        out[node.id] = 1 + max((out.get(d, 0) for d in deps), default=-1)
    return out


# ------------------------------------------------------------------ results
@dataclass(frozen=True)
class NodeTiming:
    id: str
    tag: str | None
    kind: str
    level: int
    seconds: float


@dataclass(frozen=True)
class LevelTiming:
    level: int
    nodes: tuple          # node ids on this level
    seconds: float        # sum over the level's nodes (sequential time)
    max_seconds: float    # slowest node of the level (time if run in parallel)


@dataclass
class Profile:
    """Timings of the last profiled forward of one graph."""

    label: str | None
    nodes: list = field(default_factory=list)     # [NodeTiming] in execution order
    levels: list = field(default_factory=list)    # [LevelTiming] by level
    total: float = 0.0                            # sum of node seconds

    @property
    def critical_path(self) -> float:
        """Sum over levels of the slowest node: the time with perfect parallelism."""
        return sum(lv.max_seconds for lv in self.levels)

    def node(self, key: str) -> NodeTiming:
        """The timing of a node by id or tag."""
        for n in self.nodes:
            if n.id == key or n.tag == key:
                return n
        raise GraphError(f"profile: no node or tag '{key}'; nodes: "
                         f"{[n.id for n in self.nodes]}")

    def __str__(self) -> str:
        title = f"Profile of {'graph ' + repr(self.label) if self.label else 'graph'}: " \
                f"total {_ms(self.total)}, critical path {_ms(self.critical_path)}"
        rows = [("node", "tag", "kind", "level", "time", "share")]
        for n in self.nodes:
            share = n.seconds / self.total * 100 if self.total > 0 else 0.0
            rows.append((n.id, n.tag or "", n.kind, str(n.level), _ms(n.seconds),
                         f"{share:5.1f}%"))
        lines = [title, *_table(rows), "", "per level:"]
        lrows = [("level", "nodes", "sum", "max")]
        for lv in self.levels:
            lrows.append((str(lv.level), ", ".join(lv.nodes), _ms(lv.seconds),
                          _ms(lv.max_seconds)))
        lines += _table(lrows)
        return "\n".join(lines)

    __repr__ = __str__


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f} ms"


def _table(rows) -> list:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    right = {3, 4, 5} if len(widths) == 6 else {0, 2, 3}
    out = []
    for k, r in enumerate(rows):
        cells = [c.rjust(w) if i in right else c.ljust(w)
                 for i, (c, w) in enumerate(zip(r, widths))]
        out.append("  ".join(cells).rstrip())
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return out


# ------------------------------------------------------------------ queries
def profile(graph) -> Profile:
    """Per-node and per-level timings of the last profiled forward."""
    timings = _require_timings(graph, "profile")
    lv = levels(graph)
    nodes = [NodeTiming(n.id, n.tag, n.kind, lv[n.id], float(timings[n.id]))
             for n in graph._nodes if n.id in timings]
    by_level: dict = {}
    for n in nodes:
        by_level.setdefault(n.level, []).append(n)
    level_rows = [LevelTiming(k, tuple(n.id for n in ns), sum(n.seconds for n in ns),
                              max(n.seconds for n in ns))
                  for k, ns in sorted(by_level.items())]
    return Profile(graph.label, nodes, level_rows, sum(n.seconds for n in nodes))


def timing(graph, tag: str) -> float:
    """Seconds the node tagged ``tag`` took in the last profiled forward."""
    if tag not in graph._tags:
        raise GraphError(f"{_where(graph)}: timing: no tag '{tag}'; tags: {list(graph._tags)}")
    timings = _require_timings(graph, f"timing('{tag}')")
    node_id = graph._tags[tag]
    if node_id not in timings:
        raise GraphError(f"{_where(graph)}: timing: the node tagged '{tag}' ('{node_id}') "
                         f"did not run in the last profiled forward")
    return float(timings[node_id])
