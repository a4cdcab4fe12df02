"""Graph pictures (DOT / SVG) and per-node / per-level profiling."""
import re
import shutil
import subprocess

import numpy as np
import pytest

import flodl_core as fl
from flodl_core.errors import GraphError
from flodl_core.graph import FlowBuilder, MergeOp
from flodl_core.graph import dot as dot_mod
from flodl_core.graph.dot import dot, dot_with_profile, role, svg, svg_with_profile
from flodl_core.graph.modules import FixedSelector, SoftmaxRouter, StateAdd
from flodl_core.graph.profile import (Profile, disable_profiling, enable_profiling, levels,
                                      profile, timing)

F64 = fl.DType.Float64
HAVE_DOT = shutil.which("dot") is not None


def lin(i, o):
    return fl.Linear(i, o, dtype=F64)


def x64(*shape, seed=0):
    return fl.tensor(np.random.default_rng(seed).standard_normal(shape))


def rich_graph():
    """Every construct the picture distinguishes."""
    inner = FlowBuilder(lin(4, 4)).through(fl.Tanh()).label("inner").build()
    return (FlowBuilder(lin(4, 4)).tag("h")
            .through(fl.ReLU())
            .through(fl.LayerNorm(4, dtype=F64))
            .also(lin(4, 4))
            .split([lin(4, 4), lin(4, 4)]).merge(MergeOp.ADD)
            .through(StateAdd()).using("h")                           # same-pass ref
            .through(StateAdd()).using("memory").tag("memory")        # forward ref
            .loop_body(lin(4, 4)).for_n(2)
            .gate(SoftmaxRouter(4, 2, dtype=F64), [lin(4, 4), lin(4, 4)])
            .through(inner)
            .through(lin(4, 3)).tag("out")
            .build())


def node_line(text, node_id):
    m = re.search(rf'^\s*"{re.escape(node_id)}" \[(.*)\];$', text, re.M)
    assert m, f"no DOT node for {node_id}"
    return m.group(1)


def shape_of(text, node_id):
    return re.search(r"shape=(\w+)", node_line(text, node_id)).group(1)


# ------------------------------------------------------------------- dot
def test_dot_has_every_node_and_stream_edge():
    g = rich_graph()
    text = dot(g)
    assert text.startswith("digraph ")
    for node in g._nodes:
        node_line(text, node.id)
        for src in node.inputs:
            if src != "__input__":
                assert f'"{src}" -> "{node.id}";' in text


def test_dot_ref_edges_dashed_and_labelled():
    g = rich_graph()
    text = dot(g)
    reader_same = next(n for n in g._nodes if n.refs.get("h") == ("tag", g._tags["h"]))
    same = [ln for ln in text.splitlines()
            if f'"{g._tags["h"]}" -> "{reader_same.id}" [' in ln]
    assert len(same) == 1 and "style=dashed" in same[0] and 'label="h"' in same[0]
    reader_state = next(n for n in g._nodes if n.refs.get("memory") == ("state", "memory"))
    writer = g._tags["memory"]
    state = [ln for ln in text.splitlines() if f'"{writer}" -> "{reader_state.id}" [' in ln]
    assert len(state) == 1
    assert "style=dashed" in state[0] and 'label="state: memory"' in state[0]
    assert "color=red" in state[0] and "color=blue" in same[0]


def test_dot_shapes_differ_by_kind():
    g = rich_graph()
    text = dot(g)
    by_role = {}
    for node in g._nodes:
        by_role.setdefault(role(g, node), set()).add(shape_of(text, node.id))
    for r in ("entry", "output", "activation", "norm", "add", "merge", "loop", "gate",
              "graph", "module"):
        assert r in by_role, r
    shapes = {r: s.pop() for r, s in by_role.items()}
    assert len(set(shapes.values())) == len(shapes), shapes
    entry = next(n for n in g._nodes if "__input__" in n.inputs)
    assert role(g, entry) == "entry"
    assert role(g, next(n for n in g._nodes if n.id == g._output)) == "output"


def test_dot_labels_show_class_tag_params_and_nested_graph():
    g = rich_graph()
    text = dot(g)
    entry = node_line(text, g._tags["h"])
    assert "Linear" in entry and "#h" in entry and "20 params" in entry
    inner = node_line(text, "inner")
    assert "graph 'inner'" in inner and "20 params" in inner
    assert "for_n(2)" in text and "SoftmaxRouter" in text


def test_dot_switch_map_input_shapes():
    g = (FlowBuilder(lin(4, 4)).input("ctx")
         .switch(FixedSelector(0), [lin(4, 4), lin(4, 4)])
         .map(lin(2, 2)).slices(2)
         .build())
    text = dot(g)
    kinds = {n.kind: shape_of(text, n.id) for n in g._nodes}
    assert kinds["input"] == "cds" and kinds["switch"] == "diamond"
    assert kinds["map"] == "house"      # the output node wins
    assert "slices(2)" in text


def test_dot_escapes_quotes(monkeypatch):
    g = FlowBuilder(lin(2, 2)).build()
    monkeypatch.setattr(g._nodes[0], "id", 'a"b\\c')
    object.__setattr__(g, "_output", 'a"b\\c')
    text = dot(g)
    assert '"a\\"b\\\\c" [' in text


@pytest.mark.skipif(not HAVE_DOT, reason="Graphviz 'dot' is not installed")
def test_dot_parses_with_graphviz(tmp_path):
    text = dot(rich_graph())
    res = subprocess.run(["dot", "-Tsvg"], input=text.encode(), capture_output=True)
    assert res.returncode == 0, res.stderr.decode()
    assert b"<svg" in res.stdout and not res.stderr.strip()


@pytest.mark.skipif(not HAVE_DOT, reason="Graphviz 'dot' is not installed")
def test_svg_writes_file(tmp_path):
    g = rich_graph()
    out = tmp_path / "g.svg"
    text = svg(g, out)
    assert "<svg" in text and out.read_text() == text


def test_svg_without_graphviz_says_how_to_install(monkeypatch):
    monkeypatch.setattr(dot_mod.shutil, "which", lambda name: None)
    with pytest.raises(GraphError, match="apt-get install graphviz"):
        svg(rich_graph())


# --------------------------------------------------------------- profile
def test_levels_split_branches_share_a_level():
    g = (FlowBuilder(lin(4, 4))
         .split([lin(4, 4), lin(4, 4), fl.ReLU()]).merge(MergeOp.MEAN)
         .through(lin(4, 2)).build())
    lv = levels(g)
    ids = [n.id for n in g._nodes]
    assert [lv[i] for i in ids] == [0, 1, 1, 1, 2, 3]


def test_levels_count_same_pass_refs_not_forward_refs():
    g = (FlowBuilder(lin(4, 4)).tag("a").through(lin(4, 4)).through(lin(4, 4))
         .through(StateAdd()).using("a", "m").tag("m").build())
    lv = levels(g)
    assert [lv[n.id] for n in g._nodes] == [0, 1, 2, 3]


def test_profile_after_forward():
    g = (FlowBuilder(lin(4, 8)).tag("first")
         .split([lin(8, 8), lin(8, 8)]).merge(MergeOp.ADD).tag("joined")
         .through(lin(8, 2)).build())
    enable_profiling(g)
    g(x64(3, 4))
    p = profile(g)
    assert isinstance(p, Profile)
    assert [n.id for n in p.nodes] == [n.id for n in g._nodes]
    assert all(n.seconds > 0 for n in p.nodes)
    assert p.total == pytest.approx(sum(n.seconds for n in p.nodes))
    assert [lv.level for lv in p.levels] == [0, 1, 2, 3]
    assert len(p.levels[1].nodes) == 2
    assert p.levels[1].seconds == pytest.approx(sum(p.node(i).seconds
                                                    for i in p.levels[1].nodes))
    assert p.critical_path <= p.total
    assert p.node("joined").kind == "merge"
    text = str(p)
    for n in g._nodes:
        assert n.id in text
    assert "per level" in text and "ms" in text
    assert timing(g, "first") > 0
    assert timing(g, "joined") == p.node("joined").seconds


def test_timing_errors():
    g = FlowBuilder(lin(4, 4)).tag("h").build()
    with pytest.raises(GraphError, match="never enabled"):
        timing(g, "h")
    with pytest.raises(GraphError, match="never enabled"):
        profile(g)
    with pytest.raises(GraphError, match="no tag 'nope'"):
        timing(g, "nope")
    enable_profiling(g)
    with pytest.raises(GraphError, match="no forward"):
        profile(g)
    g(x64(2, 4))
    disable_profiling(g)
    assert not g._profiling
    assert timing(g, "h") > 0          # still readable after disabling
    with pytest.raises(GraphError, match="no tag 'nope'"):
        timing(g, "nope")


def test_enable_profiling_reaches_nested_graphs():
    inner = FlowBuilder(lin(4, 4)).tag("core").label("inner").build()
    g = FlowBuilder(lin(4, 4)).through(inner).build()
    enable_profiling(g)
    g(x64(2, 4))
    assert timing(inner, "core") > 0
    disable_profiling(g)
    assert not inner._profiling


def test_dot_with_profile_needs_data_and_colours_nodes():
    g = FlowBuilder(lin(4, 4)).through(fl.ReLU()).through(lin(4, 2)).build()
    with pytest.raises(GraphError, match="never enabled"):
        dot_with_profile(g)
    with pytest.raises(GraphError, match="never enabled"):
        svg_with_profile(g)
    enable_profiling(g)
    g(x64(2, 4))
    text = dot_with_profile(g)
    fills = re.findall(r'fillcolor="(#[0-9a-f]{6})"', text)
    assert len(fills) == len(g._nodes)
    assert "#ff0060" in fills               # the slowest node is red
    assert text.count(" ms") == len(g._nodes)


@pytest.mark.skipif(not HAVE_DOT, reason="Graphviz 'dot' is not installed")
def test_svg_with_profile(tmp_path):
    g = rich_graph()
    enable_profiling(g)
    g(x64(3, 4))
    out = tmp_path / "p.svg"
    text = svg_with_profile(g, str(out))
    assert "<svg" in text and " ms" in text and out.exists()
