"""graph/trend.py: Trend statistics and predicates, TrendGroup queries.

Expected values come from hand-written formulas here (mean-centred least
squares, population variance), not from the implementation.
"""
import math

import numpy as np
import pytest

from flodl_core.graph.trend import Trend, TrendGroup

NAN = float("nan")


def ref_slope(ys):
    """Least-squares slope against x = 0..n-1, mean-centred form."""
    n = len(ys)
    if n < 2:
        return 0.0
    mx = (n - 1) / 2
    my = sum(ys) / n
    num = sum((i - mx) * (y - my) for i, y in enumerate(ys))
    den = sum((i - mx) ** 2 for i in range(n))
    return num / den


def ref_var(ys):
    m = sum(ys) / len(ys)
    return sum((y - m) ** 2 for y in ys) / len(ys)


# ------------------------------------------------------------------ basics
def test_basic_statistics():
    t = Trend([10.0, 8.0, 6.0, 4.0, 2.0])
    assert len(t) == 5 and not t.is_empty() and bool(t)
    assert t.values == [10.0, 8.0, 6.0, 4.0, 2.0]
    assert t.latest() == 2.0
    assert t.mean() == 6.0
    assert t.min() == 2.0 and t.max() == 10.0
    assert list(t) == t.values and t[0] == 10.0 and t[-1] == 2.0


def test_values_is_a_copy_and_input_converted():
    src = [1, 2, np.float32(3.5)]
    t = Trend(src)
    assert t.values == [1.0, 2.0, 3.5] and all(type(v) is float for v in t.values)
    t.values.append(99.0)
    src.append(99)
    assert len(t) == 3


def test_last_window_slices():
    t = Trend([1.0, 2.0, 3.0, 4.0, 5.0])
    assert t.last(3) == [3.0, 4.0, 5.0]
    assert t.last(10) == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert t.last(0) == []
    with pytest.raises(ValueError):
        t.last(-1)


def test_empty_and_single_point_conventions():
    e = Trend()
    assert e.is_empty() and len(e) == 0 and not e
    assert e.latest() == 0.0 and e.mean() == 0.0
    assert e.min() == math.inf and e.max() == -math.inf
    assert e.slope() == 0.0 and not e.improving()
    assert not e.converged(0, 1e9)           # needs >= 2 points
    assert e.stalled(0, 1e-9)                # flodl: no point-count guard
    one = Trend([42.0])
    assert one.latest() == 42.0 and one.slope() == 0.0
    assert not one.converged(0, 1e9) and one.stalled(5, 1e-9) and not one.improving()


# ------------------------------------------------------------------- slope
def test_slope_of_linear_sequences():
    assert Trend([10, 8, 6]).slope() == pytest.approx(-2.0, abs=1e-12)
    assert Trend([10, 8, 6, 4, 2]).slope(0) == pytest.approx(-2.0, abs=1e-12)
    assert Trend([1, 3, 5, 7]).slope() == pytest.approx(2.0, abs=1e-12)
    assert Trend([5, 5, 5, 5]).slope() == 0.0


@pytest.mark.parametrize("ys", [[3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0],
                                [0.5, 0.25], [1e6, 1e6 + 1, 1e6 - 3, 1e6 + 2],
                                list(np.random.default_rng(0).normal(size=37))])
def test_slope_matches_reference_least_squares(ys):
    assert Trend(ys).slope() == pytest.approx(ref_slope(ys), rel=1e-9, abs=1e-9)
    assert Trend(ys).slope() == pytest.approx(np.polyfit(np.arange(len(ys)), ys, 1)[0],
                                              rel=1e-7, abs=1e-9)


def test_slope_window_uses_last_values_only():
    t = Trend([1.0, 5.0, 10.0, 8.0, 6.0])
    assert t.slope() > 0 and t.slope(0) == t.slope(None) == pytest.approx(ref_slope(t.values))
    assert t.slope(3) == pytest.approx(-2.0)
    assert t.slope(2) == pytest.approx(-2.0)
    assert t.slope(1) == 0.0                 # one point in the window
    assert t.slope(50) == t.slope()          # window longer than the series = all
    assert t.improving(3) and not t.improving()


def test_window_validation():
    t = Trend([1.0, 2.0])
    with pytest.raises(ValueError, match="window"):
        t.slope(-1)
    with pytest.raises(TypeError, match="window"):
        t.slope(2.5)
    with pytest.raises(TypeError, match="tol"):
        t.stalled(2, "0.1")


# -------------------------------------------------------------- predicates
def test_improving_is_strictly_negative_slope():
    assert Trend([3.0, 2.0]).improving()
    assert not Trend([2.0, 2.0]).improving()
    assert not Trend([2.0, 3.0]).improving()


def test_stalled_threshold_is_strict():
    t = Trend([0.0, 1.0])                    # slope exactly 1
    assert not t.stalled(0, 1.0)
    assert t.stalled(0, 1.0 + 1e-9)
    assert Trend([10, 8, 6, 4, 2]).stalled(0, 2.0 + 1e-9)
    assert not Trend([10, 8, 6, 4, 2]).stalled(0, 0.1)


def test_stalled_window_boundary():
    t = Trend([10.0, 0.0, 0.0, 0.0])
    assert t.stalled(3, 1e-12)               # last 3 flat
    assert not t.stalled(4, 1.0)             # includes the 10 -> slope -3
    assert t.slope(4) == pytest.approx(ref_slope(t.values))


def test_converged_population_variance_strict():
    ys = [5.0, 5.01, 4.99, 5.0, 5.01]
    var = ref_var(ys)
    t = Trend(ys)
    assert t.converged(0, var * 1.0001)
    assert not t.converged(0, var)           # strict <
    assert t.converged(0, 0.001) and not t.converged(0, 0.00001)


def test_converged_window_boundary():
    t = Trend([100.0, 1.0, 1.001])
    assert t.converged(2, 1e-3)              # var of [1, 1.001] = 2.5e-7
    assert not t.converged(3, 1e-3)
    assert not t.converged(1, 1e9)           # a 1-point window never converges


def test_nan_is_kept_and_poisons_predicates():
    t = Trend([1.0, NAN, 0.0])
    assert math.isnan(t.values[1]) and len(t) == 3
    assert math.isnan(t.mean()) and math.isnan(t.slope())
    assert not t.improving() and not t.stalled(0, 1e9) and not t.converged(0, 1e9)
    assert t.min() == 0.0 and t.max() == 1.0  # NaN skipped, like f64::min/max
    assert math.isnan(Trend([1.0, 2.0, NAN]).latest())
    assert Trend([NAN]).min() == math.inf
    inf = Trend([1.0, math.inf])
    assert inf.max() == math.inf and inf.latest() == math.inf


# -------------------------------------------------------------- TrendGroup
def test_group_all_any_improving():
    g = TrendGroup({"a": Trend([10.0, 8.0, 6.0]), "b": [5.0, 3.0, 1.0]})
    assert g.all_improving() and g.any_improving()
    mixed = TrendGroup({"down": [10.0, 8.0, 6.0], "up": [1.0, 3.0, 5.0]})
    assert not mixed.all_improving(0) and mixed.any_improving(0)


def test_group_slopes_and_mean_slope():
    g = TrendGroup([("a", Trend([10, 8, 6, 4])), ("b", Trend([0, 1, 2, 3]))])
    assert g.slopes() == pytest.approx({"a": -2.0, "b": 1.0})
    assert list(g.slopes()) == ["a", "b"]
    assert g.mean_slope() == pytest.approx(-0.5)
    assert g.slopes(2) == pytest.approx({"a": -2.0, "b": 1.0})


def test_group_stalled_and_converged():
    g = TrendGroup({"flat": [1.0, 1.0, 1.0], "moving": [3.0, 2.0, 1.0]})
    assert g.any_stalled(0, 1e-6) and not g.all_stalled(0, 1e-6)
    assert g.any_converged(0, 1e-6) and not g.all_converged(0, 1e-6)
    assert g.all_stalled(0, 1.5) and g.all_converged(0, 1.0)
    # window boundary: the last two values of both are within 1.0
    assert g.all_converged(2, 0.5) and not g.all_converged(3, 0.5)


def test_group_empty():
    g = TrendGroup()
    assert g.is_empty() and len(g) == 0
    assert not g.all_improving() and not g.any_improving()
    assert not g.all_stalled(0, 1.0) and not g.any_stalled(0, 1.0)
    assert not g.all_converged(0, 1.0) and not g.any_converged(0, 1.0)
    assert g.mean_slope() == 0.0 and g.slopes() == {}


def test_group_iteration_and_indexing():
    a, b = Trend([1.0]), Trend([2.0])
    g = TrendGroup({"a": a, "b": b})
    assert list(g) == ["a", "b"] and g.tags() == ["a", "b"]
    assert g["a"] is a and g[1] is b and g[-1] is b
    assert "a" in g and "zz" not in g
    assert g.trends() == [a, b] and list(g.items()) == [("a", a), ("b", b)]
    with pytest.raises(KeyError, match="zz"):
        g["zz"]
    with pytest.raises(IndexError):
        g[2]
    positional = TrendGroup([a, b])          # flodl's TrendGroup(vec![...]) spelling
    assert positional.tags() == ["0", "1"] and positional[0] is a


def test_group_validation():
    with pytest.raises(ValueError, match="duplicate"):
        TrendGroup([("a", Trend()), ("a", Trend())])
    with pytest.raises(TypeError):
        TrendGroup([42])
    with pytest.raises(TypeError):
        Trend("123")
