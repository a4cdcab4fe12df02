"""graph/observe.py and graph/plot.py: reductions, the Observer's buffers,
epoch history, timings, state round trip, and the HTML/CSV/log writers."""
import csv
import datetime
import json
import math
import os
from html.parser import HTMLParser

import ml_dtypes
import numpy as np
import pytest

import flodl_core as fl
from flodl_core.errors import CheckpointError, GraphError, ShapeError
from flodl_core.graph.observe import Observer, Reduce, reduce
from flodl_core.graph.plot import (export_trends, format_duration, format_metric, plot_html,
                                   write_log)
from flodl_core.graph.trend import Trend, TrendGroup

NAN = float("nan")


# ------------------------------------------------------------------ Reduce
def test_reduce_known_arrays():
    a = np.array([[1.0, -2.0], [3.0, 4.0]])
    assert Reduce.MEAN.apply(a) == 1.5
    assert Reduce.SUM.apply(a) == 6.0
    assert Reduce.MAX.apply(a) == 4.0
    assert Reduce.MIN.apply(a) == -2.0
    assert Reduce.NORM.apply(a) == pytest.approx(math.sqrt(1 + 4 + 9 + 16))
    assert Reduce.NORM.apply(np.array([3.0, 4.0])) == 5.0
    assert all(type(Reduce(m).apply(a)) is float for m in ("mean", "sum", "max", "min", "norm"))


def test_reduce_dtypes_and_numbers():
    assert reduce(np.array([1, 2, 4], dtype=np.int64), "mean") == pytest.approx(7 / 3)
    assert reduce(np.array([True, False, True]), Reduce.SUM) == 2.0
    assert reduce(np.full(4096, 1.0, dtype=np.float16), "sum") == 4096.0  # no f16 overflow
    assert reduce(np.array([1.5, 2.5], dtype=ml_dtypes.bfloat16), "max") == 2.5
    assert reduce(np.array([60000.0, 60000.0], dtype=np.float16), "norm") == \
        pytest.approx(60000.0 * math.sqrt(2))
    assert reduce(3) == 3.0 and reduce(-2.5, "norm") == 2.5 and reduce(np.float32(0.5)) == 0.5
    assert reduce([[1.0, 2.0], [3.0, 4.0]], "sum") == 10.0


def test_reduce_tensor_and_variable(device):
    t = fl.tensor([[1.0, 2.0], [3.0, 6.0]], device=device)
    assert reduce(t, "mean") == 3.0 and reduce(t, "max") == 6.0
    v = fl.Variable(t, requires_grad=True)
    assert reduce(v, "sum") == 12.0 and reduce(v, "min") == 1.0
    assert reduce(v, "norm") == pytest.approx(math.sqrt(50.0), rel=1e-6)


def test_reduce_errors():
    with pytest.raises(ShapeError, match="empty"):
        Reduce.MEAN.apply(np.zeros((0, 3)))
    with pytest.raises(TypeError):
        reduce("1.0")
    with pytest.raises(TypeError, match="complex"):
        reduce(np.array([1j]))
    with pytest.raises(ValueError, match="median"):
        reduce(np.ones(2), "median")
    assert Reduce.coerce("NORM") is Reduce.NORM


def test_reduce_keeps_nan():
    assert math.isnan(reduce(np.array([1.0, NAN]), "max"))
    assert math.isnan(reduce(np.array([1.0, NAN]), "mean"))
    assert reduce(np.array([1.0, np.inf])) == math.inf


# ------------------------------------------------------- buffers and flush
def test_collect_flush_trend_like_flodl():
    obs = Observer()
    for v in (1.0, 2.0, 3.0):
        obs.collect_value("loss", np.array(v))
    assert obs.collected("loss") == [1.0, 2.0, 3.0]
    obs.flush(["loss"])
    assert obs.flush_count == 1 and obs.collected("loss") == []
    for v in (0.5, 0.3, 0.2):
        obs.collect_value("loss", fl.tensor([v]))
    obs.flush("loss")                        # a single str is one tag
    assert obs.flush_count == 2
    t = obs.trend("loss")
    assert isinstance(t, Trend) and len(t) == 2
    assert t.values == pytest.approx([2.0, 1.0 / 3.0])
    assert t.improving()


def test_collect_value_reduction_and_scalar_passthrough():
    obs = Observer()
    assert obs.collect_value("h", np.array([[3.0, 4.0]]), Reduce.NORM) == 5.0
    assert obs.collect_value("h", np.array([1.0, 0.0]), "norm") == 1.0
    assert obs.collect_value("mean", np.array([2.0, 4.0, 6.0])) == 4.0  # default MEAN
    # a one-element value is recorded as is (flodl collect_with): NORM keeps the sign
    assert obs.collect_value("s", np.array([[-3.0]]), Reduce.NORM) == -3.0
    obs.flush()
    assert obs.history("h") == [3.0] and obs.history("s") == [-3.0]


def test_collect_value_strict_mode_rejects_non_scalar():
    obs = Observer()
    with pytest.raises(ShapeError, match="'out'"):
        obs.collect_value("out", np.ones((1, 2)), reduce=None)
    assert obs.collect_value("out", np.ones((1, 1)), reduce=None) == 1.0
    with pytest.raises(ShapeError, match="empty"):
        obs.collect_value("out", np.ones(0))


def test_record_and_record_scalar_means():
    obs = Observer()
    obs.record("ext", [0.5, 0.4, 0.3])
    obs.flush(["ext"])
    obs.record("ext", (x for x in (0.1, 0.05)))
    obs.record_scalar("ext", np.float64(0.0))
    obs.flush()
    assert obs.history("ext") == pytest.approx([0.4, 0.05])
    obs.record("arr", np.array([[1.0, 2.0], [3.0, 6.0]]))
    obs.record("arr", 4)                     # one number is accepted too
    obs.flush()
    assert obs.history("arr") == [16.0 / 5]
    with pytest.raises(TypeError):
        obs.record("bad", "0.5")
    with pytest.raises(ShapeError):
        obs.record_scalar("bad", np.ones(3))
    with pytest.raises(ValueError):
        obs.record_scalar("", 1.0)
    assert "bad" not in obs.tags()


def test_flush_all_subset_and_empty_buffers():
    obs = Observer()
    obs.record("a", [1.0, 2.0])
    obs.record("b", [3.0, 5.0])
    obs.flush(["a", "never_seen"])           # unknown tag: nothing happens
    assert obs.history("a") == [1.5] and obs.history("b") == []
    assert obs.collected("b") == [3.0, 5.0]
    obs.flush()                              # None = every buffered tag
    assert obs.history("b") == [4.0] and obs.history("a") == [1.5]  # a skipped: empty
    assert obs.flush_count == 2
    obs.flush()                              # nothing buffered: not counted
    obs.flush([])
    assert obs.flush_count == 2 and obs.history("a") == [1.5]
    assert len(obs.flush_times) == 2 and obs.flush_times[0] <= obs.flush_times[1]


def test_nan_and_inf_are_kept():
    obs = Observer()
    obs.record("loss", [1.0, NAN])
    obs.record_scalar("big", math.inf)
    obs.flush()
    assert math.isnan(obs.history("loss")[0])
    assert math.isnan(obs.latest_metrics()["loss"]) and obs.history("big") == [math.inf]
    assert math.isnan(obs.trend("loss").latest())


def test_unknown_tags_read_empty():
    obs = Observer()
    assert obs.history("nope") == [] and obs.collected("nope") == []
    assert obs.trend("nope").is_empty() and obs.timing_trend("nope").is_empty()
    assert obs.latest_metrics() == {} and obs.tags() == []


def test_tags_latest_metrics_order_and_trends():
    obs = Observer(tag_groups={"heads": ["h0", "h1"]})
    for epoch, v in enumerate((10.0, 8.0, 6.0, 4.0)):
        obs.record_scalar("z_loss", v)
        obs.record_scalar("h0", v * 0.5)
        obs.record_scalar("h1", v * 0.25)
        if epoch == 0:
            assert obs.latest_metrics() == {} and obs.tags() == ["z_loss", "h0", "h1"]
        obs.flush()
    assert list(obs.latest_metrics().items()) == [("z_loss", 4.0), ("h0", 2.0), ("h1", 1.0)]
    g = obs.trends(["heads"])                # group name expands
    assert isinstance(g, TrendGroup) and g.tags() == ["h0", "h1"] and g.all_improving()
    assert obs.trends().tags() == ["z_loss", "h0", "h1"]
    assert obs.trends(["z_loss", "missing"])["missing"].is_empty()
    assert obs.histories(["heads"]) == {"h0": [5.0, 4.0, 3.0, 2.0], "h1": [2.5, 2.0, 1.5, 1.0]}
    obs.reset_trend(["heads"])
    assert obs.history("h0") == [] and obs.history("z_loss") == [10.0, 8.0, 6.0, 4.0]
    obs.reset_trend()
    assert obs.latest_metrics() == {}


def test_counters_and_end_epoch():
    obs = Observer()
    for epoch in range(3):
        for step in range(4):
            obs.record_scalar("loss", float(epoch * 10 + step))
            obs.record_timing("fwd", 0.001 * (step + 1))
            obs.end_step()
        obs.end_epoch()
    assert obs.epoch == obs.epoch_count == 3
    assert obs.step == obs.step_count == 12
    assert obs.history("loss") == [1.5, 11.5, 21.5]
    assert obs.timing_history("fwd") == pytest.approx([0.0025] * 3)
    assert obs.eta(5) == pytest.approx(obs.flush_times[-1] / 3 * 2)
    assert Observer().eta(10) == 0.0


def test_timings_are_separate_from_metrics():
    obs = Observer()
    obs.record_timing("enc", 0.2)
    obs.record_timing("enc", datetime.timedelta(milliseconds=400))
    obs.record_timing("dec", 0.1)
    assert obs.collected_timings("enc") == pytest.approx([0.2, 0.4])
    obs.flush()                              # metric flush leaves timings buffered
    assert obs.timing_history("enc") == [] and obs.flush_count == 0
    obs.flush_timings(["enc"])
    assert obs.timing_history("enc") == pytest.approx([0.3])
    assert obs.collected_timings("dec") == [0.1]
    obs.record_timing("enc", 0.1)
    obs.flush_timings()
    t = obs.timing_trend("enc")
    assert t.values == pytest.approx([0.3, 0.1]) and t.improving()
    assert obs.timing_trends().tags() == ["enc", "dec"]
    assert obs.history("enc") == [] and "enc" not in obs.tags()
    with pytest.raises(ValueError, match="negative"):
        obs.record_timing("enc", -1.0)
    obs.reset_timing_trend("enc")
    assert obs.timing_history("enc") == [] and obs.timing_history("dec") == [0.1]


# ------------------------------------------------------------ state dict
def _filled_observer():
    obs = Observer()
    for epoch in range(3):
        obs.record("loss", [1.0 / (epoch + 1), 0.5 / (epoch + 1)])
        obs.record_scalar("acc", 0.5 + 0.1 * epoch)
        obs.record_timing("fwd", 0.01)
        obs.end_step()
        obs.end_epoch()
    obs.record_scalar("loss", NAN)           # mid-epoch buffer survives too
    return obs


def test_state_dict_round_trip_through_json():
    obs = _filled_observer()
    sd = obs.state_dict()
    text = json.dumps(sd)                    # plain types only (NaN as JSON NaN)
    fresh = Observer()
    fresh.load_state_dict(json.loads(text))
    assert fresh.tags() == obs.tags() == ["loss", "acc"]
    assert fresh.history("loss") == obs.history("loss")
    assert fresh.history("acc") == obs.history("acc")
    assert fresh.timing_history("fwd") == obs.timing_history("fwd")
    assert fresh.epoch == 3 and fresh.step == 3 and fresh.flush_count == 3
    assert fresh.flush_times == obs.flush_times
    assert math.isnan(fresh.collected("loss")[0])
    fresh.end_epoch()                        # training continues after resume
    assert len(fresh.history("loss")) == 4 and math.isnan(fresh.history("loss")[-1])
    assert fresh.flush_times[-1] >= obs.flush_times[-1]
    assert len(obs.history("loss")) == 3     # the original is untouched


def test_state_dict_is_a_copy():
    obs = _filled_observer()
    sd = obs.state_dict()
    sd["history"]["loss"].append(123.0)
    assert 123.0 not in obs.history("loss")


def test_load_state_dict_rejects_bad_input_without_changes():
    obs = _filled_observer()
    before = obs.state_dict()
    bad = [{"histroy": {}}, {"version": 99}, {"history": {"x": "abc"}},
           {"history": [1, 2]}, {"epoch": -1}, {"order": "loss"}, "nope"]
    for state in bad:
        with pytest.raises(CheckpointError):
            obs.load_state_dict(state)
    after = obs.state_dict()
    assert json.dumps(after) == json.dumps(before)


# -------------------------------------------------------------- writers
class _StrictParser(HTMLParser):
    """Fails on a closing tag that does not match the innermost open element."""

    VOID = {"meta", "input", "br", "img", "link", "hr", "rect", "line", "circle", "path"}

    def __init__(self):
        super().__init__()
        self.stack, self.tags, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append(tag)

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


HIST = {"loss": [1.0, 0.5, 0.25, NAN, 0.1], "val acc": [0.5, 0.7, 0.8],
        "a<b>&\"c": [2.0, 2.0, 2.0, 2.0, 2.0]}


def test_plot_html_self_contained_and_well_formed(tmp_path):
    path = tmp_path / "curves.html"
    plot_html(path, HIST, title="Run <1>")
    text = path.read_text(encoding="utf-8")
    assert "http://" not in text and "https://" not in text
    assert "<link" not in text and "src=" not in text   # no external resource at all
    p = _StrictParser()
    p.feed(text)
    p.close()
    assert p.stack == [] and p.tags[0] == "html"
    assert p.tags.count("svg") == 2                     # linear and log charts
    assert 'id="logy"' in text and "log scale" in text  # log toggle
    body = "".join(p.text)
    for tag in HIST:
        assert tag in body                              # legend, unescaped by the parser
    assert "Epoch" in body and "Run <1>" in body
    assert text.count('class="series"') == 2 * len(HIST)
    data = text.split('id="plot-data">', 1)[1].split("</script>", 1)[0]
    decoded = json.loads(data)
    assert decoded["tags"] == list(HIST) and decoded["values"][0][3] == "NaN"
    assert sorted(os.listdir(tmp_path)) == ["curves.html"]   # no temp file left


def test_plot_html_script_breaking_tag_is_escaped(tmp_path):
    path = tmp_path / "x.html"
    plot_html(path, {"</script><script>alert(1)</script>": [1.0, 2.0]})
    text = path.read_text()
    assert "<script>alert" not in text
    p = _StrictParser()
    p.feed(text)
    assert p.stack == []


def test_plot_html_tags_subset_and_errors(tmp_path):
    path = tmp_path / "p.html"
    plot_html(path, HIST, tags=["val acc"], log_y=True)
    text = path.read_text()
    assert "val acc" in text and "loss" not in text and 'id="logy" checked' in text
    with pytest.raises(GraphError, match="'nope'"):
        plot_html(path, HIST, tags=["nope"])
    with pytest.raises(GraphError, match="'empty'"):
        plot_html(path, {"ok": [1.0], "empty": []})
    with pytest.raises(GraphError):
        plot_html(path, {})
    with pytest.raises(TypeError, match="'ok'"):
        plot_html(path, {"ok": [1.0, "x"]})


def test_unwritable_path_raises_oserror_with_path(tmp_path):
    missing = tmp_path / "no_such_dir" / "out.html"
    for writer in (plot_html, export_trends, write_log):
        with pytest.raises(OSError) as ei:
            writer(missing, HIST)
        assert str(missing) in str(ei.value)
    assert isinstance(ei.value, FileNotFoundError)
    target_is_dir = tmp_path / "adir"
    target_is_dir.mkdir()
    with pytest.raises(OSError) as ei:
        export_trends(target_is_dir, HIST)
    assert str(target_is_dir) in str(ei.value)
    assert sorted(os.listdir(tmp_path)) == ["adir"]     # temp file cleaned up


def test_export_trends_csv_parses_back(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("old content")
    export_trends(str(path), HIST)           # replaces an existing file
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["epoch", "loss", "val acc", 'a<b>&"c']
    assert len(rows) == 6
    assert [r[0] for r in rows[1:]] == ["1", "2", "3", "4", "5"]
    loss = [float(r[1]) for r in rows[1:]]
    assert loss[:3] == [1.0, 0.5, 0.25] and math.isnan(loss[3]) and loss[4] == 0.1
    assert [r[2] for r in rows[1:]] == ["0.5", "0.7", "0.8", "", ""]
    assert all(float(r[3]) == 2.0 for r in rows[1:])
    export_trends(path, {"x": [1 / 3]})
    with open(path, newline="") as f:
        assert float(list(csv.reader(f))[1][1]) == 1 / 3   # exact round trip


def test_write_log_content(tmp_path):
    path = tmp_path / "train.log"
    write_log(path, {"loss": [0.5, 0.25, 0.0], "acc": [0.9, 0.95]},
              total_epochs=4, epoch_times=[1.0, 3.0, 4.5])
    lines = path.read_text().splitlines()
    assert lines[0] == "# flodl training log"
    assert lines[1] == "epoch   1  loss=0.5000  acc=0.9000  [1.0s  ETA 3.0s]"
    assert lines[2] == "epoch   2  loss=0.2500  acc=0.9500  [2.0s  ETA 3.0s]"
    assert lines[3] == "epoch   3  loss=0  [1.5s  ETA 1.5s]"
    assert len(lines) == 4
    write_log(path, {"loss": [NAN, 1e-5, 250.0]})
    assert path.read_text().splitlines()[1:] == [
        "epoch   1  loss=nan", "epoch   2  loss=1.00e-05", "epoch   3  loss=250.00"]


def test_formatters():
    assert format_metric(0.0) == "0" and format_metric(-math.inf) == "-inf"
    assert format_metric(12.345678) == "12.3457" and format_metric(1234.5) == "1234.50"
    assert format_duration(0.042) == "42ms" and format_duration(1.25) == "1.2s"
    assert format_duration(125.0) == "2m05s"


def test_observer_writers(tmp_path):
    obs = _filled_observer()
    obs.plot_html(tmp_path / "o.html")
    obs.export_trends(tmp_path / "o.csv", tags=["acc"])
    obs.write_log(tmp_path / "o.log", total_epochs=10)
    obs.plot_timings_html(tmp_path / "t.html")
    obs.export_timing_trends(tmp_path / "t.csv")
    html_text = (tmp_path / "o.html").read_text()
    assert "loss" in html_text and "acc" in html_text
    with open(tmp_path / "o.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["epoch", "acc"] and [float(r[1]) for r in rows[1:]] == \
        pytest.approx([0.5, 0.6, 0.7])
    log = (tmp_path / "o.log").read_text().splitlines()
    assert len(log) == 4 and log[1].startswith("epoch   1  loss=0.7500  acc=0.5000")
    with open(tmp_path / "t.csv", newline="") as f:
        assert list(csv.reader(f))[0] == ["epoch", "fwd"]
    with pytest.raises(GraphError, match="'typo'"):
        obs.plot_html(tmp_path / "e.html", tags=["typo"])
    with pytest.raises(GraphError, match="flush"):
        Observer().export_trends(tmp_path / "e.csv")
    assert not (tmp_path / "e.html").exists() and not (tmp_path / "e.csv").exists()
