"""The dashboard page: one self-contained HTML document, live or archived.

:func:`render_page` builds the whole page: markup, inline CSS and inline
script (see ``_page_assets``). Nothing is fetched from elsewhere — no CDN, no
web font, no package — so the same document works from the monitor's server
and from a file on a machine with no network.

* ``render_page()`` is the **live** page. Its script opens
  ``EventSource("/events")``; the server answers with a ``snapshot`` event
  (every past epoch, so a page opened mid-run back-fills at once) followed by
  ``epoch``, ``graph`` and ``complete`` events as training goes.
* ``render_page(snapshot)`` is the **archive**: the same page with the
  snapshot baked in as JSON inside ``<script type="application/json"
  id="flodl-data">``. It opens no connection and requests nothing; a
  Content-Security-Policy meta tag with ``connect-src 'none'`` makes that a
  guarantee rather than a promise.

:func:`to_json` is the one serialiser for snapshots and events. JSON has no
NaN or Infinity, so non-finite floats become ``null`` (the page shows
``nan`` and leaves a gap in the chart), and ``<``, ``>``, ``&`` are written
as ``\\u003c``-style escapes so the text can sit inside a ``<script>`` element
without a ``</script>`` in a metric name ending it early.

Example::

    from flodl_core.monitor.page import render_page
    html = render_page(monitor.snapshot())        # an offline report
"""
from __future__ import annotations

import html
import json
import math
import numbers
from collections.abc import Mapping

from ._page_assets import CSS, JS

__all__ = ["render_page", "to_json", "CONTENT_SECURITY_POLICY"]

# What the page may load: its own inline script and style, data: images, and
# (live page only) its own server for the event stream. The server sends this
# as a header; the page repeats it in a meta tag so a saved copy keeps it.
CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'unsafe-inline'; "
                           "style-src 'unsafe-inline'; img-src data:; connect-src 'self'; "
                           "base-uri 'none'; form-action 'none'")
_ARCHIVE_POLICY = CONTENT_SECURITY_POLICY.replace("connect-src 'self'", "connect-src 'none'")


# --------------------------------------------------------------------------- JSON
def _plain(obj, path: str):
    """``obj`` as plain JSON values: non-finite floats -> None, NumPy scalars unwrapped."""
    if obj is None or isinstance(obj, (str, bool)):
        return obj
    if isinstance(obj, numbers.Integral):
        return int(obj)
    if isinstance(obj, numbers.Real):
        f = float(obj)
        return f if math.isfinite(f) else None
    if isinstance(obj, Mapping):
        out = {}
        for k, v in obj.items():
            if isinstance(k, bool) or not isinstance(k, (str, int)):
                raise TypeError(f"to_json: keys must be str, got {type(k).__name__} {k!r} "
                                f"at {path or 'top level'}")
            out[str(k)] = _plain(v, f"{path}[{k!r}]")
        return out
    if isinstance(obj, (list, tuple)):
        return [_plain(v, f"{path}[{i}]") for i, v in enumerate(obj)]
    # NumPy scalars (float32, bool_, ...) without importing NumPy here
    if type(obj).__module__ == "numpy" and hasattr(obj, "item") and getattr(obj, "ndim", 1) == 0:
        return _plain(obj.item(), path)
    raise TypeError(f"to_json: cannot serialise {type(obj).__name__} at "
                    f"{path or 'top level'} (expected dict, list, str, number, bool or None)")


def to_json(obj) -> str:
    """Compact JSON of ``obj`` with NaN/Inf as ``null``, safe inside ``<script>``.

    >>> to_json({"loss": float("nan"), "name": "</script>"})
    '{"loss":null,"name":"\\\\u003c/script\\\\u003e"}'
    """
    text = json.dumps(_plain(obj, ""), allow_nan=False, separators=(",", ":"))
    # "<", ">" and "&" only occur inside JSON strings, where \\uXXXX means the same
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


# --------------------------------------------------------------------------- page
_BODY = """\
<header class="top">
  <div class="top-inner">
    <div class="title-row">
      <span class="brand">flodl</span>
      <h1 id="label">{label}</h1>
      <span id="status" class="status {status}">{status}</span>
      <span id="mode" class="mode"></span>
    </div>
    <div class="stats">
      <div class="stat"><span class="k">Epoch</span><span class="v" id="epoch-counter">0/0</span></div>
      <div class="stat"><span class="k">Elapsed</span><span class="v" id="elapsed">&#8212;</span></div>
      <div class="stat"><span class="k">ETA</span><span class="v" id="eta">&#8212;</span></div>
      <div class="stat"><span class="k">Last epoch</span><span class="v" id="last-duration">&#8212;</span></div>
    </div>
  </div>
  <div class="progress" id="progress" role="progressbar" aria-valuemin="0" aria-valuemax="100"
       aria-valuenow="0"><div id="progress-bar"></div></div>
</header>
<noscript><div class="wrap"><p>This dashboard draws its panels with JavaScript; please enable it.</p></div></noscript>
<div class="wrap">
<main class="grid">
  <section class="card" id="metrics-card">
    <div class="card-head">
      <h2>Metrics</h2><span class="spacer"></span>
      <label class="switch" id="log-switch"><input type="checkbox" id="log-scale"> log scale</label>
    </div>
    <div class="legend" id="metrics-legend"></div>
    <div class="chart-box">
      <canvas id="metrics-chart" aria-label="metrics over epochs" role="img"></canvas>
      <div class="tip" id="metrics-tip" hidden></div>
    </div>
  </section>
  <section class="card half" id="resources-card" hidden>
    <div class="card-head"><h2>Resources</h2></div>
    <div id="resources-chart-box">
      <div class="legend" id="resources-legend"></div>
      <div class="chart-box">
        <canvas id="resources-chart" aria-label="resource use over epochs" role="img"></canvas>
        <div class="tip" id="resources-tip" hidden></div>
      </div>
    </div>
    <div class="bars" id="resource-bars"></div>
  </section>
  <section class="card side" id="hardware-card">
    <div class="card-head"><h2>Hardware</h2></div>
    <dl class="hw" id="hardware"></dl>
  </section>
  <section class="card" id="graph-card" hidden>
    <details id="graph-details">
      <summary><h2 id="graph-title">Model graph</h2><span class="graph-meta" id="graph-meta"></span></summary>
      <div class="chips">
        <div class="chip"><span class="k">total</span><span class="v" id="params-total"></span></div>
        <div class="chip"><span class="k">trainable</span><span class="v" id="params-trainable"></span></div>
        <div class="chip"><span class="k">frozen</span><span class="v" id="params-frozen"></span></div>
        <div class="chip"><span class="k">hash</span><code class="v" id="graph-hash"></code></div>
        <a class="chip graph-link" id="graph-link" href="/graph.svg" target="_blank" hidden>open SVG</a>
      </div>
      <div id="graph-svg"></div>
    </details>
  </section>
  <section class="card" id="log-card">
    <div class="card-head"><h2>Epoch log</h2><span class="spacer"></span>
      <span class="graph-meta" id="epoch-count"></span></div>
    <div class="table-wrap">
      <table id="epoch-table">
        <thead id="epoch-head"></thead>
        <tbody id="epoch-rows"></tbody>
      </table>
      <p class="empty" id="epoch-empty">No epoch logged yet.</p>
    </div>
  </section>
</main>
</div>
<footer>flodl_core training monitor</footer>
"""


def render_page(snapshot: Mapping | None = None) -> str:
    """The dashboard as one HTML document.

    Args:
        snapshot: ``None`` for the live page (it streams from the server's
            ``/events``), or a monitor snapshot to bake in for an offline
            archive that makes no network request.

    Returns:
        The complete HTML text (UTF-8 when written out).
    """
    if snapshot is not None and not isinstance(snapshot, Mapping):
        raise TypeError(f"render_page: snapshot must be a dict (a monitor snapshot) or None, "
                        f"got {type(snapshot).__name__}")
    live = snapshot is None
    label, status = "training", "connecting"
    if not live:
        if isinstance(snapshot.get("label"), str):
            label = snapshot["label"]
        status = "complete" if snapshot.get("status") == "complete" else "running"
    data = "" if live else (f'<script type="application/json" id="flodl-data">'
                            f'{to_json(snapshot)}</script>\n')
    policy = CONTENT_SECURITY_POLICY if live else _ARCHIVE_POLICY
    body = _BODY.format(label=html.escape(label), status=status)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{policy}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="color-scheme" content="light dark">\n'
        f"<title>{html.escape(label)} \u00b7 flodl monitor</title>\n"
        f"<style>{CSS}</style>\n</head>\n"
        f'<body data-mode="{"live" if live else "archive"}">\n'
        f"{body}{data}<script>{JS}</script>\n</body>\n</html>\n"
    )
