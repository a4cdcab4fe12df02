"""The monitor's text: epoch lines, resources, ETA, summary, progress bar."""
import io

import pytest

from flodl_core.graph.plot import format_duration
from flodl_core.monitor.terminal import (CLEAR_LINE, ProgressLine, eta_seconds,
                                         format_epoch_line, format_progress,
                                         format_resources, format_summary_line)

FULL_RESOURCES = {"cpu_percent": 43.2, "ram_used": 3_100_000_000, "ram_total": 23_400_000_000,
                  "gpu_percent": 88.0, "vram_used": 2_100_000_000,
                  "vram_total": 80_000_000_000}


def test_format_duration_switches_units_up_to_hours():
    assert format_duration(0.042) == "42ms"
    assert format_duration(1.25) == "1.2s"
    assert format_duration(65.0) == "1m05s"
    assert format_duration(3599.0) == "59m59s"
    assert format_duration(3600.0) == "1h00m"
    assert format_duration(2 * 3600 + 3 * 60 + 59) == "2h03m"
    assert format_duration(float("nan")) == "?"


def test_epoch_line_shows_counter_metrics_timing_and_resources():
    record = {"epoch": 3, "duration": 1.2, "metrics": {"loss": 0.4321, "acc": 0.9},
              "resources": FULL_RESOURCES}
    line = format_epoch_line(record, 20, 20.4)
    assert line == ("epoch  3/20  loss=0.4321  acc=0.9000  [1.2s  ETA 20.4s]  "
                    "CPU 43%  RAM 3.1/23.4 GB  GPU 88%  VRAM 2.1/80.0 GB")


def test_epoch_line_without_eta_or_resources():
    record = {"epoch": 10, "duration": 125.0, "metrics": {"loss": 1e-5}, "resources": {}}
    assert format_epoch_line(record, 10, None) == "epoch 10/10  loss=1.00e-05  [2m05s]"
    assert format_epoch_line(record, 10, 0.0) == "epoch 10/10  loss=1.00e-05  [2m05s]"


def test_epoch_line_shows_nan_metrics_and_a_json_null_as_nan():
    record = {"epoch": 1, "duration": 0.5, "metrics": {"a": float("nan"), "b": None},
              "resources": {}}
    assert format_epoch_line(record, 2, 0.5) == "epoch 1/2  a=nan  b=nan  [500ms  ETA 500ms]"


def test_resources_leave_out_what_is_unknown_and_pick_units():
    assert format_resources({}) == ""
    assert format_resources({"cpu_percent": 7.6}) == "CPU 8%"
    small = {"vram_used": 300_000_000, "vram_total": 800_000_000}
    assert format_resources(small) == "VRAM 300.0/800.0 MB"
    tiny = {"ram_used": 50_000_000, "ram_total": 16_000_000_000}
    assert format_resources(tiny) == "RAM 0.05/16.0 GB"


def test_eta_is_recent_mean_times_epochs_left():
    assert eta_seconds([], 0, 10) is None
    assert eta_seconds([1.0, 2.0, 3.0], 3, 10) == pytest.approx(2.0 * 7)
    # only the last five durations count: (3+4+5+6+7)/5 = 5, three epochs left
    assert eta_seconds([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0], 7, 10) == pytest.approx(15.0)
    assert eta_seconds([1.0, 2.0], 10, 10) == 0.0


def _snapshot(epochs, total, elapsed=65.0, label="training"):
    return {"label": label, "total_epochs": total, "elapsed": elapsed,
            "epochs": [{"epoch": i + 1, "duration": 1.0, "metrics": m, "resources": {}}
                       for i, m in enumerate(epochs)]}


def test_summary_reports_best_and_last_loss():
    snap = _snapshot([{"acc": 0.5, "loss": 0.9}, {"acc": 0.7, "loss": 0.3},
                      {"acc": 0.6, "loss": 0.4}], 3)
    assert format_summary_line(snap) == ("training complete: 3/3 epochs in 1m05s  "
                                         "loss best 0.3000 (epoch 2), last 0.4000")


def test_summary_uses_first_metric_and_higher_is_better_for_accuracy():
    snap = _snapshot([{"accuracy": 0.5}, {"accuracy": 0.8}, {"accuracy": 0.7}], 10,
                     elapsed=2.5, label="run")
    assert format_summary_line(snap) == ("run stopped: 3/10 epochs in 2.5s  "
                                         "accuracy best 0.8000 (epoch 2), last 0.7000")


def test_summary_skips_nan_for_best_and_handles_no_epochs():
    snap = _snapshot([{"loss": 0.5}, {"loss": float("nan")}], 2)
    assert format_summary_line(snap).endswith("loss best 0.5000 (epoch 1), last nan")
    assert format_summary_line(_snapshot([], 5, elapsed=0.2)) == \
        "training stopped: 0/5 epochs in 200ms"


def test_progress_text_with_and_without_total():
    text = format_progress(30, 120, 3.0, {"loss": 0.5})
    # 30 of 120 = 25%: 6 of 24 bar cells; 10 it/s; 90 left at 10 it/s = 9 s
    assert text == " 30/120  [======>                 ]  25%  10.0 it/s  ETA 9.0s  loss=0.5000"
    assert format_progress(5, None, 10.0, {}) == "5  2.0 s/it"
    assert format_progress(4, 4, 1.0, {}).startswith("4/4  [" + "=" * 24 + "]  100%")


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_progress_line_throttles_redraws_but_always_draws_the_last_batch():
    out, clock = io.StringIO(), _Clock()
    line = ProgressLine(out, min_interval=0.1, clock=clock)
    drawn = []
    for done in range(1, 101):          # 100 batches, 1 ms apart
        clock.now = done * 0.001
        drawn.append(line.update(done, 100, 0.0, {}))
    assert drawn[0] is True
    assert sum(drawn) == 2               # the first, then nothing until the final one
    assert drawn[-1] is True
    assert out.getvalue().count(CLEAR_LINE) == 2
    assert out.getvalue().endswith("100/100  [" + "=" * 24 + "]  100%  1000.0 it/s")
    assert line.pending
    line.clear()
    assert not line.pending and out.getvalue().endswith(CLEAR_LINE)


def test_progress_line_redraws_again_after_the_interval():
    out, clock = io.StringIO(), _Clock()
    line = ProgressLine(out, min_interval=0.1, clock=clock)
    assert line.update(1, 10, 0.0, {})
    clock.now = 0.05
    assert not line.update(2, 10, 0.0, {})
    clock.now = 0.15
    assert line.update(3, 10, 0.0, {})
