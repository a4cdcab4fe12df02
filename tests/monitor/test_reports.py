"""Text log and CSV written from a snapshot, atomically."""
import csv
import math
import os

import pytest

from flodl_core.errors import MonitorError
from flodl_core.monitor import reports


def _snapshot():
    return {
        "label": "demo", "total_epochs": 4, "status": "complete", "started_at": 0.0,
        "elapsed": 7.5, "eta": None, "graph": None, "hardware": {},
        "epochs": [
            {"epoch": 1, "duration": 2.0, "metrics": {"loss": 0.5},
             "resources": {"cpu_percent": 40.0, "ram_used": 2_000_000_000,
                           "ram_total": 8_000_000_000}},
            {"epoch": 2, "duration": 3.0, "metrics": {"loss": 0.1 + 0.2, "acc": 0.75},
             "resources": {"cpu_percent": 60.0, "ram_used": 3_000_000_000,
                           "ram_total": 8_000_000_000}},
            {"epoch": 3, "duration": 2.5, "metrics": {"loss": float("nan"), "acc": float("inf")},
             "resources": {}},
        ]}


def test_write_log_has_the_terminal_lines_and_the_summary(tmp_path):
    path = tmp_path / "run.log"
    reports.write_log(path, _snapshot())
    assert path.read_text() == (
        "# demo: flodl_core training log\n"
        "epoch 1/4  loss=0.5000  [2.0s  ETA 6.0s]  CPU 40%  RAM 2.0/8.0 GB\n"
        "epoch 2/4  loss=0.3000  acc=0.7500  [3.0s  ETA 5.0s]  CPU 60%  RAM 3.0/8.0 GB\n"
        "epoch 3/4  loss=nan  acc=inf  [2.5s  ETA 2.5s]\n"
        "demo stopped: 3/4 epochs in 7.5s  loss best 0.3000 (epoch 2), last nan\n")
    assert "\r" not in path.read_text() and "\x1b" not in path.read_text()


def test_export_csv_columns_empty_cells_and_exact_values(tmp_path):
    path = tmp_path / "run.csv"
    reports.export_csv(path, _snapshot())
    rows = list(csv.reader(path.open()))
    assert rows[0] == ["epoch", "duration", "loss", "acc", "cpu_percent", "ram_used",
                       "ram_total"]
    assert rows[1] == ["1", "2.0", "0.5", "", "40.0", "2000000000", "8000000000"]
    assert rows[3][4:] == ["", "", ""]
    assert len(rows) == 4
    # repr round trip: 0.1 + 0.2 is not 0.3, and the file keeps the difference
    assert float(rows[2][2]) == 0.1 + 0.2 and rows[2][2] != "0.3"
    assert math.isnan(float(rows[3][2])) and float(rows[3][3]) == math.inf


def test_export_csv_leaves_out_resource_columns_nobody_has(tmp_path):
    snap = _snapshot()
    for r in snap["epochs"]:
        r["resources"] = {}
    snap["epochs"][1]["resources"] = {"vram_used": 12}
    path = tmp_path / "r.csv"
    reports.export_csv(path, snap)
    rows = list(csv.reader(path.open()))
    assert rows[0] == ["epoch", "duration", "loss", "acc", "vram_used"]
    assert [r[4] for r in rows[1:]] == ["", "12", ""]


def test_export_csv_of_a_json_null_is_an_empty_cell(tmp_path):
    snap = _snapshot()
    snap["epochs"][2]["metrics"]["loss"] = None
    reports.export_csv(tmp_path / "n.csv", snap)
    assert list(csv.reader((tmp_path / "n.csv").open()))[3][2] == ""


def test_metric_named_like_a_fixed_column_is_refused(tmp_path):
    snap = _snapshot()
    snap["epochs"][0]["metrics"]["duration"] = 1.0
    with pytest.raises(MonitorError, match="'duration'"):
        reports.export_csv(tmp_path / "x.csv", snap)
    assert not list(tmp_path.iterdir())


def test_failed_write_names_the_path_and_keeps_the_old_file(tmp_path, monkeypatch):
    missing = tmp_path / "no" / "such" / "dir" / "run.csv"
    with pytest.raises(OSError) as info:
        reports.export_csv(missing, _snapshot())
    assert str(missing) in str(info.value)

    path = tmp_path / "run.log"
    path.write_text("previous\n")

    def refuse(src, dst):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError) as info:
        reports.write_log(path, _snapshot())
    assert str(path) in str(info.value)
    assert path.read_text() == "previous\n"
    assert [p.name for p in tmp_path.iterdir()] == ["run.log"]   # no temp file left


def test_bad_path_types_are_refused():
    with pytest.raises(TypeError, match="write_log: path must be"):
        reports.write_log(42, _snapshot())
    with pytest.raises(ValueError, match="export_csv: path must not be empty"):
        reports.export_csv("", _snapshot())
