"""The training monitor: one line per epoch, progress bars, resources, dashboard.

::

    monitor = Monitor(20)
    monitor.serve(port=3000)              # optional live dashboard
    monitor.watch(model)                  # optional architecture diagram
    for epoch in range(20):
        t0 = time.perf_counter()
        for batch in monitor.progress(batches):
            ...
        monitor.log(epoch, time.perf_counter() - t0, {"loss": loss, "lr": lr})
    monitor.finish()

Epochs follow flodl: ``log`` takes the loop index from 0 and the monitor
displays and records it as ``epoch + 1``.

The Monitor owns the run's history as plain data: a list of epoch records
``{"epoch", "duration", "metrics", "resources"}`` that :meth:`Monitor.snapshot`
wraps with the run's status, timing, watched graph and hardware. Everything
else reads that data: the terminal lines and the text log come from the same
formatter (:mod:`.terminal`), the CSV and log writers take a snapshot
(:mod:`.reports`), and the dashboard server asks for :meth:`Monitor.snapshot`
from its own thread, which is why history changes happen under a lock.
"""
from __future__ import annotations

import datetime
import html
import math
import numbers
import sys
import time
import threading
import warnings
import weakref
from collections.abc import Mapping

from ..errors import GraphError, MonitorError
from . import reports
from .resources import ResourceSampler, hardware_summary
from .terminal import (ProgressLine, eta_seconds, format_epoch_line,
                       format_summary_line)

__all__ = ["Monitor"]


# --------------------------------------------------------------------------- inputs
def _metric_value(fn: str, name: str, value) -> float:
    """float(value) for numbers, NumPy scalars and one-element tensors."""
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{fn}: metric {name!r} must be a number or a one-element tensor, "
                        f"got {type(value).__name__} {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError) as e:
        shape = getattr(value, "shape", None)
        what = type(value).__name__ + (f" of shape {tuple(shape)}" if shape is not None else "")
        raise TypeError(f"{fn}: metric {name!r} must be a number or a one-element tensor, "
                        f"got {what}") from e


def _metrics_dict(fn: str, metrics) -> dict:
    """{name: float} from a dict, a list of (name, value) pairs, or a Graph."""
    if callable(getattr(metrics, "latest_metrics", None)):
        metrics = metrics.latest_metrics()
    if isinstance(metrics, Mapping):
        pairs = list(metrics.items())
    elif isinstance(metrics, (list, tuple)):
        pairs = []
        for item in metrics:
            if not (isinstance(item, (list, tuple)) and len(item) == 2):
                raise TypeError(f"{fn}: metrics as a list must hold (name, value) pairs, "
                                f"got {item!r}")
            pairs.append(tuple(item))
    else:
        raise TypeError(f"{fn}: metrics must be a dict, a list of (name, value) pairs or a "
                        f"Graph, got {type(metrics).__name__}")
    out = {}
    for name, value in pairs:
        if not isinstance(name, str) or not name:
            raise TypeError(f"{fn}: metric names must be non-empty strings, got {name!r}")
        if name in out:
            raise ValueError(f"{fn}: metric {name!r} given twice")
        out[name] = _metric_value(fn, name, value)
    return out


def _seconds(fn: str, duration) -> float:
    if isinstance(duration, datetime.timedelta):
        secs = duration.total_seconds()
    elif isinstance(duration, numbers.Real) and not isinstance(duration, bool):
        secs = float(duration)
    else:
        raise TypeError(f"{fn}: duration must be seconds (a number) or a datetime.timedelta, "
                        f"got {type(duration).__name__}")
    if not math.isfinite(secs) or secs < 0.0:
        raise ValueError(f"{fn}: duration must be a finite number of seconds >= 0, "
                         f"got {duration!r}")
    return secs


def _count(fn: str, what: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{fn}: {what} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{fn}: {what} must be >= {minimum}, got {value}")
    return int(value)


# --------------------------------------------------------------------------- graph info
def _text_svg(title: str, text: str) -> str:
    """A plain SVG showing ``text`` in a monospace block (a ``<pre>`` drawn as SVG),
    used when there is no diagram; it stays a valid ``/graph.svg``."""
    lines = [title, ""] + text.splitlines()
    width = 16 + 7 * max(len(line) for line in lines)
    height = 16 + 15 * len(lines)
    rows = "".join(f'<tspan x="8" dy="15">{html.escape(line) or " "}</tspan>'
                   for line in lines)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="graph-text" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}">'
            f'<text xml:space="preserve" style="white-space:pre" font-family="monospace" '
            f'font-size="12" y="4">{rows}</text></svg>')


def _diagram(model, profiled: bool) -> str:
    """The model's SVG; the profiled one when asked and available; the DOT source
    (or, for a module that cannot be drawn, its printed structure) as text otherwise."""
    name = type(model).__name__
    if not callable(getattr(model, "svg", None)):
        return _text_svg(f"{name}: no diagram (only FlowBuilder graphs are drawn)", repr(model))
    if profiled and callable(getattr(model, "svg_with_profile", None)):
        try:
            return model.svg_with_profile()
        except (GraphError, OSError):
            pass                     # no profiling data or no Graphviz: try the plain one
    try:
        return model.svg()
    except (GraphError, OSError) as e:
        source = model.dot() if callable(getattr(model, "dot", None)) else repr(model)
        return _text_svg(f"{name}: Graphviz could not draw this graph ({e}); DOT source:",
                         source)


def _graph_info(fn: str, model, profiled: bool) -> dict:
    if not callable(getattr(model, "parameters", None)):
        raise TypeError(f"{fn}: expected a Module or Graph, got {type(model).__name__}")
    total = trainable = 0
    seen = set()
    for p in model.parameters():
        if id(p) in seen:            # a shared parameter counts once
            continue
        seen.add(id(p))
        n = int(p.numel())
        total += n
        if p.requires_grad and not getattr(p, "is_frozen", False):
            trainable += n
    label = getattr(model, "label", None)
    hash_fn = getattr(model, "structural_hash", None)
    return {"svg": _diagram(model, profiled),
            "params_total": total, "params_trainable": trainable,
            "params_frozen": total - trainable,
            "hash": hash_fn() if callable(hash_fn) else "",
            "label": label if isinstance(label, str) and label else type(model).__name__}


# --------------------------------------------------------------------------- Monitor
class Monitor:
    """Training monitor for a run of ``total_epochs`` epochs.

    Args:
        total_epochs: epochs the run will have (for the counter and the ETA).
        label: name of the run in the summary, the dashboard and the reports.
        stream: where lines go (default ``sys.stdout``). Progress bars are
            drawn only when it is a terminal (``stream.isatty()``).
        sample_resources: sample CPU/RAM/GPU/VRAM on a background thread.
        sample_interval: seconds between resource samples.
        probes: resource probes to use instead of the machine's (callables
            returning dicts of resource keys; see :mod:`.resources`).

    >>> import io
    >>> m = Monitor(2, stream=io.StringIO(), sample_resources=False)
    >>> m.log(0, 1.5, {"loss": 0.5})
    >>> m.history[0]["epoch"], m.history[0]["metrics"]
    (1, {'loss': 0.5})
    >>> m.finish()
    """

    def __init__(self, total_epochs: int, *, label: str = "training", stream=None,
                 sample_resources: bool = True, sample_interval: float = 1.0, probes=None):
        fn = "Monitor"
        self.total_epochs = _count(fn, "total_epochs", total_epochs, 1)
        if not isinstance(label, str) or not label:
            raise TypeError(f"{fn}: label must be a non-empty str, got {label!r}")
        if isinstance(sample_interval, bool) or not isinstance(sample_interval, numbers.Real) \
                or not math.isfinite(sample_interval) or sample_interval <= 0:
            raise ValueError(f"{fn}: sample_interval must be a positive number of seconds, "
                             f"got {sample_interval!r}")
        if stream is not None and not callable(getattr(stream, "write", None)):
            raise TypeError(f"{fn}: stream must have a write() method, "
                            f"got {type(stream).__name__}")
        self.label = label
        self._stream = stream if stream is not None else sys.stdout
        isatty = getattr(self._stream, "isatty", None)
        try:
            self._tty = bool(isatty()) if callable(isatty) else False
        except (OSError, ValueError):     # a closed or detached stream
            self._tty = False
        self._progress_line = ProgressLine(self._stream)

        self._lock = threading.Lock()     # the dashboard thread reads while we log
        self._epochs = []
        self._graph = None
        self._hardware = hardware_summary()
        self.started_at = time.time()
        self._t0 = time.monotonic()
        self._last_log = self._t0         # when the current epoch began
        self._eta = None                  # estimate made at the last log
        self._elapsed_final = None        # frozen by finish()
        self._finished = False
        self._server = None
        self._html_path = None

        self._sampler = None
        if sample_resources:
            self._sampler = ResourceSampler(probes, sample_interval)
            self._sampler.start()
            # A monitor dropped without finish() still stops its thread.
            weakref.finalize(self, self._sampler.request_stop)

    # ----------------------------------------------------------------- context manager
    def __enter__(self) -> "Monitor":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.finish()
            return
        try:                              # do not hide the exception that ended the run
            self.finish()
        except Exception as e:
            warnings.warn(f"Monitor.finish failed while handling {exc_type.__name__}: {e}",
                          RuntimeWarning, stacklevel=2)

    def __repr__(self) -> str:
        status = "complete" if self._finished else "running"
        return (f"Monitor(label={self.label!r}, epochs={len(self._epochs)}/"
                f"{self.total_epochs}, {status})")

    # ----------------------------------------------------------------- output
    def _print(self, line: str) -> None:
        if self._tty:
            self._progress_line.clear()
        self._stream.write(line + "\n")
        self._stream.flush()

    def _check_running(self, fn: str) -> None:
        if self._finished:
            raise MonitorError(f"{fn}: the monitor has finished; create a new Monitor "
                               f"for another run")

    # ----------------------------------------------------------------- epochs
    def log(self, epoch, duration, metrics=None) -> None:
        """Record one finished epoch and print its line.

        Args:
            epoch: the loop index, from 0 (shown and recorded as ``epoch + 1``).
                Epochs must increase from one call to the next.
            duration: the epoch's wall time, in seconds or as a ``timedelta``.
            metrics: a dict, a list of ``(name, value)`` pairs, or a Graph
                (its ``latest_metrics()``); values are numbers, NumPy scalars
                or one-element tensors/Variables.
        """
        fn = "Monitor.log"
        self._check_running(fn)
        epoch = _count(fn, "epoch", epoch, 0)
        if epoch >= self.total_epochs:
            raise ValueError(f"{fn}: epoch {epoch} is out of range for {self.total_epochs} "
                             f"epochs (epochs count from 0: 0 <= epoch < {self.total_epochs})")
        if self._epochs and epoch + 1 <= self._epochs[-1]["epoch"]:
            last = self._epochs[-1]["epoch"] - 1
            raise ValueError(f"{fn}: epoch {epoch} comes after epoch {last} was logged; "
                             f"epochs must increase")
        secs = _seconds(fn, duration)
        values = _metrics_dict(fn, {} if metrics is None else metrics)
        resources = self._sampler.take_epoch() if self._sampler is not None else {}
        record = {"epoch": epoch + 1, "duration": secs, "metrics": values,
                  "resources": resources}
        with self._lock:
            self._epochs.append(record)
            durations = [r["duration"] for r in self._epochs]
            self._eta = eta_seconds(durations, epoch + 1, self.total_epochs)
            self._last_log = time.monotonic()
        self._print(format_epoch_line(record, self.total_epochs, self._eta))
        if self._server is not None:
            self._server.publish("epoch", _copy_record(record))

    @property
    def history(self) -> list:
        """The epoch records so far (copies)."""
        with self._lock:
            return [_copy_record(r) for r in self._epochs]

    # ----------------------------------------------------------------- progress bars
    def progress(self, iterable, total=None):
        """Yield from ``iterable`` while drawing a progress bar of the epoch's batches.

        ``total`` defaults to ``len(iterable)`` when it has one; without it the
        bar shows the count and rate only. The bar is drawn only on a terminal.
        """
        fn = "Monitor.progress"
        if total is None:
            try:
                total = len(iterable)
            except TypeError:
                total = None
        else:
            total = _count(fn, "total", total, 0)
        try:
            iterator = iter(iterable)  # fail here, not at the first next()
        except TypeError:
            raise TypeError(f"{fn}: expected an iterable (a DataLoader, a list of batches, "
                            f"...), got {type(iterable).__name__}") from None
        return self._progress(iterator, total)

    def _progress(self, iterator, total):
        started = time.monotonic()
        done = 0
        if self._tty:                 # show the bar before a slow first batch
            self._progress_line.update(0, total, started, {})
        for item in iterator:
            yield item
            done += 1
            if self._tty:
                self._progress_line.update(done, total, started, {})

    def batch(self, i, n, **metrics) -> None:
        """Redraw the progress bar after batch ``i`` (from 0) of ``n``, showing ``metrics``.

        Call it at the end of each batch: ``monitor.batch(i, len(loader), loss=l)``.
        Draws only on a terminal; the epoch's time counts from the previous ``log``.
        """
        fn = "Monitor.batch"
        n = _count(fn, "n", n, 1)
        i = _count(fn, "i", i, 0)
        if i >= n:
            raise ValueError(f"{fn}: batch {i} is out of range for {n} batches "
                             f"(batches count from 0: 0 <= i < {n})")
        if not self._tty or not self._progress_line.due(i + 1, n):
            return
        # Converted only when drawn: float() of a GPU tensor waits for the device,
        # which a fast loop should not pay on every batch.
        values = {name: _metric_value(fn, name, v) for name, v in metrics.items()}
        self._progress_line.draw(i + 1, n, self._last_log, values)

    # ----------------------------------------------------------------- snapshot
    def snapshot(self) -> dict:
        """The whole run as plain data: ``label``, ``total_epochs``, ``status``
        ("running"/"complete"), ``started_at`` (epoch seconds), ``elapsed``, ``eta``
        (None before the first epoch and after finish), ``epochs`` (copies of the
        records), ``graph`` (what :meth:`watch` stored, or None) and ``hardware``.
        NaN metrics stay NaN here; the dashboard's JSON turns them into null."""
        with self._lock:
            now = time.monotonic()
            if self._finished:
                elapsed, eta = self._elapsed_final, None
            else:
                elapsed = now - self._t0
                eta = None if self._eta is None else max(0.0, self._eta - (now - self._last_log))
            return {"label": self.label, "total_epochs": self.total_epochs,
                    "status": "complete" if self._finished else "running",
                    "started_at": self.started_at, "elapsed": elapsed, "eta": eta,
                    "epochs": [_copy_record(r) for r in self._epochs],
                    "graph": dict(self._graph) if self._graph is not None else None,
                    "hardware": dict(self._hardware)}

    # ----------------------------------------------------------------- graph
    def watch(self, model) -> None:
        """Show ``model`` in the dashboard and the HTML report: its diagram
        (a Graph's SVG, a text fallback otherwise), parameter counts, hash, label."""
        self._set_graph(_graph_info("Monitor.watch", model, profiled=False))

    def _set_graph(self, info: dict) -> None:
        with self._lock:
            self._graph = info
        if self._server is not None:
            self._server.publish("graph", dict(info))

    # ----------------------------------------------------------------- dashboard
    def serve(self, port: int = 3000, host: str = "127.0.0.1") -> str:
        """Start the live dashboard; returns its URL. ``port=0`` picks a free port."""
        fn = "Monitor.serve"
        self._check_running(fn)
        port = _count(fn, "port", port, 0)
        if port > 65535:
            raise ValueError(f"{fn}: port must be in 0..65535, got {port}")
        if not isinstance(host, str) or not host:
            raise TypeError(f"{fn}: host must be a non-empty str, got {host!r}")
        if self._server is not None:
            raise MonitorError(f"{fn}: already serving at {self._server.url}")
        from .server import DashboardServer    # the HTTP side loads only when used
        server = DashboardServer(self, host, port)
        server.start()
        self._server = server
        self._print(f"dashboard: {server.url}")
        return server.url

    @property
    def url(self):
        """The dashboard's URL while serving, else None."""
        return self._server.url if self._server is not None else None

    def save_html(self, path) -> None:
        """Write the dashboard as one offline HTML file now, and again with the
        final data at :meth:`finish`."""
        fn = "Monitor.save_html"
        path = reports.check_path(fn, path)
        self._write_html(fn, path)
        self._html_path = path

    def _write_html(self, fn: str, path: str) -> None:
        from .page import render_page
        reports.write_text(fn, path, render_page(self.snapshot()))

    # ----------------------------------------------------------------- reports
    def write_log(self, path) -> None:
        """Write the epoch lines and the summary as a text file."""
        reports.write_log(path, self.snapshot())

    def export_csv(self, path) -> None:
        """Write one CSV row per epoch: duration, every metric, the resources."""
        reports.export_csv(path, self.snapshot())

    # ----------------------------------------------------------------- the end
    def finish(self) -> None:
        """End the run: summary line, sampler stopped, dashboard closed, HTML rewritten.

        Calling it again does nothing.
        """
        if self._finished:
            return
        with self._lock:
            self._elapsed_final = time.monotonic() - self._t0
            self._finished = True
            self._eta = None
        if self._sampler is not None:
            self._sampler.stop()
        final = self.snapshot()
        self._print(format_summary_line(final))
        server, self._server = self._server, None
        if server is not None:
            try:
                server.publish("complete", final)
            finally:
                server.close()
        if self._html_path is not None:
            self._write_html("Monitor.finish", self._html_path)

    def finish_with(self, model) -> None:
        """Watch ``model`` with its profiled diagram (node times as colours, when
        it has profiling data), then :meth:`finish`."""
        if not self._finished:
            self._set_graph(_graph_info("Monitor.finish_with", model, profiled=True))
        self.finish()


def _copy_record(record: dict) -> dict:
    return {"epoch": record["epoch"], "duration": record["duration"],
            "metrics": dict(record["metrics"]), "resources": dict(record["resources"])}
