"""What the monitor prints: the epoch line, the summary line, the progress bar.

Everything here is pure text formatting over plain data (epoch records and
snapshots as described in :mod:`flodl_core.monitor.monitor`), so the same
functions produce the terminal output and the text log, and the tests can
check the text without a Monitor.

An epoch line::

    epoch  3/20  loss=0.4321  acc=0.9000  [1.2s  ETA 20.4s]  CPU 43%  RAM 3.1/23.4 GB

The ETA is the mean duration of the last (up to) five epochs times the epochs
left. A short recent window, not the mean since the start, because the first
epoch usually carries one-off costs (imports, caches warming up, allocator
growth) and because the pace can change during a run; five epochs are enough
to smooth out the noise of any one of them.

The progress bar is one line redrawn in place (carriage return, then "clear to
end of line"), so it is only meant for a terminal; :class:`ProgressLine`
decides when a redraw is worth it.
"""
from __future__ import annotations

import math
import time

from ..graph.plot import format_duration, format_metric

__all__ = ["ETA_WINDOW", "eta_seconds", "format_resources", "format_epoch_line",
           "format_summary_line", "summary_metric", "format_progress", "ProgressLine",
           "CLEAR_LINE"]

ETA_WINDOW = 5
"""How many recent epoch durations the ETA averages."""

CLEAR_LINE = "\r\x1b[K"
"""Back to column 0, then erase to the end of the line (ANSI "EL")."""

# Metric names for which a higher value is better; every other metric is taken
# to be a loss or an error, where lower is better.
_HIGHER_IS_BETTER = ("acc", "f1", "auc", "precision", "recall", "score", "iou", "dice",
                     "bleu", "r2")


# --------------------------------------------------------------------------- ETA
def eta_seconds(durations, epochs_done: int, total_epochs: int):
    """Seconds left: mean of the last ``ETA_WINDOW`` durations times epochs left.

    ``epochs_done`` is the 1-based number of the last finished epoch. Returns
    None when nothing is known yet, 0.0 once the last epoch is done.
    """
    left = total_epochs - epochs_done
    if left <= 0:
        return 0.0
    recent = [d for d in list(durations)[-ETA_WINDOW:] if math.isfinite(d)]
    if not recent:
        return None
    return sum(recent) / len(recent) * left


# --------------------------------------------------------------------------- resources
def _amount(n_bytes: int, unit: float) -> str:
    value = n_bytes / unit
    return f"{value:.2f}" if 0.0 < value < 0.1 else f"{value:.1f}"


def _used_of_total(name: str, used, total) -> str:
    """``RAM 3.1/23.4 GB`` (decimal units, the unit chosen by the total)."""
    if total is None:
        unit, suffix = (1e9, "GB") if used >= 1e9 else (1e6, "MB")
        return f"{name} {_amount(used, unit)} {suffix}"
    unit, suffix = (1e9, "GB") if total >= 1e9 else (1e6, "MB")
    return f"{name} {_amount(used, unit)}/{_amount(total, unit)} {suffix}"


def format_resources(res: dict) -> str:
    """``CPU 43%  RAM 3.1/23.4 GB  GPU 88%  VRAM 2.1/80.0 GB``; unknown parts left out."""
    parts = []
    if res.get("cpu_percent") is not None:
        parts.append(f"CPU {res['cpu_percent']:.0f}%")
    if res.get("ram_used") is not None:
        parts.append(_used_of_total("RAM", res["ram_used"], res.get("ram_total")))
    if res.get("gpu_percent") is not None:
        parts.append(f"GPU {res['gpu_percent']:.0f}%")
    if res.get("vram_used") is not None:
        parts.append(_used_of_total("VRAM", res["vram_used"], res.get("vram_total")))
    return "  ".join(parts)


# --------------------------------------------------------------------------- epoch line
def _metric_text(value) -> str:
    # None is how a NaN comes back from a JSON snapshot
    return "nan" if value is None else format_metric(value)


def format_epoch_line(record: dict, total_epochs: int, eta) -> str:
    """The line printed for one epoch record (no newline, no control characters).

    ``eta`` is the seconds left (see :func:`eta_seconds`); None or 0 leaves it out.
    """
    width = len(str(total_epochs))
    parts = [f"epoch {record['epoch']:>{width}}/{total_epochs}"]
    parts += [f"{name}={_metric_text(value)}" for name, value in record["metrics"].items()]
    timing = format_duration(record["duration"])
    if eta:
        timing += f"  ETA {format_duration(eta)}"
    parts.append(f"[{timing}]")
    resources = format_resources(record.get("resources") or {})
    if resources:
        parts.append(resources)
    return "  ".join(parts)


def summary_metric(epochs: list):
    """The metric the summary reports: "loss" if any epoch has it, else the first one."""
    names = [name for record in epochs for name in record["metrics"]]
    if not names:
        return None
    return "loss" if "loss" in names else names[0]


def _best(name: str, values: list):
    """(value, index) of the best finite value; lower is better unless the name
    looks like a score (accuracy, F1, ...)."""
    finite = [(v, i) for i, v in enumerate(values) if v is not None and math.isfinite(v)]
    if not finite:
        return None
    lowered = name.lower()
    if any(word in lowered for word in _HIGHER_IS_BETTER):
        return max(finite, key=lambda vi: vi[0])
    return min(finite, key=lambda vi: vi[0])


def format_summary_line(snapshot: dict) -> str:
    """``training complete: 20/20 epochs in 2m05s  loss best 0.0123 (epoch 17), last 0.0150``."""
    epochs = snapshot["epochs"]
    total = snapshot["total_epochs"]
    done = len(epochs)
    finished = bool(epochs) and epochs[-1]["epoch"] >= total
    head = "complete" if finished else "stopped"
    line = (f"{snapshot.get('label') or 'training'} {head}: {done}/{total} epochs in "
            f"{format_duration(snapshot['elapsed'])}")
    name = summary_metric(epochs)
    if name is not None:
        values = [r["metrics"].get(name) for r in epochs]
        best = _best(name, values)
        last = next((v for v in reversed(values) if v is not None), None)
        if best is not None:
            value, index = best
            line += f"  {name} best {format_metric(value)} (epoch {epochs[index]['epoch']})"
            line += f", last {_metric_text(last)}"
        elif last is not None:
            line += f"  {name} last {_metric_text(last)}"
    return line


# --------------------------------------------------------------------------- progress bar
_BAR_WIDTH = 24


def format_progress(done: int, total, elapsed: float, metrics: dict) -> str:
    """`` 37/120  [=======>                ]  31%  12.3 it/s  ETA 6.7s  loss=0.4321``.

    Without a known ``total`` the bar and the ETA are left out.
    """
    rate = done / elapsed if elapsed > 0.0 else 0.0
    if total:
        width = len(str(total))
        frac = min(done / total, 1.0)
        filled = int(frac * _BAR_WIDTH)
        bar = "=" * filled + (">" if filled < _BAR_WIDTH else "")
        parts = [f"{done:>{width}}/{total}", f"[{bar:<{_BAR_WIDTH}}]", f"{frac * 100:.0f}%"]
    else:
        parts = [f"{done}"]
    if rate >= 1.0 or rate == 0.0:
        parts.append(f"{rate:.1f} it/s")
    else:
        parts.append(f"{1.0 / rate:.1f} s/it")
    if total and rate > 0.0 and done < total:
        parts.append(f"ETA {format_duration((total - done) / rate)}")
    parts += [f"{name}={format_metric(value)}" for name, value in metrics.items()]
    return "  ".join(parts)


class ProgressLine:
    """Redraws one terminal line, at most once per ``min_interval`` seconds.

    The throttle keeps a fast batch loop from spending its time writing to the
    terminal; the last batch of an epoch is always drawn so the bar ends full.
    ``clock`` is injectable so tests can control time.
    """

    def __init__(self, stream, min_interval: float = 0.1, clock=time.monotonic):
        self.stream = stream
        self.min_interval = min_interval
        self.clock = clock
        self.pending = False          # a drawn line that the next print must erase
        self._last_draw = -math.inf

    def due(self, done: int, total) -> bool:
        """Whether a redraw is worth it now (always for the last batch)."""
        final = bool(total) and done >= total
        return final or self.clock() - self._last_draw >= self.min_interval

    def draw(self, done: int, total, started: float, metrics: dict) -> None:
        """Redraw the line now."""
        now = self.clock()
        self._last_draw = now
        text = format_progress(done, total, now - started, metrics)
        self.stream.write(CLEAR_LINE + text)
        self.stream.flush()
        self.pending = True

    def update(self, done: int, total, started: float, metrics: dict) -> bool:
        """Draw the state if it is time to; returns whether a redraw happened."""
        if not self.due(done, total):
            return False
        self.draw(done, total, started, metrics)
        return True

    def clear(self) -> None:
        """Erase the drawn line, if any, so the next print starts on a clean line."""
        if self.pending:
            self.stream.write(CLEAR_LINE)
            self.pending = False
        self._last_draw = -math.inf
