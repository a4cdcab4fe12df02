"""Observation: per-step metric buffers, per-epoch history, timing trends.

An :class:`Observer` is the bookkeeping behind a Graph's ``collect`` /
``record`` / ``flush`` / ``trend`` API (flodl's ``graph/observe.rs`` and the
timing half of ``graph/profile.rs``). It works without a graph too::

    obs = Observer()
    for epoch in range(epochs):
        for batch in loader:
            ...
            obs.record_scalar("loss", loss.item())
            obs.end_step()
        obs.end_epoch()                  # batch means -> epoch history
        if obs.trend("loss").stalled(5, 1e-4):
            break

Two stages per tag:

* the **batch buffer** receives one scalar per call (``collect_value``,
  ``record``, ``record_scalar``);
* :meth:`Observer.flush` appends the buffer's mean to the tag's **epoch
  history** and clears the buffer. :meth:`Observer.trend` reads the history.

Timings (seconds) have their own buffer and history (``record_timing``,
``flush_timings``, ``timing_trend``) so that profiling never mixes into metric
trends. :meth:`Observer.end_epoch` flushes both and counts the epoch.

NaN and Inf are stored as given: a diverged loss shows up as a NaN epoch
mean (one NaN batch makes the whole epoch mean NaN) and stays in the history,
the CSV, the log and the plot.

Unknown tags read as empty, as in flodl: ``history("typo") == []`` and
``trend("typo")`` is an empty :class:`Trend`. :meth:`Observer.tags` lists the
known ones.
"""
from __future__ import annotations

import datetime
import enum
import math
import numbers
import time
from collections.abc import Iterable, Mapping

import numpy as np

from ..errors import CheckpointError, GraphError, ShapeError
from .trend import Trend, TrendGroup

__all__ = ["Reduce", "reduce", "Observer"]


# --------------------------------------------------------------------------- Reduce
def _array_of(fn: str, x):
    """The ndarray (NumPy or CuPy) behind ``x``; Python scalars come back as float."""
    if isinstance(x, bool):
        return float(x)
    if isinstance(x, numbers.Real):  # int, float, np.floating, np.integer
        return float(x)
    data = getattr(x, "_data", None)  # Tensor / Variable
    if data is not None and hasattr(data, "dtype") and hasattr(data, "size"):
        return data
    if isinstance(x, np.ndarray) or type(x).__module__.split(".")[0] == "cupy":
        return x
    if isinstance(x, (str, bytes)):
        raise TypeError(f"{fn}: expected a tensor, an array or a number, got str {x!r}")
    try:
        arr = np.asarray(x)
    except Exception as e:  # ragged lists and the like
        raise TypeError(f"{fn}: cannot read {type(x).__name__} as numbers: {e}") from e
    if arr.dtype == object:
        raise TypeError(f"{fn}: expected a tensor, an array or a number, "
                        f"got {type(x).__name__}")
    return arr


def _xp_of(arr):
    if type(arr).__module__.split(".")[0] == "cupy":
        import cupy  # only reached when the caller already holds a CuPy array
        return cupy
    return np


def _as_f64(fn: str, arr, xp):
    kind = arr.dtype.kind
    if kind == "c":
        raise TypeError(f"{fn}: complex values cannot be observed, got dtype {arr.dtype}")
    if kind not in "fiub" and str(arr.dtype) != "bfloat16":
        raise TypeError(f"{fn}: expected numeric values, got dtype {arr.dtype}")
    return arr if arr.dtype == xp.float64 else arr.astype(xp.float64)


class Reduce(enum.Enum):
    """How a non-scalar observed value becomes one number.

    ``Reduce("mean")`` works too (the values are the lowercase names).
    """

    MEAN = "mean"  #: arithmetic mean of all elements
    SUM = "sum"    #: sum of all elements
    MAX = "max"    #: largest element (NaN propagates)
    MIN = "min"    #: smallest element (NaN propagates)
    NORM = "norm"  #: L2 norm of all elements (Frobenius for matrices)

    def apply(self, x) -> float:
        """Reduce a Tensor, Variable, NumPy/CuPy array or number to a Python float.

        The reduction runs in float64 on the array's own device; only the
        resulting scalar is copied to the host. Empty inputs raise ShapeError.
        A Python number is returned as is (its norm is its absolute value).
        """
        fn = f"Reduce.{self.name}"
        arr = _array_of(fn, x)
        if isinstance(arr, float):
            return abs(arr) if self is Reduce.NORM else arr
        if arr.size == 0:
            raise ShapeError(f"{fn}: cannot reduce an empty array (shape {tuple(arr.shape)})")
        xp = _xp_of(arr)
        a = _as_f64(fn, arr, xp)
        if self is Reduce.MEAN:
            r = a.mean()
        elif self is Reduce.SUM:
            r = a.sum()
        elif self is Reduce.MAX:
            r = a.max()
        elif self is Reduce.MIN:
            r = a.min()
        else:
            r = xp.sqrt((a * a).sum())
        return float(r)

    #: Alias of :meth:`apply`.
    reduce = apply

    @classmethod
    def coerce(cls, how) -> "Reduce":
        """A Reduce from a Reduce or its name (``"mean"``, ``"NORM"``, ...)."""
        if isinstance(how, cls):
            return how
        if isinstance(how, str):
            try:
                return cls(how.lower())
            except ValueError:
                pass
        raise ValueError(f"unknown reduction {how!r}; expected one of "
                         f"{[m.name for m in cls]} (or their lowercase names)")


def reduce(x, how: Reduce | str = Reduce.MEAN) -> float:
    """Reduce ``x`` (Tensor, Variable, array or number) to a float with ``how``."""
    return Reduce.coerce(how).apply(x)


def _scalar_of(fn: str, tag: str, x):
    """``x`` as a float when it holds exactly one element, else None."""
    arr = _array_of(fn, x)
    if isinstance(arr, float):
        return arr
    if arr.size == 1:
        xp = _xp_of(arr)
        return float(_as_f64(fn, arr, xp).reshape(()))
    if arr.size == 0:
        raise ShapeError(f"{fn}: tag {tag!r}: cannot observe an empty array "
                         f"(shape {tuple(arr.shape)})")
    return None


def _number(fn: str, tag: str, v) -> float:
    if isinstance(v, (str, bytes)) or v is None:
        raise TypeError(f"{fn}: tag {tag!r}: values must be numbers, "
                        f"got {type(v).__name__} {v!r}")
    if isinstance(v, numbers.Real):
        return float(v)
    s = _scalar_of(fn, tag, v)
    if s is None:
        raise ShapeError(f"{fn}: tag {tag!r}: expected a number, got a value of shape "
                         f"{tuple(_array_of(fn, v).shape)}; use collect_value(tag, value, "
                         f"reduce=...) to reduce it")
    return s


def _check_tag(fn: str, tag) -> str:
    if not isinstance(tag, str):
        raise TypeError(f"{fn}: a tag must be a str, got {type(tag).__name__} {tag!r}")
    if not tag:
        raise ValueError(f"{fn}: a tag must be a non-empty str")
    return tag


def _tag_list(fn: str, tags) -> list | None:
    """None/empty → None (all); a single str → [str]; else a list of str."""
    if tags is None:
        return None
    if isinstance(tags, str):
        return [_check_tag(fn, tags)]
    if not isinstance(tags, Iterable):
        raise TypeError(f"{fn}: tags must be a str, an iterable of str or None, "
                        f"got {type(tags).__name__}")
    out = [_check_tag(fn, t) for t in tags]
    return out or None


def _flush_into(buffer: dict, history: dict, keys) -> bool:
    flushed = False
    for key in keys:
        vals = buffer.pop(key, None)
        if vals:
            history.setdefault(key, []).append(sum(vals) / len(vals))
            flushed = True
    return flushed


# --------------------------------------------------------------------------- Observer
class Observer:
    """Per-tag batch buffers, epoch histories and timing histories.

    ``tag_groups`` maps a group name to its member tags; :meth:`trends`,
    :meth:`timing_trends` and :meth:`reset_trend` expand group names (a
    Graph fills it from ``FlowBuilder.tag_group``).
    """

    STATE_VERSION = 1

    def __init__(self, tag_groups: Mapping | None = None):
        self.tag_groups: dict = {k: list(v) for k, v in (tag_groups or {}).items()}
        self._buffer: dict = {}          # tag -> [float] since the last flush
        self._history: dict = {}         # tag -> [epoch mean]
        self._order: list = []           # tags in first-observed order
        self._timing_buffer: dict = {}   # tag -> [seconds] since the last flush_timings
        self._timing_history: dict = {}  # tag -> [epoch mean seconds]
        self._epoch = 0
        self._step = 0
        self._flush_count = 0
        self._flush_times: list = []     # seconds since start at each data-producing flush
        self._start: float | None = None

    # ------------------------------------------------------------------ helpers
    def _touch(self, tag: str) -> None:
        if self._start is None:
            self._start = time.perf_counter()
        if tag not in self._buffer and tag not in self._history and tag not in self._order:
            self._order.append(tag)

    def _expand(self, tags: list) -> list:
        out = []
        for t in tags:
            out.extend(self.tag_groups.get(t, (t,)))
        return out

    def mark_start(self) -> None:
        """Start the clock that :attr:`flush_times` and :meth:`eta` measure from.

        Called implicitly by the first observation; call it earlier (e.g. at the
        first forward pass) to include setup time in epoch 1.
        """
        self._start = time.perf_counter()

    # ------------------------------------------------------------------ collect
    def collect_value(self, tag: str, value, reduce: Reduce | str | None = Reduce.MEAN) -> float:
        """Append one scalar observation of ``value`` to ``tag``'s batch buffer.

        ``value`` may be a Tensor, Variable, NumPy/CuPy array or number. A
        one-element value is taken as is (no reduction, as flodl's
        ``collect_with``: a scalar tag keeps its sign under ``NORM``); larger
        values are reduced with ``reduce``. ``reduce=None`` demands a
        one-element value (flodl's plain ``collect``) and raises ShapeError
        otherwise. Returns the recorded number.
        """
        fn = "Observer.collect_value"
        _check_tag(fn, tag)
        how = None if reduce is None else Reduce.coerce(reduce)
        v = _scalar_of(fn, tag, value)
        if v is None:
            if how is None:
                raise ShapeError(f"{fn}: tag {tag!r} has shape {tuple(_array_of(fn, value).shape)}"
                                 f" (not a scalar); pass reduce=Reduce.MEAN/SUM/MAX/MIN/NORM")
            v = how.apply(value)
        self._touch(tag)
        self._buffer.setdefault(tag, []).append(v)
        return v

    def record(self, tag: str, values) -> None:
        """Append external values (an iterable of numbers, or one number) to the buffer."""
        fn = "Observer.record"
        _check_tag(fn, tag)
        if isinstance(values, numbers.Real):
            vals = [float(values)]
        elif isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
            vals = [_number(fn, tag, values)]  # a one-element tensor / array, or a clear error
        elif (isinstance(values, np.ndarray) or hasattr(values, "_data")
              or type(values).__module__.split(".")[0] == "cupy"):
            arr = _array_of(fn, values)
            vals = _host_list(_as_f64(fn, arr, _xp_of(arr)))
        else:
            vals = [_number(fn, tag, v) for v in values]
        self._touch(tag)
        self._buffer.setdefault(tag, []).extend(vals)

    def record_scalar(self, tag: str, value) -> None:
        """Append one number to ``tag``'s batch buffer."""
        fn = "Observer.record_scalar"
        _check_tag(fn, tag)
        v = _number(fn, tag, value)
        self._touch(tag)
        self._buffer.setdefault(tag, []).append(v)

    def collected(self, tag: str) -> list:
        """The values buffered for ``tag`` since the last flush (a copy)."""
        return list(self._buffer.get(tag, ()))

    # -------------------------------------------------------------------- flush
    def flush(self, tags=None) -> None:
        """Move batch means into the epoch history and clear those buffers.

        ``tags=None`` (or empty) flushes every buffered tag. Tags with nothing
        buffered are skipped, so their history does not grow. A flush that
        moved any data counts in :attr:`flush_count` and :attr:`flush_times`.
        """
        tags = _tag_list("Observer.flush", tags)
        keys = list(self._buffer) if tags is None else tags
        if _flush_into(self._buffer, self._history, keys):
            self._flush_count += 1
            start = self._start if self._start is not None else time.perf_counter()
            self._flush_times.append(time.perf_counter() - start)

    @property
    def flush_count(self) -> int:
        """Number of flush calls that produced data."""
        return self._flush_count

    @property
    def flush_times(self) -> list:
        """Seconds since the start at each data-producing flush (a copy)."""
        return list(self._flush_times)

    def eta(self, total_epochs: int) -> float:
        """Seconds left for ``total_epochs`` at the average pace so far (0.0 before any flush)."""
        n = self._flush_count
        if n == 0 or not self._flush_times:
            return 0.0
        per = self._flush_times[-1] / n
        return per * max(0, int(total_epochs) - n)

    # ------------------------------------------------------------------ history
    def history(self, tag: str) -> list:
        """Epoch values of ``tag``, oldest first (``[]`` for an unknown tag)."""
        return list(self._history.get(tag, ()))

    def trend(self, tag: str) -> Trend:
        """A :class:`Trend` over ``tag``'s epoch history (empty for an unknown tag)."""
        return Trend(self._history.get(tag, ()))

    def trends(self, tags=None) -> TrendGroup:
        """A :class:`TrendGroup` over ``tags`` (group names expanded; None = every tag)."""
        tags = _tag_list("Observer.trends", tags)
        keys = self.tags() if tags is None else self._expand(tags)
        return TrendGroup([(t, Trend(self._history.get(t, ()))) for t in dict.fromkeys(keys)])

    def reset_trend(self, tags=None) -> None:
        """Forget the epoch history of ``tags`` (group names expanded; None = all)."""
        tags = _tag_list("Observer.reset_trend", tags)
        if tags is None:
            self._history.clear()
        else:
            for t in self._expand(tags):
                self._history.pop(t, None)

    def tags(self) -> list:
        """Tags that have epoch history or buffered values, in first-observed order."""
        return [t for t in self._order if t in self._history or t in self._buffer]

    def histories(self, tags=None) -> dict:
        """``{tag: [epoch values]}`` for ``tags`` (None = every tag with history)."""
        tags = _tag_list("Observer.histories", tags)
        keys = [t for t in self._order if t in self._history] if tags is None \
            else self._expand(tags)
        return {t: list(self._history.get(t, ())) for t in keys}

    def latest_metrics(self) -> dict:
        """``{tag: latest epoch value}`` for tags with history, in first-observed order.

        flodl returns a list of ``(tag, value)`` pairs; a dict keeps that order
        (``list(d.items())`` gives the pairs). Empty before the first flush.
        """
        return {t: self._history[t][-1] for t in self._order if self._history.get(t)}

    # ------------------------------------------------------------------ timings
    def record_timing(self, tag: str, seconds) -> None:
        """Append one duration (seconds, or a ``datetime.timedelta``) to ``tag``'s timings."""
        fn = "Observer.record_timing"
        _check_tag(fn, tag)
        if isinstance(seconds, datetime.timedelta):
            s = seconds.total_seconds()
        else:
            s = _number(fn, tag, seconds)
        if s < 0:
            raise ValueError(f"{fn}: tag {tag!r}: a duration cannot be negative, got {s}")
        if self._start is None:
            self._start = time.perf_counter()
        self._timing_buffer.setdefault(tag, []).append(s)

    def collected_timings(self, tag: str) -> list:
        """Durations buffered for ``tag`` since the last :meth:`flush_timings`."""
        return list(self._timing_buffer.get(tag, ()))

    def flush_timings(self, tags=None) -> None:
        """Append mean buffered durations to the timing history; clear those buffers."""
        tags = _tag_list("Observer.flush_timings", tags)
        keys = list(self._timing_buffer) if tags is None else tags
        _flush_into(self._timing_buffer, self._timing_history, keys)

    def timing_history(self, tag: str) -> list:
        """Per-epoch mean durations (seconds) of ``tag``; ``[]`` when unknown."""
        return list(self._timing_history.get(tag, ()))

    def timing_trend(self, tag: str) -> Trend:
        """A :class:`Trend` over ``tag``'s per-epoch mean durations (seconds)."""
        return Trend(self._timing_history.get(tag, ()))

    def timing_trends(self, tags=None) -> TrendGroup:
        """A :class:`TrendGroup` of timing trends (group names expanded; None = all)."""
        tags = _tag_list("Observer.timing_trends", tags)
        keys = list(self._timing_history) if tags is None else self._expand(tags)
        return TrendGroup([(t, Trend(self._timing_history.get(t, ())))
                           for t in dict.fromkeys(keys)])

    def timing_histories(self, tags=None) -> dict:
        """``{tag: [epoch mean seconds]}`` (None = every timed tag)."""
        tags = _tag_list("Observer.timing_histories", tags)
        keys = list(self._timing_history) if tags is None else self._expand(tags)
        return {t: list(self._timing_history.get(t, ())) for t in keys}

    def reset_timing_trend(self, tags=None) -> None:
        """Forget the timing history of ``tags`` (None = all)."""
        tags = _tag_list("Observer.reset_timing_trend", tags)
        if tags is None:
            self._timing_history.clear()
        else:
            for t in self._expand(tags):
                self._timing_history.pop(t, None)

    # ----------------------------------------------------------------- counters
    def end_step(self) -> None:
        """Count one training step (flodl's ``end_step`` bookkeeping part)."""
        self._step += 1

    def end_epoch(self) -> None:
        """Flush every metric and timing buffer, then count one epoch."""
        self.flush()
        self.flush_timings()
        self._epoch += 1

    @property
    def epoch(self) -> int:
        """Completed epochs (incremented by :meth:`end_epoch`)."""
        return self._epoch

    @property
    def step(self) -> int:
        """Completed steps (incremented by :meth:`end_step`)."""
        return self._step

    # flodl's names for the counters
    epoch_count = epoch
    step_count = step

    # --------------------------------------------------------------------- state
    def state_dict(self) -> dict:
        """Everything needed to resume: plain dicts, lists, ints and floats (copies)."""
        return {
            "version": self.STATE_VERSION,
            "order": list(self._order),
            "history": {k: list(v) for k, v in self._history.items()},
            "buffer": {k: list(v) for k, v in self._buffer.items()},
            "timing_history": {k: list(v) for k, v in self._timing_history.items()},
            "timing_buffer": {k: list(v) for k, v in self._timing_buffer.items()},
            "epoch": self._epoch,
            "step": self._step,
            "flush_count": self._flush_count,
            "flush_times": list(self._flush_times),
        }

    def load_state_dict(self, state: Mapping) -> None:
        """Replace this observer's state with one from :meth:`state_dict`.

        Raises CheckpointError (a ValueError) on an unknown version, unknown
        keys or malformed values; nothing is changed in that case. The clock
        restarts so that new flush times continue after the saved ones.
        """
        fn = "Observer.load_state_dict"
        if not isinstance(state, Mapping):
            raise CheckpointError(f"{fn}: expected a dict, got {type(state).__name__}")
        known = set(self.state_dict())
        unknown = sorted(set(state) - known, key=str)
        if unknown:
            raise CheckpointError(f"{fn}: unknown keys {unknown}; expected a subset of "
                                  f"{sorted(known)}")
        version = state.get("version", self.STATE_VERSION)
        if version != self.STATE_VERSION:
            raise CheckpointError(f"{fn}: unsupported state version {version!r} "
                                  f"(this flodl_core reads version {self.STATE_VERSION})")

        def series_map(key):
            raw = state.get(key, {})
            if not isinstance(raw, Mapping):
                raise CheckpointError(f"{fn}: {key!r} must be a dict of tag -> list of floats, "
                                      f"got {type(raw).__name__}")
            out = {}
            for tag, vals in raw.items():
                if not isinstance(tag, str):
                    raise CheckpointError(f"{fn}: {key!r} has a non-str tag {tag!r}")
                out[tag] = float_list(f"{key}[{tag!r}]", vals)
            return out

        def float_list(where, vals):
            if isinstance(vals, (str, bytes, Mapping)) or not isinstance(vals, Iterable):
                raise CheckpointError(f"{fn}: {where} must be a list of floats, "
                                      f"got {type(vals).__name__}")
            try:
                return [float(v) for v in np.asarray(vals, dtype=np.float64).reshape(-1)]
            except (TypeError, ValueError) as e:
                raise CheckpointError(f"{fn}: {where} must be a list of floats: {e}") from e

        def count(key):
            v = state.get(key, 0)
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 0:
                raise CheckpointError(f"{fn}: {key!r} must be a non-negative int, got {v!r}")
            return int(v)

        history = series_map("history")
        buffer = series_map("buffer")
        timing_history = series_map("timing_history")
        timing_buffer = series_map("timing_buffer")
        order_raw = state.get("order", [])
        if isinstance(order_raw, (str, bytes)) or not isinstance(order_raw, Iterable) \
                or not all(isinstance(t, str) for t in order_raw):
            raise CheckpointError(f"{fn}: 'order' must be a list of str tags")
        order = list(dict.fromkeys(order_raw))
        for t in list(history) + list(buffer):  # tags missing from 'order' keep dict order
            if t not in order:
                order.append(t)
        epoch, step, flush_count = count("epoch"), count("step"), count("flush_count")
        flush_times = float_list("'flush_times'", state.get("flush_times", []))

        self._history, self._buffer = history, buffer
        self._timing_history, self._timing_buffer = timing_history, timing_buffer
        self._order = order
        self._epoch, self._step, self._flush_count = epoch, step, flush_count
        self._flush_times = flush_times
        last = flush_times[-1] if flush_times and math.isfinite(flush_times[-1]) else 0.0
        self._start = time.perf_counter() - last

    # ------------------------------------------------------------------- output
    def plot_html(self, path, tags=None, title: str = "Training Curves") -> None:
        """Write the epoch history of ``tags`` (None = all) as a self-contained HTML chart."""
        from .plot import plot_html
        plot_html(path, self._output_histories("Observer.plot_html", tags), title=title)

    def plot_timings_html(self, path, tags=None, title: str = "Timing Trends") -> None:
        """Write the timing history (seconds) as a self-contained HTML chart."""
        from .plot import plot_html
        plot_html(path, self._output_histories("Observer.plot_timings_html", tags, timing=True),
                  title=title, ylabel="seconds")

    def export_trends(self, path, tags=None) -> None:
        """Write the epoch history as CSV (``epoch,<tag>,...``)."""
        from .plot import export_trends
        export_trends(path, self._output_histories("Observer.export_trends", tags))

    def export_timing_trends(self, path, tags=None) -> None:
        """Write the timing history (seconds) as CSV."""
        from .plot import export_trends
        export_trends(path, self._output_histories("Observer.export_timing_trends", tags,
                                                   timing=True))

    def write_log(self, path, total_epochs: int = 0, tags=None) -> None:
        """Write a readable per-epoch log with epoch durations and an ETA."""
        from .plot import write_log
        write_log(path, self._output_histories("Observer.write_log", tags),
                  total_epochs=total_epochs, epoch_times=list(self._flush_times))

    def _output_histories(self, fn: str, tags, timing: bool = False) -> dict:
        hist = self._timing_history if timing else self._history
        what = "timing" if timing else "epoch"
        call = "flush_timings" if timing else "flush"
        tags = _tag_list(fn, tags)
        if tags is None:
            keys = list(hist) if timing else [t for t in self._order if t in hist]
            if not keys:
                raise GraphError(f"{fn}: no {what} data yet (call {call}() first)")
        else:
            keys = self._expand(tags)
            for t in keys:
                if t not in hist:
                    raise GraphError(f"{fn}: tag {t!r} has no {what} history "
                                     f"(known: {list(hist)}; call {call}() first)")
        return {t: list(hist[t]) for t in dict.fromkeys(keys)}

    def __repr__(self) -> str:
        return (f"Observer(tags={self.tags()}, epoch={self._epoch}, step={self._step}, "
                f"buffered={sum(len(v) for v in self._buffer.values())})")


def _host_list(a) -> list:
    """A float64 NumPy/CuPy array as a flat list of Python floats."""
    if type(a) is not np.ndarray:
        a = a.get()
    return a.reshape(-1).tolist()
