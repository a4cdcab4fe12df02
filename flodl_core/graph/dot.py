"""Graphviz pictures of a Graph: DOT text, SVG, and SVG coloured by node time.

    print(dot(g))                       # DOT text, no program needed
    svg(g, "model.svg")                 # runs Graphviz's `dot -Tsvg`
    enable_profiling(g); g(x)
    svg_with_profile(g, "timed.svg")    # fill from green (fast) to red (slow)

One DOT node per graph node, labelled with the node id, the module class, the
tag and the parameter count. Shapes and colours by role:

    entry (fed by the graph input)  invhouse, green
    output                          house, red, double border
    input (auxiliary graph input)   cds, light green
    nested graph                    box3d, label and parameter count of the child
    activation (ReLU, GELU, ...)    ellipse, yellow
    normalisation (LayerNorm, ...)  component, purple
    add / merge                     circle "+" / trapezium
    loop / gate / switch / map      doubleoctagon / hexagon / diamond / parallelogram
    other modules                   box, blue

Edges: the stream is solid; a same-pass ref (``using`` after ``tag``) is a
dashed blue edge labelled with the ref name; a forward ref (``using`` before
``tag``, reading the previous pass) is a dashed red edge from the node that
writes the tag to the node that reads it, labelled ``state: <tag>``.
"""
from __future__ import annotations

import os
import shutil
import subprocess

from ..errors import GraphError

_ACTIVATIONS = {"relu", "relu6", "gelu", "tanh", "sigmoid", "silu", "swish", "mish",
                "elu", "selu", "celu", "leakyrelu", "prelu", "softplus", "softsign",
                "hardtanh", "hardsigmoid", "hardswish", "softmax", "logsoftmax", "glu",
                "tanhshrink", "softshrink", "hardshrink", "logsigmoid", "rrelu"}

_STYLE = {   # role -> (shape, fill colour, extra attributes)
    "entry": ("invhouse", "#c8e6c9", ""),
    "output": ("house", "#ffcdd2", "peripheries=2"),
    "input": ("cds", "#dcedc8", ""),
    "graph": ("box3d", "#e0e0e0", ""),
    "activation": ("ellipse", "#fff9c4", ""),
    "norm": ("component", "#e1bee7", ""),
    "add": ("circle", "#ffe0b2", ""),
    "merge": ("trapezium", "#ffe0b2", ""),
    "loop": ("doubleoctagon", "#b3e5fc", ""),
    "gate": ("hexagon", "#f8bbd0", ""),
    "switch": ("diamond", "#f8bbd0", ""),
    "map": ("parallelogram", "#b2dfdb", ""),
    "module": ("box", "#bbdefb", ""),
}


def _esc(s) -> str:
    """A DOT double-quoted string body: backslashes and quotes escaped, no raw newlines."""
    return str(s).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _q(s) -> str:
    return f'"{_esc(s)}"'


def _is_activation(m) -> bool:
    return type(m).__name__.lower() in _ACTIVATIONS


def _is_norm(m) -> bool:
    return "norm" in type(m).__name__.lower()


def role(graph, node) -> str:
    """The drawing role of ``node`` (a key of the style table above)."""
    from .graph import Graph
    if node.kind == "input":
        return "input"
    if node.kind == "module" and isinstance(node.module, Graph):
        return "graph"
    if node.id == graph._output:
        return "output"
    if "__input__" in node.inputs:
        return "entry"
    if node.kind == "module":
        if _is_activation(node.module):
            return "activation"
        if _is_norm(node.module):
            return "norm"
        return "module"
    return node.kind if node.kind in _STYLE else "module"


def _params(m) -> int:
    try:
        return int(m.num_parameters()) if m is not None else 0
    except Exception:      # a module whose parameters cannot be counted: show none
        return 0


def _fmt_count(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1e6:.2f}M params"
    if n >= 10_000:
        return f"{n / 1e3:.1f}k params"
    return f"{n} param" + ("" if n == 1 else "s")


def _what(node) -> str:
    """The second label line: what the node runs."""
    from .graph import Graph
    m = node.module
    if node.kind == "module":
        if isinstance(m, Graph):
            return f"graph '{m.label}' ({len(m._nodes)} nodes)" if m.label else \
                f"Graph ({len(m._nodes)} nodes)"
        return type(m).__name__
    if node.kind == "add":
        return "+"
    if node.kind == "input":
        return f"input '{node.spec.get('name', node.tag)}'"
    if node.kind == "merge":
        op = node.spec.get("op")
        return f"merge {op.name}" if op is not None else f"merge {type(m).__name__}"
    if node.kind == "loop":
        spec = node.spec
        rule = (f"for_n({spec.get('n')})" if spec.get("mode") == "for" else
                f"{spec.get('mode')}_cond(max {spec.get('max_iter')})")
        return f"loop {type(m.body).__name__} {rule}"
    if node.kind == "gate":
        return f"gate {type(m.router).__name__} x{len(m.experts)} experts"
    if node.kind == "switch":
        return f"switch {type(m.selector).__name__} x{len(m.branches)} branches"
    if node.kind == "map":
        spec = node.spec
        how = {"each": "each()", "over": f"over({spec.get('tag')})",
               "slices": f"slices({spec.get('n')})"}.get(spec.get("mode"), "")
        return f"map {type(m.body).__name__} {how}" + (" batched" if spec.get("batched") else "")
    return node.kind


def _label(graph, node, seconds=None) -> str:
    lines = [node.id, _what(node)]
    if node.tag:
        lines.append(f"#{node.tag}")
    n = _params(node.module)
    if n:
        lines.append(_fmt_count(n))
    if seconds is not None:
        lines.append(f"{seconds * 1e3:.3f} ms")
    return "\\n".join(_esc(s) for s in lines)


def _heat(frac: float) -> str:
    """Green (0) through yellow to red (1) as #rrggbb."""
    frac = min(max(frac, 0.0), 1.0)
    if frac < 0.5:
        r, g = int(round(255 * frac * 2)), 200
    else:
        r, g = 255, int(round(200 * (1 - frac) * 2))
    return f"#{r:02x}{g:02x}60"


def _dot(graph, timings=None) -> str:
    name = graph.label or "graph"
    out = [f"digraph {_q(name)} {{",
           "  rankdir=TB;",
           '  node [fontname="Helvetica", fontsize=10, style=filled];',
           '  edge [fontname="Helvetica", fontsize=9];']
    if graph.label:
        out.append(f"  label={_q(graph.label)}; labelloc=t;")
    slowest = max(timings.values(), default=0.0) if timings else 0.0
    for node in graph._nodes:
        r = role(graph, node)
        shape, fill, extra = _STYLE[r]
        seconds = None
        if timings is not None:
            seconds = timings.get(node.id)
            fill = _heat(seconds / slowest if slowest > 0 else 0.0) if seconds is not None \
                else "#eeeeee"
        attrs = [f"shape={shape}", f'fillcolor="{fill}"', f'label="{_label(graph, node, seconds)}"']
        if extra:
            attrs.append(extra)
        if node.id == graph._output and r != "output":
            attrs.append("peripheries=2")
        out.append(f"  {_q(node.id)} [{', '.join(attrs)}];")
    for node in graph._nodes:
        for src in node.inputs:
            if src != "__input__":
                out.append(f"  {_q(src)} -> {_q(node.id)};")
        for ref, (kind, src) in node.refs.items():
            if kind == "tag":
                out.append(f"  {_q(src)} -> {_q(node.id)} [style=dashed, color=blue, "
                           f"fontcolor=blue, label={_q(ref)}];")
            else:
                writer = graph._tags.get(src)
                if writer is None:
                    continue
                out.append(f"  {_q(writer)} -> {_q(node.id)} [style=dashed, color=red, "
                           f"fontcolor=red, constraint=false, label={_q('state: ' + src)}];")
    out.append("}")
    return "\n".join(out) + "\n"


def dot(graph) -> str:
    """Graphviz DOT text of ``graph`` (see the module docstring for the legend)."""
    return _dot(graph)


def _render(graph, text: str, path, fn: str) -> str:
    exe = shutil.which("dot")
    if exe is None:
        raise GraphError(f"{fn}: the Graphviz 'dot' program was not found on PATH; install "
                         f"Graphviz (e.g. `apt-get install graphviz`, `brew install graphviz`) "
                         f"or use dot() for the DOT text")
    try:
        res = subprocess.run([exe, "-Tsvg"], input=text.encode(), capture_output=True,
                             check=False)
    except OSError as e:
        raise GraphError(f"{fn}: could not run {exe}: {e}") from e
    if res.returncode != 0:
        raise GraphError(f"{fn}: Graphviz 'dot' failed (exit {res.returncode}): "
                         f"{res.stderr.decode(errors='replace').strip()}")
    svg_text = res.stdout.decode("utf-8", errors="replace")
    if path is not None:
        try:
            with open(os.fspath(path), "w", encoding="utf-8") as f:
                f.write(svg_text)
        except OSError as e:
            raise GraphError(f"{fn}: could not write {path}: {e}") from e
    return svg_text


def svg(graph, path=None) -> str:
    """The graph as SVG (via Graphviz ``dot -Tsvg``); also written to ``path`` if given."""
    return _render(graph, _dot(graph), path, "svg")


def dot_with_profile(graph) -> str:
    """DOT text with nodes filled green (fast) to red (slow) and times in the labels."""
    from .profile import _require_timings
    return _dot(graph, dict(_require_timings(graph, "svg_with_profile")))


def svg_with_profile(graph, path=None) -> str:
    """``svg`` coloured by the last profiled forward's node times (needs profiling data)."""
    return _render(graph, dot_with_profile(graph), path, "svg_with_profile")
