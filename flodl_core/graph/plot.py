"""Offline reports of epoch histories: an HTML chart, a CSV table, a text log.

Each function takes ``histories``, a mapping ``{tag: [value per epoch]}`` (what
:meth:`Observer.histories` returns), and writes one file:

* :func:`plot_html` — one self-contained HTML page: inline CSS, inline SVG
  (rendered here, so the chart shows even with scripts disabled), a small
  inline script for the hover read-out and legend toggles, a log-scale
  switch. No network, CDN or package is needed to open it.
* :func:`export_trends` — CSV ``epoch,<tag1>,<tag2>,...``, one row per epoch,
  an empty cell where a tag has no value for that epoch.
* :func:`write_log` — one readable line per epoch with every tag (and, given
  flush times, the epoch duration and an ETA).

Epochs are numbered from 1, as in flodl. Series keep the mapping's order.
NaN/Inf are written as ``nan``/``inf`` in the CSV and the log; the chart
leaves a gap and puts a red mark at the top of the plot for them. ``tags``
picks and orders a subset; an unknown tag or a tag with no values raises
GraphError (a ValueError) naming it. Files are written to a temporary file
in the target directory and moved into place with ``os.replace``; a failed
write raises OSError carrying the target path.
"""
from __future__ import annotations

import csv
import html
import io
import json
import math
import numbers
import os
from collections.abc import Iterable, Mapping

from ..atomic_file import write_text_atomically
from ..errors import GraphError

__all__ = ["plot_html", "export_trends", "write_log", "format_metric", "format_duration"]

_COLORS = ["#e6194b", "#3478c6", "#2ca02c", "#f08c00", "#8e44ad", "#17a2b8",
           "#d6336c", "#5f6b7a", "#b08900", "#1b998b", "#c0392b", "#6a4c93"]


# --------------------------------------------------------------------------- helpers
def _series(fn: str, histories, tags) -> list:
    """[(tag, [float, ...]), ...] validated; raises GraphError naming a bad tag."""
    if not isinstance(histories, Mapping):
        raise TypeError(f"{fn}: histories must be a mapping of tag -> list of floats, "
                        f"got {type(histories).__name__}")
    if tags is None:
        keys = list(histories)
    elif isinstance(tags, str):
        keys = [tags]
    elif isinstance(tags, Iterable):
        keys = list(dict.fromkeys(tags))
    else:
        raise TypeError(f"{fn}: tags must be a str, an iterable of str or None, "
                        f"got {type(tags).__name__}")
    if not keys:
        raise GraphError(f"{fn}: nothing to write: no tags given and no histories "
                         f"(record and flush at least one epoch first)")
    out = []
    for tag in keys:
        if not isinstance(tag, str) or not tag:
            raise GraphError(f"{fn}: tags must be non-empty strings, got {tag!r}")
        if tag not in histories:
            raise GraphError(f"{fn}: unknown tag {tag!r} (known tags: {list(histories)})")
        raw = histories[tag]
        if isinstance(raw, (str, bytes)) or not isinstance(raw, Iterable):
            raise TypeError(f"{fn}: tag {tag!r}: expected a list of numbers, "
                            f"got {type(raw).__name__}")
        vals = []
        for v in raw:
            if isinstance(v, (str, bytes)) or v is None:
                raise TypeError(f"{fn}: tag {tag!r}: values must be numbers, got {v!r}")
            try:
                vals.append(float(v))
            except (TypeError, ValueError) as e:
                raise TypeError(f"{fn}: tag {tag!r}: values must be numbers, "
                                f"got {type(v).__name__} {v!r}") from e
        if not vals:
            raise GraphError(f"{fn}: tag {tag!r} has no values "
                             f"(flush at least one epoch first)")
        out.append((tag, vals))
    return out


def _write_atomic(fn: str, path, text: str) -> None:
    """Write ``text`` to ``path`` atomically; an OSError names ``fn`` and the path."""
    path = os.fsdecode(os.fspath(path))
    try:
        write_text_atomically(path, text)
    except OSError as e:
        raise _write_error(fn, path, e) from e


def _write_error(fn: str, path: str, e: OSError) -> OSError:
    if e.errno is None:
        return OSError(f"{fn}: cannot write {path!r}: {e}")
    # OSError(errno, ...) builds the matching subclass (FileNotFoundError, ...)
    return OSError(e.errno, f"{fn}: cannot write file ({e.strerror})", path)


def format_metric(v: float) -> str:
    """Compact metric text: ``0``, ``1.23e-05``, ``0.4321``, ``123.46``, ``nan``, ``inf``."""
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    a = abs(v)
    if a == 0.0:
        return "0"
    if a < 1e-3:
        return f"{v:.2e}"
    if a < 100.0:
        return f"{v:.4f}"
    return f"{v:.2f}"


def format_duration(secs: float) -> str:
    """``42ms`` under a second, ``1.2s`` under a minute, ``2m05s`` under an hour,
    else ``2h03m`` (seconds dropped: at that scale they are noise)."""
    if not math.isfinite(secs):
        return "?"
    if secs < 1.0:
        return f"{int(secs * 1000)}ms"
    if secs < 60.0:
        return f"{secs:.1f}s"
    if secs < 3600.0:
        return f"{int(secs // 60)}m{int(secs) % 60:02d}s"
    return f"{int(secs // 3600)}h{int(secs) % 3600 // 60:02d}m"


# --------------------------------------------------------------------------- CSV
def export_trends(path, histories: Mapping, *, tags=None) -> None:
    """Write ``histories`` as CSV: ``epoch,<tag>,...``, one row per epoch from 1.

    Values are written with ``repr`` (exact round trip, ``nan``/``inf`` for
    non-finite values); a tag shorter than the longest series has empty cells.
    """
    series = _series("export_trends", histories, tags)
    n = max(len(v) for _, v in series)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["epoch"] + [t for t, _ in series])
    for i in range(n):
        w.writerow([i + 1] + [repr(v[i]) if i < len(v) else "" for _, v in series])
    _write_atomic("export_trends", path, buf.getvalue())


# --------------------------------------------------------------------------- log
def write_log(path, histories: Mapping, *, tags=None, total_epochs: int = 0,
              epoch_times=None) -> None:
    """Write a readable log, one line per epoch::

        # flodl training log
        epoch   1  loss=0.6931  acc=0.5000  [1.2s  ETA 10.8s]

    ``epoch_times`` are the cumulative seconds at each epoch's end (an
    Observer's ``flush_times``); with them each line shows the epoch's
    duration, and with ``total_epochs > 0`` an ETA at the pace of the last
    (up to) five epochs.
    """
    fn = "write_log"
    series = _series(fn, histories, tags)
    if isinstance(total_epochs, bool) or not isinstance(total_epochs, numbers.Integral) \
            or total_epochs < 0:
        raise ValueError(f"{fn}: total_epochs must be a non-negative int, got {total_epochs!r}")
    times = []
    if epoch_times is not None:
        if isinstance(epoch_times, (str, bytes)) or not isinstance(epoch_times, Iterable):
            raise TypeError(f"{fn}: epoch_times must be a list of seconds, "
                            f"got {type(epoch_times).__name__}")
        times = [float(t) for t in epoch_times]
    durations = [times[0] if j == 0 else times[j] - times[j - 1] for j in range(len(times))]

    n = max(len(v) for _, v in series)
    lines = ["# flodl training log"]
    for i in range(n):
        parts = [f"epoch {i + 1:3d}"]
        for tag, vals in series:
            if i < len(vals):
                parts.append(f"{tag}={format_metric(vals[i])}")
        line = "  ".join(parts)
        if i < len(durations) and durations[i] > 0.0:
            line += f"  [{format_duration(durations[i])}"
            if total_epochs > 0 and i + 1 < total_epochs:
                recent = [d for d in durations[max(0, i - 4):i + 1] if d > 0.0]
                if recent:
                    remaining = sum(recent) / len(recent) * (total_epochs - i - 1)
                    if remaining > 0.0:
                        line += f"  ETA {format_duration(remaining)}"
            line += "]"
        lines.append(line)
    _write_atomic(fn, path, "\n".join(lines) + "\n")


# --------------------------------------------------------------------------- HTML
_W, _H = 960, 440
_ML, _MR, _MT, _MB = 78, 24, 18, 52
_PW, _PH = _W - _ML - _MR, _H - _MT - _MB


def _nice_step(span: float, target: int) -> float:
    raw = span / max(target, 1)
    if raw <= 0 or not math.isfinite(raw):
        return 1.0
    mag = 10.0 ** math.floor(math.log10(raw))
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        if raw <= m * mag:
            return m * mag
    return 10.0 * mag


def _ticks(lo: float, hi: float, target: int = 6) -> list:
    step = _nice_step(hi - lo, target)
    start = math.ceil(lo / step - 1e-9) * step
    out = []
    k = 0
    while True:
        t = start + k * step
        if t > hi + step * 1e-9 or k > 100:
            break
        out.append(0.0 if abs(t) < step * 1e-9 else t)
        k += 1
    return out


def _fmt_tick(v: float) -> str:
    a = abs(v)
    if a != 0.0 and (a < 1e-3 or a >= 1e5):
        return f"{v:.2g}"
    return f"{v:.6g}"


def _x_pos(i: int, n: int) -> float:
    return _ML + (_PW / 2.0 if n <= 1 else i * _PW / (n - 1))


def _panel(series: list, n: int, log: bool, ylabel: str) -> str:
    """One SVG chart (linear or log y) as a string."""
    drawable = (lambda v: math.isfinite(v) and v > 0.0) if log else math.isfinite
    ys = [(math.log10(v) if log else v) for _, vals in series for v in vals if drawable(v)]
    cls = "log" if log else "lin"
    parts = [f'<svg class="chart {cls}" viewBox="0 0 {_W} {_H}" role="img" '
             f'aria-label="{"log" if log else "linear"} scale chart">']
    parts.append(f'<rect class="plotbg" x="{_ML}" y="{_MT}" width="{_PW}" height="{_PH}"/>')
    if ys:
        lo, hi = min(ys), max(ys)
        if hi == lo:
            pad = 0.5 if log else (abs(lo) * 0.1 or 1.0)
        else:
            pad = (hi - lo) * 0.05
        lo, hi = lo - pad, hi + pad
    else:
        lo, hi = 0.0, 1.0

    def y_pos(v: float) -> float:
        return _MT + _PH - (v - lo) / (hi - lo) * _PH

    # y grid and tick labels
    if log:
        decades = range(math.floor(lo), math.ceil(hi) + 1)
        mult = (1.0,) if len(decades) > 4 else (1.0, 2.0, 5.0)
        ticks = [t for k in decades for t in (k + math.log10(m) for m in mult) if lo <= t <= hi]
        if len(ticks) < 2:
            ticks = _ticks(lo, hi)
        labels = [_fmt_tick(10.0 ** t) for t in ticks]
    else:
        ticks = _ticks(lo, hi)
        labels = [_fmt_tick(t) for t in ticks]
    for t, lab in zip(ticks, labels):
        y = y_pos(t)
        parts.append(f'<line class="grid" x1="{_ML}" y1="{y:.2f}" x2="{_ML + _PW}" y2="{y:.2f}"/>')
        parts.append(f'<text class="tick" x="{_ML - 8}" y="{y + 4:.2f}" '
                     f'text-anchor="end">{html.escape(lab)}</text>')
    # x grid and tick labels (epochs from 1)
    xstep = int(_nice_step(max(n - 1, 1), 10)) or 1
    xticks = sorted({1, *range(xstep, n + 1, xstep)}) if n > 1 else [1]
    for e in xticks:
        x = _x_pos(e - 1, n)
        parts.append(f'<line class="grid" x1="{x:.2f}" y1="{_MT}" x2="{x:.2f}" y2="{_MT + _PH}"/>')
        parts.append(f'<text class="tick" x="{x:.2f}" y="{_MT + _PH + 18}" '
                     f'text-anchor="middle">{e}</text>')
    # axes and axis labels
    parts.append(f'<line class="axis" x1="{_ML}" y1="{_MT + _PH}" x2="{_ML + _PW}" '
                 f'y2="{_MT + _PH}"/>')
    parts.append(f'<line class="axis" x1="{_ML}" y1="{_MT}" x2="{_ML}" y2="{_MT + _PH}"/>')
    parts.append(f'<text class="axlabel" x="{_ML + _PW / 2:.1f}" y="{_H - 10}" '
                 f'text-anchor="middle">Epoch</text>')
    ytext = html.escape(ylabel + (" (log scale)" if log else ""))
    parts.append(f'<text class="axlabel" transform="translate(18 {_MT + _PH / 2:.1f}) '
                 f'rotate(-90)" text-anchor="middle">{ytext}</text>')
    if not ys:
        msg = "no positive finite values: log scale unavailable" if log \
            else "no finite values to draw"
        parts.append(f'<text class="note" x="{_ML + _PW / 2:.1f}" y="{_MT + _PH / 2:.1f}" '
                     f'text-anchor="middle">{msg}</text>')
    # series
    dots = n <= 200
    for si, (tag, vals) in enumerate(series):
        color = _COLORS[si % len(_COLORS)]
        etag = html.escape(tag)
        parts.append(f'<g class="series" data-series="{si}" stroke="{color}" fill="{color}">')
        d, pen_down = [], False
        for i, v in enumerate(vals):
            if drawable(v):
                x, y = _x_pos(i, n), y_pos(math.log10(v) if log else v)
                d.append(f'{"L" if pen_down else "M"}{x:.2f},{y:.2f}')
                pen_down = True
            else:
                pen_down = False
        if d:
            parts.append(f'<path class="line" d="{" ".join(d)}"/>')
        for i, v in enumerate(vals):
            x = _x_pos(i, n)
            if drawable(v):
                if dots:
                    y = y_pos(math.log10(v) if log else v)
                    parts.append(f'<circle cx="{x:.2f}" cy="{y:.2f}" r="3">'
                                 f'<title>{etag} - epoch {i + 1}: {format_metric(v)}</title>'
                                 f'</circle>')
            elif not math.isfinite(v):
                parts.append(f'<text class="bad" x="{x:.2f}" y="{_MT + 12}" '
                             f'text-anchor="middle">&#215;<title>{etag} - epoch {i + 1}: '
                             f'{format_metric(v)}</title></text>')
        parts.append("</g>")
    parts.append(f'<line class="guide" x1="0" y1="{_MT}" x2="0" y2="{_MT + _PH}"/>')
    parts.append("</svg>")
    return "\n".join(parts)


_CSS = """
*{box-sizing:border-box}
body{margin:0;padding:24px;background:#f4f5f8;color:#223;font:14px/1.4 system-ui,Helvetica,Arial,sans-serif}
.card{max-width:1000px;margin:0 auto;background:#fff;border-radius:10px;padding:20px 24px;box-shadow:0 2px 10px rgba(0,0,0,.08)}
h1{font-size:18px;margin:0 0 12px}
#logy,label[for=logy]{margin-bottom:8px;font-size:13px;color:#445}
.charts{position:relative}
svg.chart{width:100%;height:auto;display:block}
#logy:checked ~ .charts svg.lin{display:none}
#logy:not(:checked) ~ .charts svg.log{display:none}
.plotbg{fill:#fcfcfd;stroke:none}
.grid{stroke:#e6e8ee;stroke-width:1}
.axis{stroke:#889;stroke-width:1}
.tick{fill:#667;font-size:11px}
.axlabel{fill:#445;font-size:12px}
.note{fill:#999;font-size:13px}
.line{fill:none;stroke-width:2}
.series circle{stroke:none}
.series .bad{fill:#d00;stroke:none;font-size:14px;font-weight:bold}
.series.off{display:none}
.guide{stroke:#99a;stroke-dasharray:3 3;visibility:hidden}
.legend{display:flex;flex-wrap:wrap;gap:6px 16px;margin-top:10px;font-size:13px}
.legend button{all:unset;cursor:pointer;display:flex;align-items:center;gap:6px}
.legend button.off{opacity:.35;text-decoration:line-through}
.swatch{width:12px;height:12px;border-radius:2px;display:inline-block}
#readout{min-height:1.4em;margin-top:8px;font-size:12px;color:#334;font-variant-numeric:tabular-nums}
#readout b{font-weight:600}
.hint{color:#889;font-size:12px}
"""

_JS = """
(function(){
  var D = JSON.parse(document.getElementById("plot-data").textContent);
  var W = %(W)d, L = %(L)d, PW = %(PW)d;
  var n = 0;
  D.values.forEach(function(v){ n = Math.max(n, v.length); });
  function fmt(v){
    if (typeof v === "string") return v;
    var a = Math.abs(v);
    if (a === 0) return "0";
    if (a < 1e-3) return v.toExponential(2);
    if (a < 100) return v.toFixed(4);
    return v.toFixed(2);
  }
  function xOf(i){ return n <= 1 ? L + PW / 2 : L + i * PW / (n - 1); }
  var readout = document.getElementById("readout");
  var charts = document.querySelectorAll("svg.chart");
  charts.forEach(function(svg){
    var guide = svg.querySelector(".guide");
    svg.addEventListener("mousemove", function(ev){
      var r = svg.getBoundingClientRect();
      if (!r.width) return;
      var x = (ev.clientX - r.left) * W / r.width;
      var i = n <= 1 ? 0 : Math.round((x - L) * (n - 1) / PW);
      i = Math.max(0, Math.min(n - 1, i));
      guide.setAttribute("x1", xOf(i)); guide.setAttribute("x2", xOf(i));
      guide.style.visibility = "visible";
      var parts = ["<b>epoch " + (i + 1) + "</b>"];
      D.tags.forEach(function(t, s){
        if (i < D.values[s].length) {
          var sp = document.createElement("span");
          sp.textContent = t + " = " + fmt(D.values[s][i]);
          sp.style.color = D.colors[s];
          parts.push(sp.outerHTML);
        }
      });
      readout.innerHTML = parts.join(" &nbsp; ");
    });
    svg.addEventListener("mouseleave", function(){ guide.style.visibility = "hidden"; });
  });
  document.querySelectorAll(".legend button").forEach(function(b){
    b.addEventListener("click", function(){
      var s = b.getAttribute("data-series");
      var off = b.classList.toggle("off");
      document.querySelectorAll('.series[data-series="' + s + '"]').forEach(function(g){
        g.classList.toggle("off", off);
      });
    });
  });
})();
"""


def _json_value(v: float):
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return v


def plot_html(path, histories: Mapping, title: str = "Training Curves", *, tags=None,
              ylabel: str = "value", log_y: bool = False) -> None:
    """Write one self-contained HTML file charting ``histories`` over epochs.

    One line per tag with a legend (click to hide/show a tag), axis labels,
    a log-scale switch for the y axis (``log_y`` sets its initial state) and
    an epoch read-out under the mouse. Works offline: no external resource.
    """
    fn = "plot_html"
    series = _series(fn, histories, tags)
    if not isinstance(title, str) or not isinstance(ylabel, str):
        raise TypeError(f"{fn}: title and ylabel must be str")
    n = max(len(v) for _, v in series)
    colors = [_COLORS[i % len(_COLORS)] for i in range(len(series))]
    data = {"tags": [t for t, _ in series],
            "values": [[_json_value(v) for v in vals] for _, vals in series],
            "colors": colors}
    # Safe inside <script>: no "<", ">" or "&" survive as raw characters.
    data_json = (json.dumps(data, allow_nan=False).replace("<", "\\u003c")
                 .replace(">", "\\u003e").replace("&", "\\u0026"))
    legend = "\n".join(
        f'<button type="button" data-series="{i}"><span class="swatch" '
        f'style="background:{colors[i]}"></span>{html.escape(tag)}</button>'
        for i, (tag, _) in enumerate(series))
    has_bad = any(not math.isfinite(v) for _, vals in series for v in vals)
    hint = ("Hover for values; click a legend entry to hide it."
            + (" A red &#215; marks a NaN/Inf epoch." if has_bad else ""))
    etitle = html.escape(title)
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{etitle}</title>
<style>{_CSS}</style>
</head>
<body>
<div class="card">
<h1>{etitle}</h1>
<input type="checkbox" id="logy"{" checked" if log_y else ""}>
<label for="logy">log scale (y)</label>
<span class="hint">{n} epoch{"s" if n != 1 else ""}, {len(series)} tag{"s" if len(series) != 1 else ""}.
{hint}</span>
<div class="charts">
{_panel(series, n, False, ylabel)}
{_panel(series, n, True, ylabel)}
</div>
<div class="legend">
{legend}
</div>
<div id="readout"></div>
</div>
<script type="application/json" id="plot-data">{data_json}</script>
<script>{_JS % {"W": _W, "L": _ML, "PW": _PW}}</script>
</body>
</html>
"""
    _write_atomic(fn, path, page)
