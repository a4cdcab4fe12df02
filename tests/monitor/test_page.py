"""The page as text: live vs archive, embedded data, escaping, no external resource."""
import json
import re

import numpy as np
import pytest

from flodl_core.monitor.page import render_page, to_json


def embedded_data(page: str):
    m = re.search(r'<script type="application/json" id="flodl-data">(.*?)</script>', page, re.S)
    assert m, "archive page has no #flodl-data element"
    return json.loads(m.group(1))


# --------------------------------------------------------------------------- to_json
def test_to_json_writes_nan_and_inf_as_null():
    text = to_json({"a": float("nan"), "b": [float("inf"), -float("inf"), 1.5], "c": None})
    assert json.loads(text) == {"a": None, "b": [None, None, 1.5], "c": None}
    assert "NaN" not in text and "Infinity" not in text


def test_to_json_is_safe_inside_a_script_element():
    text = to_json({"name": "</script><script>alert(1)</script>", "amp": "a&b", "cmt": "<!--"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"name": "</script><script>alert(1)</script>", "amp": "a&b",
                                "cmt": "<!--"}


def test_to_json_unwraps_numpy_scalars_and_keeps_order():
    text = to_json({"z": np.float32(0.5), "a": np.int64(3), "m": np.float64("nan"),
                    "t": (1, 2), "ok": np.bool_(True)})
    assert text == '{"z":0.5,"a":3,"m":null,"t":[1,2],"ok":true}'


def test_to_json_names_what_it_cannot_serialise():
    with pytest.raises(TypeError, match=r"to_json: cannot serialise object at \['x'\]\[1\]"):
        to_json({"x": [1, object()]})
    with pytest.raises(TypeError, match="keys must be str"):
        to_json({(1, 2): 3})


# --------------------------------------------------------------------------- pages
def test_live_page_streams_and_carries_no_data():
    page = render_page()
    assert page.startswith("<!DOCTYPE html>")
    assert 'new EventSource("/events")' in page
    assert 'id="flodl-data"' not in page
    assert 'data-mode="live"' in page
    assert "connect-src 'self'" in page


def test_archive_bakes_in_the_snapshot(kit):
    snap = kit.make_snapshot([kit.three_metric_epoch(e) for e in (1, 2)], graph=kit.GRAPH)
    snap["epochs"][0]["metrics"]["loss"] = float("nan")
    page = render_page(snap)
    data = embedded_data(page)
    assert data["epochs"][0]["metrics"] == {"loss": None, "val_loss": 2.25, "accuracy": 0.5}
    assert data["epochs"][1]["metrics"] == {"loss": 1.0, "val_loss": 1.25, "accuracy": 0.75}
    assert data["graph"]["svg"] == kit.GRAPH_SVG
    assert 'data-mode="archive"' in page
    # the archive may not even try to connect anywhere
    assert "connect-src 'none'" in page and "connect-src 'self'" not in page


def test_page_needs_nothing_from_the_network(kit):
    page = render_page(kit.make_snapshot([kit.three_metric_epoch(1)]))
    without_data = re.sub(r'<script type="application/json".*?</script>', "", page, flags=re.S)
    assert not re.search(r"https?://", without_data)
    assert "<link" not in without_data and "@import" not in without_data
    assert not re.search(r"\bsrc\s*=", without_data)
    assert "url(" not in without_data


def test_snapshot_text_is_escaped(kit):
    evil = '</script><img src=x onerror="window.__pwned=1">'
    snap = kit.make_snapshot([kit.epoch_record(1, {evil: 1.0})], label=evil)
    page = render_page(snap)
    assert "<img src=x" not in page
    assert page.count("</script>") == 2          # the data element and the script element
    assert embedded_data(page)["label"] == evil
    assert "&lt;/script&gt;&lt;img src=x" in page          # title and heading, escaped


def test_render_page_rejects_a_non_snapshot():
    with pytest.raises(TypeError, match="render_page: snapshot must be a dict"):
        render_page([1, 2, 3])


def test_page_has_the_panels_tests_and_users_rely_on():
    page = render_page()
    for element_id in ("epoch-counter", "progress-bar", "eta", "elapsed", "status",
                       "metrics-chart", "log-scale", "resources-chart", "resource-bars",
                       "epoch-rows", "graph-card", "graph-svg", "params-total", "hardware"):
        assert f'id="{element_id}"' in page, element_id
    assert "prefers-color-scheme:dark" in page
    assert "devicePixelRatio" in page
