"""Trend analysis over per-epoch scalar histories.

A :class:`Trend` wraps one series of epoch values (usually the epoch means a
:class:`~flodl_core.graph.observe.Observer` flushed for one tag) and answers the
questions a training loop asks before deciding to stop early or drop the
learning rate: is the value still going down, has it stopped moving, has it
settled? A :class:`TrendGroup` asks the same questions over several named
trends at once.

Semantics follow flodl's ``graph/trend.rs``:

* ``window`` selects the last ``window`` values; ``None`` or ``0`` means the
  whole series. A window longer than the series uses the whole series (there
  is no "not enough points yet" guard except where stated).
* :meth:`Trend.slope` is the ordinary least-squares slope of the values against
  their positions ``0, 1, 2, ...``; fewer than two points give ``0.0``.
* :meth:`Trend.improving` is ``slope < 0`` (loss-like: lower is better).
* :meth:`Trend.stalled` is ``abs(slope) < tol``. As in flodl there is **no**
  minimum point count, so an empty or single-value trend (slope ``0.0``) counts
  as stalled; guard with ``len(trend) >= window`` in early-stopping code.
* :meth:`Trend.converged` is "population variance of the window < tol" and
  needs at least two points in the window.

Empty trends return neutral values instead of raising, like flodl:
``latest() == 0.0``, ``mean() == 0.0``, ``min() == inf``, ``max() == -inf``.

NaN and Inf values are kept as recorded, so a diverged loss stays visible:
``mean()``, ``slope()`` and ``latest()`` report them, every predicate built on
a NaN slope or variance is ``False`` (comparisons with NaN are false), and
``min()``/``max()`` skip NaN (IEEE ``minNum``/``maxNum``, as Rust's ``f64::min``).
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping

__all__ = ["Trend", "TrendGroup"]


def _check_window(fn: str, window) -> int:
    """``None``/``0`` → 0 (whole series); otherwise a non-negative int."""
    if window is None:
        return 0
    if isinstance(window, bool) or not isinstance(window, numbers.Integral):
        raise TypeError(f"{fn}: window must be a non-negative int or None, "
                        f"got {type(window).__name__} {window!r}")
    if window < 0:
        raise ValueError(f"{fn}: window must be >= 0 (0 or None = all values), got {window}")
    return int(window)


def _check_tol(fn: str, tol) -> float:
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real):
        raise TypeError(f"{fn}: tol must be a real number, got {type(tol).__name__} {tol!r}")
    return float(tol)


def _as_float(fn: str, v) -> float:
    if isinstance(v, (str, bytes)):
        raise TypeError(f"{fn}: values must be numbers, got {type(v).__name__} {v!r}")
    try:
        return float(v)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{fn}: values must be numbers, got {type(v).__name__} {v!r}") from e


def _ols_slope(data: list) -> float:
    """Least-squares slope of ``data`` against ``x = 0, 1, ..., n-1``."""
    n = len(data)
    if n < 2:
        return 0.0
    # Closed forms for evenly spaced x: sum(x) = n(n-1)/2, sum(x^2) = (n-1)n(2n-1)/6.
    sum_x = n * (n - 1) / 2.0
    sum_xx = (n - 1) * n * (2 * n - 1) / 6.0
    sum_y = 0.0
    sum_xy = 0.0
    for i, y in enumerate(data):
        sum_y += y
        sum_xy += i * y
    denom = n * sum_xx - sum_x * sum_x
    if abs(denom) < 1e-15:
        return 0.0
    return (n * sum_xy - sum_x * sum_y) / denom


class Trend:
    """Statistics over one series of epoch values (oldest first)."""

    __slots__ = ("_values",)

    def __init__(self, values: Iterable = ()):
        if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
            raise TypeError(f"Trend: expected an iterable of numbers, "
                            f"got {type(values).__name__}")
        self._values = [_as_float("Trend", v) for v in values]

    # ------------------------------------------------------------- container
    def __len__(self) -> int:
        return len(self._values)

    def __iter__(self):
        return iter(self._values)

    def __getitem__(self, index):
        return self._values[index]

    def __eq__(self, other):
        if isinstance(other, Trend):
            return self._values == other._values
        return NotImplemented

    __hash__ = None

    def __repr__(self) -> str:
        n = len(self._values)
        if n <= 6:
            body = ", ".join(f"{v:.6g}" for v in self._values)
        else:
            head = ", ".join(f"{v:.6g}" for v in self._values[:3])
            tail = ", ".join(f"{v:.6g}" for v in self._values[-2:])
            body = f"{head}, ..., {tail}"
        return f"Trend([{body}], len={n})"

    def is_empty(self) -> bool:
        """True when no value has been recorded."""
        return not self._values

    @property
    def values(self) -> list:
        """All values, oldest first (a copy: mutating it leaves the trend alone)."""
        return list(self._values)

    def last(self, n: int) -> list:
        """The last ``n`` values (all of them when ``n`` exceeds the length; ``[]`` for 0)."""
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
            raise ValueError(f"Trend.last: n must be a non-negative int, got {n!r}")
        return self._values[len(self._values) - min(int(n), len(self._values)):]

    def _window(self, fn: str, window) -> list:
        w = _check_window(fn, window)
        return self.last(w) if w > 0 else self._values

    # ------------------------------------------------------------ statistics
    def latest(self) -> float:
        """The most recent value, or ``0.0`` for an empty trend (flodl's convention)."""
        return self._values[-1] if self._values else 0.0

    def mean(self) -> float:
        """Arithmetic mean of all values, ``0.0`` when empty (NaN propagates)."""
        if not self._values:
            return 0.0
        return sum(self._values) / len(self._values)

    def min(self) -> float:
        """Smallest value ignoring NaN; ``inf`` when empty (or all NaN)."""
        out = math.inf
        for v in self._values:
            if v < out:  # False for NaN: NaN is skipped
                out = v
        return out

    def max(self) -> float:
        """Largest value ignoring NaN; ``-inf`` when empty (or all NaN)."""
        out = -math.inf
        for v in self._values:
            if v > out:
                out = v
        return out

    def slope(self, window: int | None = None) -> float:
        """Least-squares slope per epoch over the last ``window`` values.

        ``None``/``0`` uses every value; fewer than two points give ``0.0``.
        Negative means decreasing (improving, for a loss).
        """
        return _ols_slope(self._window("Trend.slope", window))

    # ------------------------------------------------------------ predicates
    def improving(self, window: int | None = None) -> bool:
        """``slope(window) < 0``: the value is going down (a loss getting better)."""
        return self.slope(window) < 0.0

    def stalled(self, window: int | None, tol: float) -> bool:
        """``abs(slope(window)) < tol``: the value is no longer moving.

        Like flodl, no minimum point count: fewer than two points (slope 0.0)
        are reported as stalled.
        """
        tol = _check_tol("Trend.stalled", tol)
        return abs(self.slope(window)) < tol

    def converged(self, window: int | None, tol: float) -> bool:
        """Population variance of the last ``window`` values ``< tol``.

        Needs at least two values in the window; otherwise ``False``.
        """
        tol = _check_tol("Trend.converged", tol)
        data = self._window("Trend.converged", window)
        n = len(data)
        if n < 2:
            return False
        mean = sum(data) / n
        var = sum((v - mean) ** 2 for v in data) / n
        return var < tol


class TrendGroup:
    """Several named :class:`Trend` objects queried together.

    Built from a mapping ``{tag: Trend | sequence}``, an iterable of
    ``(tag, Trend)`` pairs, or a plain list of trends (tagged ``"0"``, ``"1"``,
    ...). Iterating yields the tags in order; ``group[tag]`` gives the trend and
    ``group[i]`` the i-th trend. ``all_*`` predicates are ``False`` on an empty
    group (nothing to vouch for), ``any_*`` ones too.
    """

    __slots__ = ("_trends",)

    def __init__(self, trends=()):
        items: list
        if isinstance(trends, Mapping):
            items = list(trends.items())
        elif isinstance(trends, (str, bytes)) or not isinstance(trends, Iterable):
            raise TypeError(f"TrendGroup: expected a mapping of tag -> Trend or an iterable, "
                            f"got {type(trends).__name__}")
        else:
            items = []
            for i, item in enumerate(trends):
                if isinstance(item, Trend):
                    items.append((str(i), item))
                elif isinstance(item, tuple) and len(item) == 2:
                    items.append(item)
                else:
                    raise TypeError(f"TrendGroup: item {i} must be a Trend or a (tag, Trend) "
                                    f"pair, got {type(item).__name__}")
        self._trends: dict = {}
        for tag, t in items:
            if not isinstance(tag, str):
                raise TypeError(f"TrendGroup: tags must be str, got {type(tag).__name__} {tag!r}")
            if tag in self._trends:
                raise ValueError(f"TrendGroup: duplicate tag {tag!r}")
            self._trends[tag] = t if isinstance(t, Trend) else Trend(t)

    # ------------------------------------------------------------- container
    def __len__(self) -> int:
        return len(self._trends)

    def is_empty(self) -> bool:
        return not self._trends

    def __iter__(self):
        return iter(self._trends)

    def __contains__(self, tag) -> bool:
        return tag in self._trends

    def __getitem__(self, key) -> Trend:
        if isinstance(key, str):
            try:
                return self._trends[key]
            except KeyError:
                raise KeyError(f"TrendGroup: no trend tagged {key!r} "
                               f"(tags: {list(self._trends)})") from None
        if isinstance(key, numbers.Integral) and not isinstance(key, bool):
            trends = list(self._trends.values())
            try:
                return trends[key]
            except IndexError:
                raise IndexError(f"TrendGroup: index {key} out of range for "
                                 f"{len(trends)} trends") from None
        raise TypeError(f"TrendGroup: index with a tag (str) or a position (int), "
                        f"got {type(key).__name__}")

    def tags(self) -> list:
        """The tags, in group order."""
        return list(self._trends)

    def trends(self) -> list:
        """The trends, in group order."""
        return list(self._trends.values())

    def items(self):
        """``(tag, Trend)`` pairs, in group order."""
        return self._trends.items()

    def __repr__(self) -> str:
        inner = ", ".join(f"{k!r}: len={len(t)}" for k, t in self._trends.items())
        return f"TrendGroup({{{inner}}})"

    # ------------------------------------------------------------ predicates
    def all_improving(self, window: int | None = None) -> bool:
        """Every trend has a negative slope (``False`` for an empty group)."""
        return bool(self._trends) and all(t.improving(window) for t in self._trends.values())

    def any_improving(self, window: int | None = None) -> bool:
        """At least one trend has a negative slope."""
        return any(t.improving(window) for t in self._trends.values())

    def all_stalled(self, window: int | None, tol: float) -> bool:
        """Every trend has ``abs(slope) < tol`` (``False`` for an empty group)."""
        return bool(self._trends) and all(t.stalled(window, tol) for t in self._trends.values())

    def any_stalled(self, window: int | None, tol: float) -> bool:
        """At least one trend has ``abs(slope) < tol``."""
        return any(t.stalled(window, tol) for t in self._trends.values())

    def all_converged(self, window: int | None, tol: float) -> bool:
        """Every trend's window variance is below ``tol`` (``False`` for an empty group)."""
        return bool(self._trends) and all(t.converged(window, tol)
                                          for t in self._trends.values())

    def any_converged(self, window: int | None, tol: float) -> bool:
        """At least one trend's window variance is below ``tol``."""
        return any(t.converged(window, tol) for t in self._trends.values())

    def mean_slope(self, window: int | None = None) -> float:
        """Average of the trends' slopes, ``0.0`` for an empty group."""
        if not self._trends:
            return 0.0
        return sum(t.slope(window) for t in self._trends.values()) / len(self._trends)

    def slopes(self, window: int | None = None) -> dict:
        """``{tag: slope}`` in group order."""
        return {tag: t.slope(window) for tag, t in self._trends.items()}
