"""Graph observation: collect tagged outputs, record external metrics, flush
epochs, trends, nested graphs, reports, profiled timings."""
import csv

import numpy as np
import pytest

import flodl_core as fl
from flodl_core.graph import FlowBuilder, MergeOp
from flodl_core.graph.observe import Reduce


def _graph():
    enc = FlowBuilder(fl.Identity()).through(fl.ReLU()).tag("hidden").label("encoder").build()
    return (FlowBuilder(enc).split([fl.Identity(), fl.Identity()]).tag_group("head")
            .merge(MergeOp.ADD).tag("out").build())


def test_collect_flush_and_trend():
    g = _graph()
    for batch in ([[1.0, -1.0]], [[3.0, -3.0]]):
        g(fl.tensor(np.array(batch)))
        g.collect(["out"])
        g.collect_with("head", Reduce.MAX)         # a tag group expands to head_0, head_1
    g.record_scalar("loss", 0.5)
    g.record("loss", [1.5])
    g.flush()
    # out = 2 * relu(x): batch means 1.0 and 3.0 -> epoch value 2.0
    assert g.latest_metrics() == {"out": 2.0, "head_0": 2.0, "head_1": 2.0, "loss": 1.0}
    for value in (0.8, 0.6, 0.4):
        g.record_scalar("loss", value)
        g.flush(["loss"])
    trend = g.trend("loss")
    assert trend.values == [1.0, 0.8, 0.6, 0.4]
    assert trend.slope() == pytest.approx(-0.2)
    assert trend.improving()
    assert g.trends(["loss", "out"]).slopes()["loss"] == pytest.approx(-0.2)


def test_collect_before_forward_is_an_error():
    with pytest.raises(fl.GraphError, match="forward first"):
        _graph().collect(["out"])


def test_paths_reach_labelled_children_and_flush_recurses():
    g = _graph()
    g(fl.tensor(np.array([[2.0, -1.0]])))
    g.collect_at("encoder.hidden")
    g.record_at("encoder.acc", 0.9)
    g.flush()
    assert g.trend_at("encoder.hidden").values == [1.0]
    assert g.subgraph("encoder").trend("acc").values == [0.9]


def test_reports_are_written(tmp_path):
    g = _graph()
    for v in (1.0, 0.5):
        g.record_scalar("loss", v)
        g.end_epoch()
    g.plot_html(tmp_path / "curves.html", ["loss"])
    g.export_trends(tmp_path / "trends.csv", ["loss"])
    g.write_log(tmp_path / "train.log")
    html = (tmp_path / "curves.html").read_text()
    assert "loss" in html and "https://" not in html
    rows = list(csv.reader(open(tmp_path / "trends.csv")))
    assert rows[0] == ["epoch", "loss"] and [float(r[1]) for r in rows[1:]] == [1.0, 0.5]
    assert "loss" in (tmp_path / "train.log").read_text()


def test_profiled_timings_become_a_trend():
    g = FlowBuilder(fl.Linear(4, 4)).tag("lin").through(fl.ReLU()).build()
    g.enable_profiling()
    for _ in range(3):
        g(fl.randn(8, 4))
    assert g.timing("lin") > 0
    g.end_epoch()
    assert len(g.timing_trend("lin")) == 1 and g.timing_trend("lin").latest() > 0


def test_end_step_detaches_forward_ref_state():
    w = fl.Linear(2, 2)
    g = FlowBuilder(w).through(fl.StateAdd()).using("memory").tag("memory").build()
    g(fl.randn(1, 2))
    g.end_step()
    assert g._state["memory"].creator is None


def test_the_guide_example_builds_and_runs():
    import re
    from pathlib import Path
    text = (Path(__file__).resolve().parents[2] / "docs" / "graph.md").read_text()
    scope = {}
    exec(re.findall(r"```python\n(.*?)```", text, re.S)[0], scope)
    model = scope["model"]
    assert model(fl.randn(5, 32)).shape == (5, 2)
    assert model(fl.randn(5, 32)).shape == (5, 2)      # the forward ref now holds state
    assert "encoder" in model.tree_summary()
