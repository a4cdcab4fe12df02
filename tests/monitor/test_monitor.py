"""Monitor: logging, validation, terminal output, progress, snapshot, watch, finish."""
import datetime
import io
import json
import re
import shutil
import socket
import threading
from urllib.request import urlopen

import numpy as np
import pytest

import flodl_core as fl
from flodl_core.errors import GraphError, MonitorError
from flodl_core.monitor import Monitor
from flodl_core.monitor.terminal import CLEAR_LINE


class TTY(io.StringIO):
    def isatty(self):
        return True


class FixedProbe:
    def __init__(self, reading):
        self.reading = reading

    def __call__(self):
        return dict(self.reading)


@pytest.fixture(autouse=True)
def no_leaked_threads():
    before = set(threading.enumerate())
    yield
    leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    assert not leaked, f"threads left running: {leaked}"


def quiet(total=5, **kw):
    kw.setdefault("sample_resources", False)
    return Monitor(total, stream=kw.pop("stream", io.StringIO()), **kw)


def small_graph():
    return (fl.FlowBuilder(fl.Linear(2, 4)).through(fl.GELU())
            .through(fl.Linear(4, 3)).label("tiny").build())


# --------------------------------------------------------------------------- log
def test_log_records_epoch_plus_one_and_prints_one_line():
    out = io.StringIO()
    with Monitor(3, stream=out, sample_resources=False) as m:
        m.log(0, 2.0, {"loss": 0.5, "lr": 1e-3})
        m.log(1, datetime.timedelta(seconds=4), [("loss", 0.25), ("lr", 1e-3)])
    assert [r["epoch"] for r in m.history] == [1, 2]
    assert m.history[1]["duration"] == 4.0
    lines = out.getvalue().splitlines()
    assert lines[0] == "epoch 1/3  loss=0.5000  lr=0.0010  [2.0s  ETA 4.0s]"
    # ETA: mean of 2 s and 4 s, one epoch left
    assert lines[1] == "epoch 2/3  loss=0.2500  lr=0.0010  [4.0s  ETA 3.0s]"
    assert lines[2] == "training stopped: 2/3 epochs in " + lines[2].split(" in ")[1]
    assert "loss best 0.2500 (epoch 2), last 0.2500" in lines[2]
    assert len(lines) == 3


def test_metric_values_of_every_accepted_kind():
    m = quiet()
    var = fl.Variable(fl.tensor(np.array([0.25], dtype=np.float32)), requires_grad=True)
    m.log(0, 1.0, {"py": 1, "np": np.float32(0.5), "t": fl.tensor(np.array(2.0)), "v": var,
                   "arr": np.array(3.0)})
    m.finish()
    assert m.history[0]["metrics"] == {"py": 1.0, "np": 0.5, "t": 2.0, "v": 0.25, "arr": 3.0}
    assert all(type(v) is float for v in m.history[0]["metrics"].values())


def test_metrics_from_a_graph_use_its_latest_epoch_values():
    g = small_graph()
    g.record_scalar("loss", 0.5)
    g.record_scalar("loss", 1.5)
    g.record_scalar("acc", 0.75)
    g.end_epoch()
    m = quiet()
    m.log(0, 1.0, g)
    m.finish()
    assert m.history[0]["metrics"] == {"loss": 1.0, "acc": 0.75}


@pytest.mark.parametrize("metrics, message", [
    ({"loss": fl.tensor(np.array([1.0, 2.0]))}, r"metric 'loss' must be a number .*shape \(2,\)"),
    ({"loss": "0.5"}, "metric 'loss' must be a number"),
    ({"loss": None}, "metric 'loss' must be a number"),
    ([("loss", 1.0, 2.0)], r"metrics as a list must hold \(name, value\) pairs"),
    ({1: 0.5}, "metric names must be non-empty strings"),
    (3.5, "metrics must be a dict"),
])
def test_bad_metrics_raise_type_error_naming_the_metric(metrics, message):
    m = quiet()
    with pytest.raises(TypeError, match="Monitor.log: " + message):
        m.log(0, 1.0, metrics)
    m.finish()
    assert m.history == []


def test_duplicate_metric_in_a_pair_list_is_refused():
    with quiet() as m, pytest.raises(ValueError, match="'loss' given twice"):
        m.log(0, 1.0, [("loss", 1.0), ("loss", 2.0)])


def test_epoch_range_order_and_types_are_checked():
    with quiet(total=3) as m:
        with pytest.raises(ValueError, match=r"epoch 3 is out of range for 3 epochs .*0 <= epoch < 3"):
            m.log(3, 1.0, {})
        with pytest.raises(ValueError, match="must be >= 0"):
            m.log(-1, 1.0, {})
        with pytest.raises(TypeError, match="epoch must be an int"):
            m.log(1.0, 1.0, {})
        m.log(1, 1.0, {})
        with pytest.raises(ValueError, match="epoch 1 comes after epoch 1 was logged"):
            m.log(1, 1.0, {})
        with pytest.raises(ValueError, match="epoch 0 comes after epoch 1"):
            m.log(0, 1.0, {})
        m.log(2, 1.0, {})                      # later epochs may skip (a resumed run)
    assert [r["epoch"] for r in m.history] == [2, 3]


def test_duration_is_checked():
    with quiet() as m:
        with pytest.raises(ValueError, match="duration must be a finite number"):
            m.log(0, -1.0, {})
        with pytest.raises(ValueError, match="duration must be a finite number"):
            m.log(0, float("nan"), {})
        with pytest.raises(TypeError, match="duration must be seconds"):
            m.log(0, "1s", {})


def test_constructor_arguments_are_checked():
    with pytest.raises(ValueError, match="total_epochs must be >= 1"):
        Monitor(0)
    with pytest.raises(TypeError, match="total_epochs must be an int"):
        Monitor(2.5)
    with pytest.raises(ValueError, match="sample_interval"):
        Monitor(3, sample_interval=0)
    with pytest.raises(TypeError, match="stream must have a write"):
        Monitor(3, stream=object())


# --------------------------------------------------------------------------- resources
def test_resources_from_injected_probes_appear_in_record_and_line():
    out = io.StringIO()
    probe = FixedProbe({"cpu_percent": 42.0, "ram_used": 3_000_000_000,
                        "ram_total": 16_000_000_000})
    with Monitor(2, stream=out, probes=[probe], sample_interval=60.0) as m:
        m.log(0, 1.0, {"loss": 1.0})
    assert m.history[0]["resources"] == {"cpu_percent": 42.0, "ram_used": 3_000_000_000,
                                         "ram_total": 16_000_000_000}
    assert out.getvalue().splitlines()[0].endswith("[1.0s  ETA 1.0s]  CPU 42%  RAM 3.0/16.0 GB")


def test_sampling_off_records_no_resources_and_starts_no_thread():
    with quiet() as m:
        assert m._sampler is None
        m.log(0, 1.0, {})
    assert m.history[0]["resources"] == {}


def test_real_sampler_thread_stops_at_finish():
    m = Monitor(2, stream=io.StringIO(), sample_interval=0.01)
    assert any(t.name == "flodl-monitor-sampler" for t in threading.enumerate())
    m.log(0, 0.01, {})
    assert "ram_total" in m.history[0]["resources"]
    m.finish()
    assert not any(t.name == "flodl-monitor-sampler" for t in threading.enumerate())


# --------------------------------------------------------------------------- progress
def test_no_progress_output_when_not_a_terminal():
    out = io.StringIO()
    with Monitor(2, stream=out, sample_resources=False) as m:
        assert list(m.progress(range(50))) == list(range(50))
        for i in range(10):
            m.batch(i, 10, loss=0.5)
        m.log(0, 1.0, {"loss": 0.5})
    assert "\r" not in out.getvalue() and "\x1b" not in out.getvalue()
    assert out.getvalue().splitlines()[0] == "epoch 1/2  loss=0.5000  [1.0s  ETA 1.0s]"


def test_progress_bar_on_a_terminal_is_cleared_before_the_epoch_line():
    out = TTY()
    with Monitor(2, stream=out, sample_resources=False) as m:
        seen = [x for x in m.progress(["a", "b", "c"])]
        m.log(0, 1.0, {"loss": 0.5})
    assert seen == ["a", "b", "c"]
    text = out.getvalue()
    first_line = text.split("\n")[0]
    assert first_line.startswith(CLEAR_LINE + "0/3  [")         # drawn before batch 1
    assert CLEAR_LINE + "3/3  [" + "=" * 24 + "]  100%" in first_line   # final draw
    assert first_line.endswith(CLEAR_LINE + "epoch 1/2  loss=0.5000  [1.0s  ETA 1.0s]")


def test_batch_draws_metrics_and_validates_its_arguments():
    out = TTY()
    with Monitor(2, stream=out, sample_resources=False) as m:
        m.batch(3, 4, loss=np.float64(0.125))
        assert out.getvalue().startswith(CLEAR_LINE + "4/4  [")
        assert out.getvalue().endswith("loss=0.1250")
        with pytest.raises(ValueError, match=r"batch 4 is out of range for 4 batches"):
            m.batch(4, 4)
        with pytest.raises(TypeError, match="Monitor.batch: metric 'loss'"):
            m.batch(3, 4, loss="x")             # the last batch always draws


def test_progress_without_len_and_with_explicit_total():
    out = TTY()
    with Monitor(1, stream=out, sample_resources=False) as m:
        assert list(m.progress(iter(range(3)))) == [0, 1, 2]
        assert "/" not in out.getvalue().split("it/s")[0]      # no total: no "done/total"
        out.truncate(0)
        out.seek(0)
        assert list(m.progress(iter(range(2)), total=2)) == [0, 1]
        assert "2/2  [" in out.getvalue()
        with pytest.raises(TypeError, match="Monitor.progress: total must be an int"):
            m.progress(range(3), total="3")


# --------------------------------------------------------------------------- snapshot
def test_snapshot_follows_the_contract_and_is_json_serialisable():
    probe = FixedProbe({"cpu_percent": 10.0, "ram_used": 1, "ram_total": 2})
    m = Monitor(4, label="exp", stream=io.StringIO(), probes=[probe], sample_interval=60.0)
    snap = m.snapshot()
    assert snap["status"] == "running" and snap["eta"] is None and snap["epochs"] == []
    m.log(0, 2.0, {"loss": 0.5})
    snap = m.snapshot()
    assert set(snap) == {"label", "total_epochs", "status", "started_at", "elapsed", "eta",
                         "epochs", "graph", "hardware"}
    assert snap["label"] == "exp" and snap["total_epochs"] == 4 and snap["graph"] is None
    assert 0.0 < snap["eta"] <= 6.0                 # 3 epochs left at 2 s, counting down
    assert snap["epochs"] == [{"epoch": 1, "duration": 2.0, "metrics": {"loss": 0.5},
                               "resources": {"cpu_percent": 10.0, "ram_used": 1,
                                             "ram_total": 2}}]
    assert {"cpu", "cores", "ram_total", "python", "numpy", "platform"} <= set(snap["hardware"])
    json.dumps(snap, allow_nan=False)
    snap["epochs"][0]["metrics"]["loss"] = 99.0      # a copy: the monitor is not changed
    assert m.history[0]["metrics"]["loss"] == 0.5
    m.finish()
    final = m.snapshot()
    assert final["status"] == "complete" and final["eta"] is None
    assert m.snapshot()["elapsed"] == final["elapsed"]   # frozen at finish


# --------------------------------------------------------------------------- watch
def test_watch_a_graph_stores_svg_counts_hash_and_label():
    g = small_graph()
    g.parameters()[0].freeze()                      # the first Linear's weight: 2*4 = 8
    with quiet() as m:
        m.watch(g)
        info = m.snapshot()["graph"]
    # Linear(2, 4): 8 + 4; Linear(4, 3): 12 + 3
    assert info["params_total"] == 27
    assert info["params_frozen"] == 8 and info["params_trainable"] == 19
    assert info["hash"] == g.structural_hash() and len(info["hash"]) == 64
    assert info["label"] == "tiny"
    if shutil.which("dot"):
        assert "<svg" in info["svg"] and "Linear" in info["svg"]


def test_watch_without_graphviz_falls_back_to_the_dot_source(monkeypatch):
    g = small_graph()

    def no_dot(path=None):
        raise GraphError("svg: the Graphviz 'dot' program was not found on PATH")
    monkeypatch.setattr(g, "svg", no_dot)
    with quiet() as m:
        m.watch(g)
        svg = m.snapshot()["graph"]["svg"]
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "digraph" in svg and "not found on PATH" in svg


def test_watch_a_plain_module_shows_its_structure_as_text():
    model = fl.Linear(3, 2)
    with quiet() as m:
        m.watch(model)
        info = m.snapshot()["graph"]
    assert info["params_total"] == 8 and info["params_trainable"] == 8
    assert info["hash"] == "" and info["label"] == "Linear"
    assert "in_features=3" in info["svg"] and info["svg"].startswith("<svg")


def test_watch_refuses_what_is_not_a_module():
    with quiet() as m, pytest.raises(TypeError, match="Monitor.watch: expected a Module"):
        m.watch("model")


def test_finish_with_uses_the_profiled_diagram_when_there_is_one(monkeypatch):
    g = small_graph()
    monkeypatch.setattr(g, "svg_with_profile", lambda path=None: "<svg>profiled</svg>")
    m = quiet()
    m.finish_with(g)
    assert m.snapshot()["graph"]["svg"] == "<svg>profiled</svg>"
    assert m.snapshot()["status"] == "complete"


def test_finish_with_falls_back_to_the_plain_diagram_without_profiling(monkeypatch):
    g = small_graph()                                 # profiling never enabled
    monkeypatch.setattr(g, "svg", lambda path=None: "<svg>plain</svg>")
    m = quiet()
    m.finish_with(g)
    assert m.snapshot()["graph"]["svg"] == "<svg>plain</svg>"


# --------------------------------------------------------------------------- finish
def test_finish_is_idempotent_and_later_logging_is_refused():
    out = io.StringIO()
    m = Monitor(1, stream=out, sample_resources=False)
    m.log(0, 1.0, {"acc": 0.5})
    m.finish()
    m.finish()
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and lines[1].startswith("training complete: 1/1 epochs in ")
    assert lines[1].endswith("acc best 0.5000 (epoch 1), last 0.5000")
    with pytest.raises(MonitorError, match="Monitor.log: the monitor has finished"):
        m.log(0, 1.0, {})


def test_context_manager_finishes_even_when_the_loop_fails():
    out = io.StringIO()
    with pytest.raises(KeyError):
        with Monitor(3, stream=out, sample_interval=0.01) as m:
            m.log(0, 1.0, {"loss": 1.0})
            raise KeyError("boom")
    assert m.snapshot()["status"] == "complete"
    assert "training stopped: 1/3 epochs" in out.getvalue()


def test_reports_from_the_monitor(tmp_path):
    with quiet(total=2) as m:
        m.log(0, 1.0, {"loss": 0.5})
        m.log(1, 1.0, {"loss": 0.25, "acc": 1.0})
    m.write_log(tmp_path / "t.log")
    m.export_csv(tmp_path / "t.csv")
    log = (tmp_path / "t.log").read_text().splitlines()
    assert log[1:3] == ["epoch 1/2  loss=0.5000  [1.0s  ETA 1.0s]",
                        "epoch 2/2  loss=0.2500  acc=1.0000  [1.0s]"]
    assert log[3].startswith("training complete: 2/2 epochs")
    assert (tmp_path / "t.csv").read_text().splitlines() == [
        "epoch,duration,loss,acc", "1,1.0,0.5,", "2,1.0,0.25,1.0"]


# --------------------------------------------------------------------------- dashboard
def _read_event(stream):
    """The next Server-Sent Event as (name, parsed data); comments are skipped."""
    name, data = None, []
    while True:
        line = stream.readline()
        if not line:
            raise EOFError("the event stream ended")
        line = line.decode("utf-8").rstrip("\r\n")
        if line == "" and name is not None:
            return name, json.loads("\n".join(data))
        if line.startswith("event:"):
            name = line[len("event:"):].strip()
        elif line.startswith("data:"):
            data.append(line[len("data:"):].strip())


def test_serve_streams_epochs_and_answers_history_over_http(tmp_path):
    out = io.StringIO()
    m = Monitor(3, stream=out, sample_resources=False)
    try:
        url = m.serve(port=0)
        assert url == m.url and url.startswith("http://127.0.0.1:")
        assert out.getvalue() == f"dashboard: {url}\n"
        m.log(0, 1.0, {"loss": float("nan")})
        events = urlopen(url + "events", timeout=10)
        try:
            name, snap = _read_event(events)
            assert name == "snapshot" and [e["epoch"] for e in snap["epochs"]] == [1]
            m.watch(small_graph())
            name, graph = _read_event(events)
            assert name == "graph" and graph["label"] == "tiny" and graph["params_total"] == 27
            m.log(1, 2.0, {"loss": 0.25})
            name, record = _read_event(events)
            assert name == "epoch" and record["epoch"] == 2
            assert record["metrics"] == {"loss": 0.25}

            with urlopen(url + "api/history", timeout=10) as resp:
                history = json.loads(resp.read())
            assert [e["epoch"] for e in history["epochs"]] == [1, 2]
            assert history["epochs"][0]["metrics"]["loss"] is None     # NaN -> null
            assert history["status"] == "running" and history["graph"]["label"] == "tiny"
            with urlopen(url + "graph.svg", timeout=10) as resp:
                assert resp.read().decode("utf-8") == m.snapshot()["graph"]["svg"]

            m.finish()
            name, final = _read_event(events)
            assert name == "complete" and final["status"] == "complete"
            assert len(final["epochs"]) == 2
        finally:
            events.close()
    finally:
        m.finish()
    assert m.url is None
    with pytest.raises(OSError):                     # the port is closed
        urlopen(url + "api/history", timeout=5)


def test_serve_refuses_a_busy_port_a_second_server_and_a_finished_monitor():
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        with quiet() as m:
            with pytest.raises(MonitorError, match="port=0"):
                m.serve(port=busy.getsockname()[1])
            assert m.url is None
            m.serve(port=0)
            with pytest.raises(MonitorError, match="already serving"):
                m.serve(port=0)
            with pytest.raises(ValueError, match="port must be in 0..65535"):
                m.serve(port=70000)
    finally:
        busy.close()
    with pytest.raises(MonitorError, match="the monitor has finished"):
        m.serve(port=0)


def test_save_html_writes_now_and_again_with_the_final_data(tmp_path):
    path = tmp_path / "report.html"
    with quiet(total=2) as m:
        m.log(0, 1.0, {"loss": 0.5})
        m.save_html(path)
        first = path.read_text()
        assert first.startswith("<!DOCTYPE html>")
        assert re.search(r'"status"\s*:\s*"running"', first)
        m.log(1, 1.0, {"loss": 0.25})
    final = path.read_text()
    assert re.search(r'"status"\s*:\s*"complete"', final)
    assert "0.25" in final and "0.25" not in first
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]   # no temp file left


def test_save_html_to_a_missing_folder_names_the_path(tmp_path):
    path = tmp_path / "missing" / "report.html"
    with quiet() as m, pytest.raises(OSError) as info:
        m.save_html(path)
    assert str(path) in str(info.value)


def test_batch_converts_metrics_only_when_it_draws():
    class CountingValue:
        calls = 0

        def __float__(self):
            CountingValue.calls += 1
            return 0.5
    out = TTY()
    with Monitor(1, stream=out, sample_resources=False) as m:
        for i in range(100):                    # a fast loop: one draw, then throttled
            m.batch(i, 1000, loss=CountingValue())
    assert CountingValue.calls == 1
    assert out.getvalue().count(CLEAR_LINE) == 1 + 1   # the draw, then the erase at finish


def test_progress_refuses_a_non_iterable():
    with quiet() as m, pytest.raises(TypeError, match="Monitor.progress: expected an iterable"):
        m.progress(42)
