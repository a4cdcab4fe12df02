"""Offline reports of a monitored run: a text log and a CSV table.

Both writers take a snapshot (:meth:`Monitor.snapshot`), not a Monitor, so a
snapshot saved as JSON can be turned into reports later.

* :func:`write_log` — a ``#`` header, then the same line the terminal printed
  for each epoch (with the ETA as it was estimated at that epoch), then the
  summary line. No control characters.
* :func:`export_csv` — ``epoch,duration,<metrics in first-seen order>,<resource
  columns present>``, one row per epoch. A metric or resource an epoch lacks is
  an empty cell; numbers are written with ``repr`` so they read back exactly
  (``nan``/``inf`` included).

Files are written to a temporary file in the target directory, then moved into
place with ``os.replace``: a reader never sees half a file, and a failed write
raises OSError naming the path and leaves any previous file untouched.
"""
from __future__ import annotations

import csv
import io
import os

from ..errors import MonitorError
from ..graph.plot import _write_atomic   # the temp-file + os.replace writer plot.py uses
from .resources import RESOURCE_KEYS
from .terminal import eta_seconds, format_epoch_line, format_summary_line

__all__ = ["write_log", "export_csv", "check_path", "write_text"]


def check_path(fn: str, path) -> str:
    """``path`` as a str; TypeError naming ``fn`` for anything that is not a path."""
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"{fn}: path must be a str or os.PathLike, got {type(path).__name__}")
    path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not path:
        raise ValueError(f"{fn}: path must not be empty")
    return path


def write_text(fn: str, path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (OSError naming the path on failure)."""
    _write_atomic(fn, check_path(fn, path), text)


def log_lines(snapshot: dict) -> list:
    """The epoch lines as the terminal showed them, then the summary line."""
    total = snapshot["total_epochs"]
    lines, durations = [], []
    for record in snapshot["epochs"]:
        durations.append(record["duration"])
        eta = eta_seconds(durations, record["epoch"], total)
        lines.append(format_epoch_line(record, total, eta))
    lines.append(format_summary_line(snapshot))
    return lines


def write_log(path, snapshot: dict) -> None:
    """Write the run's text log (see the module docs)."""
    fn = "write_log"
    path = check_path(fn, path)
    header = f"# {snapshot.get('label') or 'training'}: flodl_core training log"
    _write_atomic(fn, path, "\n".join([header] + log_lines(snapshot)) + "\n")


def _cell(value) -> str:
    # None: absent, or a NaN that went through JSON (where it is null)
    return "" if value is None else repr(value)


def export_csv(path, snapshot: dict) -> None:
    """Write the run as CSV (see the module docs)."""
    fn = "export_csv"
    path = check_path(fn, path)
    epochs = snapshot["epochs"]
    metric_names = list(dict.fromkeys(name for r in epochs for name in r["metrics"]))
    resource_names = [k for k in RESOURCE_KEYS if any(k in r["resources"] for r in epochs)]
    fixed = ["epoch", "duration"] + resource_names
    for name in metric_names:
        if name in fixed:
            raise MonitorError(f"{fn}: cannot write {path!r}: the metric {name!r} has the "
                               f"name of a CSV column the monitor writes itself")
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["epoch", "duration"] + metric_names + resource_names)
    for r in epochs:
        row = [r["epoch"], repr(float(r["duration"]))]
        row += [_cell(r["metrics"].get(n)) for n in metric_names]
        row += [_cell(r["resources"].get(k)) for k in resource_names]
        writer.writerow(row)
    _write_atomic(fn, path, buf.getvalue())
