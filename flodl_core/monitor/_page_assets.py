"""The stylesheet and script of the dashboard page, kept apart from the page
template so each can be read on its own.

Both are inlined into every page (live or archive): the page must open from a
``file://`` URL on a machine with no network, so nothing may be fetched.

The script has no dependency and follows one flow:

* **state** — one object holding the snapshot fields, with the epoch records
  kept in a map keyed by epoch number (an epoch that arrives twice replaces
  itself, which makes the server's late-join guarantee cheap: duplicates are
  harmless).
* **sources** — live mode opens ``EventSource("/events")`` and feeds the state
  from its ``snapshot``/``epoch``/``graph``/``complete`` events; archive mode
  reads the JSON baked into ``#flodl-data`` once. Either way ``render()`` runs.
* **render** — writes every panel from the state. Text from the snapshot only
  ever goes through ``textContent`` (never ``innerHTML``); the graph SVG is
  parsed, stripped of anything active and adopted into its own container.
* **charts** — a small canvas line chart: HiDPI backing store, nice ticks,
  linear/log axis, gaps at missing values, hover read-out of the nearest
  epoch. After each data redraw the canvas gets ``data-drawn`` (painted
  pixels) and ``data-plotted`` (pixels the series lines changed), so a
  headless browser can tell that a chart was really drawn.

Numbers are formatted like the Python side (``format_metric``: ``0``,
``1.23e-05``, ``0.4321``, ``123.46``, ``nan``; durations ``42ms``, ``1.2s``,
``1m05s``, ``2h03m``), including Python's round-half-to-even on exact ties.
"""

CSS = r"""
:root{
  color-scheme:light dark;
  --bg:#f5f6f8; --card:#ffffff; --border:#e3e6ea; --text:#1c2330; --muted:#667085;
  --faint:#98a2b3; --grid:#eceef2; --axis:#c5cad3; --accent:#2f6fed; --accent2:#7c4dff;
  --ok:#12a150; --warn:#d97706; --bad:#d92d20; --row-hover:#f3f6fb; --track:#e9ecf1;
  --shadow:0 1px 2px rgba(16,24,40,.05),0 1px 3px rgba(16,24,40,.06);
  --mono:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;
}
@media (prefers-color-scheme:dark){
  :root{
    --bg:#0e1116; --card:#161b22; --border:#272e38; --text:#e6e9ef; --muted:#9aa4b2;
    --faint:#6b7482; --grid:#222933; --axis:#3a4350; --accent:#5b8ef5; --accent2:#a18bff;
    --ok:#3fb950; --warn:#e3a008; --bad:#f85149; --row-hover:#1c232d; --track:#262d37;
    --shadow:0 1px 2px rgba(0,0,0,.4);
  }
}
*{box-sizing:border-box}
html,body{margin:0}
body{background:var(--bg);color:var(--text);
  font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
  -webkit-font-smoothing:antialiased}
.wrap{max-width:1280px;margin:0 auto;padding:0 20px 28px}

/* ---- header */
header.top{position:sticky;top:0;z-index:5;background:var(--card);
  border-bottom:1px solid var(--border);box-shadow:var(--shadow);margin-bottom:20px}
.top-inner{max-width:1280px;margin:0 auto;padding:14px 20px 0}
.title-row{display:flex;align-items:center;gap:12px;flex-wrap:wrap}
.brand{font-weight:700;letter-spacing:.02em;color:var(--accent);font-size:13px;
  text-transform:uppercase;padding:3px 8px;border:1px solid var(--border);border-radius:6px}
h1{font-size:20px;font-weight:650;margin:0;overflow-wrap:anywhere}
.status{display:inline-flex;align-items:center;gap:6px;font-size:12px;font-weight:600;
  padding:3px 10px;border-radius:999px;background:var(--track);color:var(--muted)}
.status::before{content:"";width:8px;height:8px;border-radius:50%;background:currentColor}
.status.running{color:var(--accent);background:color-mix(in srgb,var(--accent) 14%,transparent)}
.status.running::before{animation:pulse 1.6s ease-in-out infinite}
.status.complete{color:var(--ok);background:color-mix(in srgb,var(--ok) 14%,transparent)}
.status.disconnected{color:var(--bad);background:color-mix(in srgb,var(--bad) 14%,transparent)}
@keyframes pulse{50%{opacity:.25}}
.mode{margin-left:auto;font-size:12px;color:var(--faint)}
.stats{display:flex;flex-wrap:wrap;gap:8px 36px;margin:12px 0 10px}
.stat .k{display:block;font-size:11px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted)}
.stat .v{font-size:20px;font-weight:600;font-variant-numeric:tabular-nums}
.progress{height:4px;background:var(--track)}
.progress>div{height:100%;width:0;background:linear-gradient(90deg,var(--accent),var(--accent2));
  transition:width .4s ease}

/* ---- cards */
.grid{display:grid;grid-template-columns:repeat(12,minmax(0,1fr));gap:18px}
.card{grid-column:span 12;background:var(--card);border:1px solid var(--border);
  border-radius:12px;box-shadow:var(--shadow);padding:16px 18px;min-width:0}
.card.half{grid-column:span 8}
.card.side{grid-column:span 4}
@media (max-width:900px){.card.half,.card.side{grid-column:span 12}}
.card[hidden]{display:none}
.card-head{display:flex;align-items:center;gap:12px;flex-wrap:wrap;margin-bottom:10px}
h2{font-size:13px;font-weight:650;margin:0;text-transform:uppercase;letter-spacing:.06em;
  color:var(--muted)}
.spacer{flex:1}
.switch{display:inline-flex;align-items:center;gap:6px;font-size:12px;color:var(--muted);
  cursor:pointer;user-select:none}
.switch input{accent-color:var(--accent);margin:0}
.switch.disabled{opacity:.45;cursor:not-allowed}

/* ---- charts */
.legend{display:flex;flex-wrap:wrap;gap:6px;margin-bottom:8px}
.legend button{font:inherit;font-size:12px;color:var(--text);background:transparent;
  border:1px solid var(--border);border-radius:999px;padding:3px 10px;cursor:pointer;
  display:inline-flex;align-items:center;gap:7px}
.legend button:hover{background:var(--row-hover)}
.legend button.off{opacity:.4}
.legend button.off .name{text-decoration:line-through}
.legend button.na{opacity:.55;border-style:dashed}
.legend .swatch{width:10px;height:10px;border-radius:3px;flex:none}
.legend .val{color:var(--muted);font-family:var(--mono);font-size:11px}
.chart-box{position:relative}
canvas{display:block;width:100%;height:320px}
#resources-chart{height:210px}
.tip{position:absolute;pointer-events:none;background:var(--card);color:var(--text);
  border:1px solid var(--border);border-radius:8px;box-shadow:0 4px 16px rgba(0,0,0,.14);
  padding:7px 10px;font-size:12px;white-space:nowrap;z-index:3}
.tip .t{font-weight:650;margin-bottom:3px}
.tip .r{display:flex;align-items:center;gap:7px}
.tip .r span.v{margin-left:auto;padding-left:14px;font-family:var(--mono)}
.tip .swatch{width:8px;height:8px;border-radius:2px}
.note{color:var(--faint);font-size:12px;margin-top:6px}

/* ---- resource bars */
.bars{margin-top:14px;display:grid;gap:10px}
.bar .lbl{display:flex;justify-content:space-between;font-size:12px;margin-bottom:4px}
.bar .lbl b{font-weight:600}
.bar .lbl span{color:var(--muted);font-variant-numeric:tabular-nums}
.bar .track{height:8px;border-radius:999px;background:var(--track);overflow:hidden}
.bar .fill{height:100%;border-radius:999px;background:var(--accent)}
.bar .fill.warm{background:var(--warn)}
.bar .fill.hot{background:var(--bad)}

/* ---- hardware */
dl.hw{display:grid;grid-template-columns:max-content 1fr;gap:7px 14px;margin:0;font-size:13px}
dl.hw dt{color:var(--muted)}
dl.hw dd{margin:0;overflow-wrap:anywhere}

/* ---- graph */
details summary{cursor:pointer;list-style:none;display:flex;align-items:center;gap:10px}
details summary::-webkit-details-marker{display:none}
details summary::before{content:"\25B8";color:var(--muted);transition:transform .15s}
details[open] summary::before{transform:rotate(90deg)}
.graph-meta{color:var(--muted);font-size:12px}
.chips{display:flex;flex-wrap:wrap;gap:8px;margin:12px 0}
.chip{border:1px solid var(--border);border-radius:8px;padding:6px 10px;font-size:12px;
  max-width:100%;overflow-wrap:anywhere}
.chip .k{color:var(--muted);margin-right:6px}
.chip .v{font-weight:600;font-variant-numeric:tabular-nums}
.chip code{font-family:var(--mono)}
#graph-svg{overflow:auto;text-align:center;max-height:80vh}
/* Graphviz draws dark ink on white: keep the white behind the drawing only */
#graph-svg svg{max-width:100%;height:auto;background:#fff;border-radius:8px;padding:8px}
.graph-link{font-size:12px;color:var(--accent)}

/* ---- epoch log */
.table-wrap{overflow:auto;max-height:520px;border:1px solid var(--border);border-radius:8px}
table{border-collapse:collapse;width:100%;font-size:13px;font-variant-numeric:tabular-nums}
th,td{padding:6px 12px;text-align:right;white-space:nowrap;border-bottom:1px solid var(--border)}
th:first-child,td:first-child{text-align:left}
thead th{position:sticky;top:0;background:var(--card);font-size:11px;text-transform:uppercase;
  letter-spacing:.05em;color:var(--muted);font-weight:600;z-index:1}
tbody tr:hover{background:var(--row-hover)}
tbody tr:last-child td{border-bottom:none}
td.bad{color:var(--bad)}
td.missing{color:var(--faint)}
th.sep,td.sep{border-left:1px solid var(--border)}
.empty{color:var(--faint);text-align:center;padding:18px}
footer{max-width:1280px;margin:0 auto;padding:0 20px 24px;color:var(--faint);font-size:12px}
"""

JS = r"""
(function () {
  "use strict";

  // ---------------------------------------------------------------- formatting
  // Python formats with round-half-to-even; JS toFixed rounds exact ties away
  // from zero. A tie is only possible when v * 2^(d+1) is an integer (then the
  // decimal expansion is exact), so only that case needs a fix.
  function toFixedEven(v, d) {
    var a = Math.abs(v), sign = v < 0 ? "-" : "";
    if (a >= 1e21) {          // toFixed switches to exponent form there; Python does not
      return sign + BigInt(a).toString() + (d > 0 ? "." + "0".repeat(d) : "");
    }
    var s = a.toFixed(d);
    if (Number.isInteger(a * Math.pow(2, d + 1))) {
      var longer = a.toFixed(d + 1);
      if (longer.charAt(longer.length - 1) === "5") {
        var down = longer.slice(0, -1);
        if (down.charAt(down.length - 1) === ".") down = down.slice(0, -1);
        if ((down.charCodeAt(down.length - 1) - 48) % 2 === 0) s = down;
      }
    }
    return sign + s;
  }

  function isNum(v) { return typeof v === "number" && isFinite(v); }

  // Metric names are user data: "constructor" or "__proto__" must not reach
  // Object.prototype, so lookups check own properties only.
  function has(obj, key) { return Object.prototype.hasOwnProperty.call(obj, key); }

  // Same output as flodl_core.graph.plot.format_metric. JSON has no NaN/Inf:
  // the server sends null for both, shown as "nan".
  function fmtMetric(v) {
    if (typeof v !== "number" || isNaN(v)) return "nan";
    if (v === Infinity) return "inf";
    if (v === -Infinity) return "-inf";
    var a = Math.abs(v);
    if (a === 0) return "0";
    if (a < 1e-3) {
      // Python writes at least two exponent digits: 1.23e-05, not 1.23e-5
      return v.toExponential(2).replace(/e([+-])(\d)$/, function (_, s, d) {
        return "e" + s + "0" + d;
      });
    }
    if (a < 100) return toFixedEven(v, 4);
    return toFixedEven(v, 2);
  }

  function pad2(n) { return (n < 10 ? "0" : "") + n; }

  // 42ms, 1.2s, 1m05s, 2h03m
  function fmtDuration(s) {
    if (!isNum(s) || s < 0) return "\u2014";
    if (s < 1) return Math.floor(s * 1000) + "ms";
    if (s < 60) return toFixedEven(s, 1) + "s";
    if (s < 3600) return Math.floor(s / 60) + "m" + pad2(Math.floor(s) % 60) + "s";
    return Math.floor(s / 3600) + "h" + pad2(Math.floor(s / 60) % 60) + "m";
  }

  function fmtBytes(b) {
    if (!isNum(b)) return "\u2014";
    var units = ["B", "KiB", "MiB", "GiB", "TiB"], i = 0;
    while (b >= 1024 && i < units.length - 1) { b /= 1024; i++; }
    return (i === 0 ? String(Math.round(b)) : b.toFixed(1)) + " " + units[i];
  }

  function fmtPercent(p) { return isNum(p) ? p.toFixed(0) + "%" : "\u2014"; }

  function fmtCount(n) {
    return isNum(n) ? Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",") : "\u2014";
  }

  function fmtTick(v) {
    var a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e5)) {
      return v.toExponential(1).replace(".0e", "e").replace("e+", "e");
    }
    return String(Number(v.toPrecision(6)));
  }

  // ---------------------------------------------------------------- DOM helpers
  function $(id) { return document.getElementById(id); }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function setText(id, text) {
    var e = $(id);
    if (e.textContent !== text) e.textContent = text;
  }

  // ---------------------------------------------------------------- state
  var PALETTE = ["#2f6fed", "#f0883e", "#12a150", "#d92d20", "#8957e5", "#0ea5b7",
                 "#d4a72c", "#e5488a", "#6b7280", "#65a30d", "#b45309", "#4f46e5"];
  var RES_SERIES = [
    {key: "cpu", name: "CPU %", color: "#2f6fed"},
    {key: "gpu", name: "GPU %", color: "#12a150"},
    {key: "ram", name: "RAM %", color: "#f0883e"},
    {key: "vram", name: "VRAM %", color: "#8957e5"}
  ];

  var S = {
    label: "training", total: 0, status: "running", elapsed: 0, eta: null,
    clockAt: 0,            // performance.now() when elapsed/eta were last set
    byEpoch: new Map(),    // epoch number -> record
    order: [],             // epoch numbers, ascending
    graph: null, hardware: null,
    live: false, connected: false, everConnected: false
  };
  var ui = {
    hidden: {metrics: new Set(), resources: new Set()},
    hover: {metrics: null, resources: null},
    graphSvg: null, tableSig: null, rows: new Map(), renderTimer: null
  };

  function now() { return (window.performance && performance.now) ? performance.now() : Date.now(); }

  function putEpoch(rec) {
    if (!rec || !isNum(rec.epoch)) return;
    var e = rec.epoch;
    if (!S.byEpoch.has(e)) {
      S.order.push(e);
      var n = S.order.length;
      if (n > 1 && S.order[n - 2] > e) S.order.sort(function (a, b) { return a - b; });
    }
    S.byEpoch.set(e, rec);
  }

  function applySnapshot(snap) {
    if (!snap || typeof snap !== "object") return;
    S.label = typeof snap.label === "string" ? snap.label : "training";
    S.total = isNum(snap.total_epochs) ? snap.total_epochs : 0;
    S.status = snap.status === "complete" ? "complete" : "running";
    S.elapsed = isNum(snap.elapsed) ? snap.elapsed : 0;
    S.eta = isNum(snap.eta) ? snap.eta : null;
    S.clockAt = now();
    S.byEpoch = new Map();
    S.order = [];
    (Array.isArray(snap.epochs) ? snap.epochs : []).forEach(putEpoch);
    S.graph = snap.graph && typeof snap.graph === "object" ? snap.graph : null;
    S.hardware = snap.hardware && typeof snap.hardware === "object" ? snap.hardware : null;
    ui.tableSig = null;   // every row may have changed
  }

  // An epoch event carries no ETA, so estimate it the way a user would: the mean
  // of the last (up to) five epoch durations times the epochs left.
  function applyEpoch(rec) {
    var before = now();
    S.elapsed = currentElapsed();
    S.clockAt = before;
    putEpoch(rec);
    var last = S.order.length ? S.order[S.order.length - 1] : 0;
    var recent = S.order.slice(-5).map(function (e) { return S.byEpoch.get(e).duration; })
      .filter(isNum);
    S.eta = recent.length && S.total > last
      ? recent.reduce(function (a, b) { return a + b; }, 0) / recent.length * (S.total - last)
      : null;
  }

  function currentElapsed() {
    if (S.live && S.status === "running" && S.connected) return S.elapsed + (now() - S.clockAt) / 1000;
    return S.elapsed;
  }

  function currentEta() {
    if (S.status === "complete" || S.eta === null) return null;
    if (S.live && S.connected) return Math.max(0, S.eta - (now() - S.clockAt) / 1000);
    return S.eta;
  }

  function lastEpoch() { return S.order.length ? S.order[S.order.length - 1] : 0; }

  function metricNames() {
    var names = [], seen = new Set();
    S.order.forEach(function (e) {
      var m = S.byEpoch.get(e).metrics || {};
      Object.keys(m).forEach(function (k) { if (!seen.has(k)) { seen.add(k); names.push(k); } });
    });
    return names;
  }

  function resValue(res, key) {
    if (!res) return null;
    if (key === "cpu") return isNum(res.cpu_percent) ? res.cpu_percent : null;
    if (key === "gpu") return isNum(res.gpu_percent) ? res.gpu_percent : null;
    var used = res[key + "_used"], total = res[key + "_total"];
    return isNum(used) && isNum(total) && total > 0 ? 100 * used / total : null;
  }

  // ---------------------------------------------------------------- header
  function renderHeader() {
    var last = lastEpoch();
    setText("label", S.label);
    setText("epoch-counter", last + "/" + S.total);
    var frac = S.total > 0 ? Math.min(1, last / S.total) : 0;
    if (S.status === "complete") frac = 1;
    $("progress-bar").style.width = (frac * 100).toFixed(2) + "%";
    $("progress").setAttribute("aria-valuenow", String(Math.round(frac * 100)));
    var status = S.status;
    if (S.live && status !== "complete" && !S.connected) {
      status = S.everConnected ? "disconnected" : "connecting";
    }
    var st = $("status");
    st.className = "status " + status;
    setText("status", status);
    renderClock();
    var lastRec = last ? S.byEpoch.get(last) : null;
    setText("last-duration", lastRec ? fmtDuration(lastRec.duration) : "\u2014");
    document.title = S.label + " \u00b7 " + last + "/" + S.total + " \u00b7 flodl monitor";
  }

  function renderClock() {
    setText("elapsed", fmtDuration(currentElapsed()));
    var eta = currentEta();
    setText("eta", S.status === "complete" ? "done" : (eta === null ? "\u2014" : fmtDuration(eta)));
  }

  // ---------------------------------------------------------------- charts
  function cssVar(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  function niceStep(span, target) {
    var raw = span / Math.max(target, 1);
    if (!(raw > 0) || !isFinite(raw)) return 1;
    var mag = Math.pow(10, Math.floor(Math.log10(raw)));
    var mults = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < mults.length; i++) if (raw <= mults[i] * mag) return mults[i] * mag;
    return 10 * mag;
  }

  function linTicks(lo, hi, target) {
    var step = niceStep(hi - lo, target), out = [];
    var start = Math.ceil(lo / step - 1e-9) * step;
    for (var k = 0; k < 100; k++) {
      var t = start + k * step;
      if (t > hi + step * 1e-9) break;
      out.push(Math.abs(t) < step * 1e-9 ? 0 : t);
    }
    return out;
  }

  function logTicks(lo, hi) {  // lo, hi are log10 values
    var out = [], mults = (hi - lo) > 2 ? [1] : [1, 2, 5];   // 1-2-5 only when few decades
    for (var k = Math.floor(lo); k <= Math.ceil(hi); k++) {
      mults.forEach(function (m) {
        var t = k + Math.log10(m);
        if (t >= lo && t <= hi) out.push(t);
      });
    }
    return out.length >= 2 ? out : linTicks(lo, hi, 4);
  }

  function epochTicks(lo, hi, target) {
    if (hi <= lo) return [lo];
    var step = Math.max(1, Math.round(niceStep(hi - lo, target)));
    var out = [];
    for (var t = Math.ceil(lo / step) * step; t <= hi; t += step) out.push(t);
    if (!out.length || out[0] - lo >= step * 0.75) out.unshift(lo);
    return out;
  }

  function paintedPixels(ctx, w, h) {
    var d = ctx.getImageData(0, 0, w, h).data, n = 0;
    for (var i = 3; i < d.length; i += 4) if (d[i] !== 0) n++;
    return {data: d, count: n};
  }

  // cfg: {xs: [epoch], series: [{name, color, values, hidden}], log, fixed: [lo, hi],
  //       yFmt, empty}
  function drawChart(canvas, cfg, hoverIndex, measure) {
    var w = canvas.clientWidth, h = canvas.clientHeight;
    if (!w || !h) return;
    var dpr = window.devicePixelRatio || 1;
    var W = Math.round(w * dpr), H = Math.round(h * dpr);
    if (canvas.width !== W || canvas.height !== H) { canvas.width = W; canvas.height = H; }
    var ctx = canvas.getContext("2d", {willReadFrequently: true});
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, W, H);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    var font = "11px system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif";
    ctx.font = font;
    var colGrid = cssVar("--grid"), colAxis = cssVar("--axis"), colText = cssVar("--muted");

    var xs = cfg.xs, log = !!cfg.log;
    var shown = cfg.series.filter(function (s) { return !s.hidden && (!log || s.logOk); });
    var tr = log ? function (v) { return Math.log10(v); } : function (v) { return v; };
    var ok = log ? function (v) { return isNum(v) && v > 0; } : isNum;
    var lo = Infinity, hi = -Infinity;
    shown.forEach(function (s) {
      s.values.forEach(function (v) { if (ok(v)) { var t = tr(v); if (t < lo) lo = t; if (t > hi) hi = t; } });
    });
    var hasData = lo <= hi;
    if (cfg.fixed) { lo = cfg.fixed[0]; hi = cfg.fixed[1]; }
    else if (!hasData) { lo = 0; hi = 1; }
    else if (lo === hi) { var p = log ? 0.5 : (Math.abs(lo) * 0.1 || 1); lo -= p; hi += p; }
    else { var pad = (hi - lo) * 0.06; lo -= pad; hi += pad; }

    var yt = log ? logTicks(lo, hi) : linTicks(lo, hi, Math.max(3, Math.floor(h / 55)));
    var yl = yt.map(function (t) { return cfg.yFmt ? cfg.yFmt(t) : fmtTick(log ? Math.pow(10, t) : t); });
    var labelW = 0;
    yl.forEach(function (s) { labelW = Math.max(labelW, ctx.measureText(s).width); });
    var ml = Math.ceil(labelW) + 14, mr = 16, mt = 10, mb = 26;
    var pw = Math.max(10, w - ml - mr), ph = Math.max(10, h - mt - mb);
    var emin = xs.length ? xs[0] : 1, emax = xs.length ? xs[xs.length - 1] : 1;
    function X(e) { return emax === emin ? ml + pw / 2 : ml + (e - emin) * pw / (emax - emin); }
    function Y(t) { return mt + ph - (t - lo) / (hi - lo) * ph; }

    // grid, ticks, axes
    ctx.lineWidth = 1;
    ctx.strokeStyle = colGrid;
    ctx.fillStyle = colText;
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    yt.forEach(function (t, i) {
      var y = Math.round(Y(t)) + 0.5;
      ctx.beginPath(); ctx.moveTo(ml, y); ctx.lineTo(ml + pw, y); ctx.stroke();
      ctx.fillText(yl[i], ml - 7, y);
    });
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    var xt = xs.length ? epochTicks(emin, emax, Math.max(2, Math.floor(pw / 70))) : [];
    xt.forEach(function (e) {
      var x = Math.round(X(e)) + 0.5;
      ctx.beginPath(); ctx.moveTo(x, mt); ctx.lineTo(x, mt + ph); ctx.stroke();
      ctx.fillText(String(e), x, mt + ph + 7);
    });
    ctx.strokeStyle = colAxis;
    ctx.beginPath();
    ctx.moveTo(ml + 0.5, mt); ctx.lineTo(ml + 0.5, mt + ph + 0.5); ctx.lineTo(ml + pw, mt + ph + 0.5);
    ctx.stroke();

    if (!xs.length || !shown.length) {
      ctx.fillStyle = colText;
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      ctx.font = "13px system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif";
      ctx.fillText(!xs.length ? (cfg.empty || "waiting for the first epoch\u2026")
                              : "every series is hidden", ml + pw / 2, mt + ph / 2);
      ctx.font = font;
    }

    var before = measure ? paintedPixels(ctx, W, H) : null;

    // series: a line broken at every missing value, dots when the points are sparse
    var dots = xs.length <= 40;
    ctx.lineJoin = "round";
    ctx.lineCap = "round";
    shown.forEach(function (s) {
      ctx.strokeStyle = s.color;
      ctx.fillStyle = s.color;
      ctx.lineWidth = 2;
      ctx.setLineDash(s.dash ? [5, 4] : []);
      ctx.beginPath();
      var pen = false;
      s.values.forEach(function (v, i) {
        if (!ok(v)) { pen = false; return; }
        var x = X(xs[i]), y = Y(tr(v));
        if (pen) ctx.lineTo(x, y); else ctx.moveTo(x, y);
        pen = true;
      });
      ctx.stroke();
      ctx.setLineDash([]);
      s.values.forEach(function (v, i) {
        if (!ok(v)) return;
        var alone = !ok(s.values[i - 1]) && !ok(s.values[i + 1]);
        if (dots || alone) {
          ctx.beginPath(); ctx.arc(X(xs[i]), Y(tr(v)), alone ? 3 : 2.5, 0, 2 * Math.PI); ctx.fill();
        }
      });
    });

    // hover guide
    if (hoverIndex !== null && hoverIndex !== undefined && hoverIndex < xs.length) {
      var hx = Math.round(X(xs[hoverIndex])) + 0.5;
      ctx.strokeStyle = colAxis;
      ctx.setLineDash([4, 4]);
      ctx.beginPath(); ctx.moveTo(hx, mt); ctx.lineTo(hx, mt + ph); ctx.stroke();
      ctx.setLineDash([]);
      shown.forEach(function (s) {
        var v = s.values[hoverIndex];
        if (!ok(v)) return;
        ctx.fillStyle = cssVar("--card");
        ctx.beginPath(); ctx.arc(hx, Y(tr(v)), 4.5, 0, 2 * Math.PI); ctx.fill();
        ctx.strokeStyle = s.color; ctx.lineWidth = 2; ctx.stroke();
      });
    }

    canvas._layout = {xs: xs, X: X, ml: ml, pw: pw};
    if (measure) {
      var after = paintedPixels(ctx, W, H), changed = 0, a = after.data, b = before.data;
      for (var i = 0; i < a.length; i += 4) {
        if (a[i] !== b[i] || a[i + 1] !== b[i + 1] || a[i + 2] !== b[i + 2] || a[i + 3] !== b[i + 3]) changed++;
      }
      canvas.setAttribute("data-drawn", String(after.count));
      canvas.setAttribute("data-plotted", String(changed));
      canvas.setAttribute("data-series", String(shown.length));
      canvas.setAttribute("data-log", log ? "1" : "0");
    }
  }

  function nearestIndex(canvas, clientX) {
    var L = canvas._layout;
    if (!L || !L.xs.length) return null;
    var x = clientX - canvas.getBoundingClientRect().left, best = 0, bestD = Infinity;
    L.xs.forEach(function (e, i) {
      var d = Math.abs(L.X(e) - x);
      if (d < bestD) { bestD = d; best = i; }
    });
    return best;
  }

  function showTip(tip, canvas, cfg, index, clientX, clientY) {
    if (index === null) { tip.hidden = true; return; }
    var box = canvas.parentNode.getBoundingClientRect();
    tip.replaceChildren(el("div", "t", "epoch " + cfg.xs[index]));
    cfg.series.forEach(function (s) {
      if (s.hidden) return;
      var row = el("div", "r");
      var sw = el("span", "swatch");
      sw.style.background = s.color;
      row.append(sw, el("span", "n", s.name), el("span", "v", s.fmt(s.values[index])));
      tip.appendChild(row);
    });
    tip.hidden = false;
    var x = clientX - box.left, y = clientY - box.top;
    var left = x + 16;
    if (left + tip.offsetWidth > box.width) left = Math.max(0, x - 16 - tip.offsetWidth);
    tip.style.left = left + "px";
    tip.style.top = Math.max(0, Math.min(y - 10, box.height - tip.offsetHeight)) + "px";
  }

  function renderLegend(box, cfg, group, log) {
    box.replaceChildren();
    cfg.series.forEach(function (s) {
      var b = el("button");
      b.type = "button";
      var off = ui.hidden[group].has(s.name);
      if (off) b.classList.add("off");
      if (log && !s.logOk) {
        b.classList.add("na");
        b.title = "has values \u2264 0: not drawn on a log scale";
      }
      b.setAttribute("aria-pressed", off ? "false" : "true");
      var sw = el("span", "swatch");
      sw.style.background = s.color;
      b.append(sw, el("span", "name", s.name));
      if (s.latest !== undefined) b.appendChild(el("span", "val", s.latest));
      b.addEventListener("click", function () {
        if (ui.hidden[group].has(s.name)) ui.hidden[group].delete(s.name);
        else ui.hidden[group].add(s.name);
        render();
      });
      box.appendChild(b);
    });
  }

  var charts = {};

  function metricsConfig() {
    var names = metricNames(), xs = S.order;
    var series = names.map(function (name, i) {
      var values = xs.map(function (e) {
        var m = S.byEpoch.get(e).metrics || {};
        return has(m, name) ? m[name] : undefined;
      });
      var finite = values.filter(isNum);
      var latest = values.length ? values[values.length - 1] : undefined;
      return {name: name, color: PALETTE[i % PALETTE.length], values: values,
              hidden: ui.hidden.metrics.has(name), fmt: fmtMetric,
              logOk: finite.length > 0 && finite.every(function (v) { return v > 0; }),
              latest: latest === undefined ? undefined : fmtMetric(latest)};
    });
    var logBox = $("log-scale");
    var canLog = series.some(function (s) { return s.logOk; });
    logBox.disabled = !canLog;
    $("log-switch").classList.toggle("disabled", !canLog);
    return {xs: xs, series: series, log: canLog && logBox.checked};
  }

  function resourcesConfig() {
    var xs = S.order, series = [];
    RES_SERIES.forEach(function (r) {
      var values = xs.map(function (e) { return resValue(S.byEpoch.get(e).resources, r.key); });
      if (!values.some(isNum)) return;
      series.push({name: r.name, color: r.color, values: values, dash: r.key === "ram" || r.key === "vram",
                   hidden: ui.hidden.resources.has(r.name), fmt: fmtPercent, logOk: true,
                   latest: fmtPercent(values[values.length - 1])});
    });
    return {xs: xs, series: series, log: false, fixed: [0, 100],
            yFmt: function (t) { return t.toFixed(0) + "%"; }};
  }

  function renderCharts() {
    charts.metrics = metricsConfig();
    renderLegend($("metrics-legend"), charts.metrics, "metrics", charts.metrics.log);
    drawChart($("metrics-chart"), charts.metrics, ui.hover.metrics, true);
    charts.resources = resourcesConfig();
    var hasRes = charts.resources.series.length > 0;
    var bars = renderBars();
    $("resources-card").hidden = !hasRes && !bars;
    $("resources-chart-box").hidden = !hasRes;
    if (hasRes) {
      renderLegend($("resources-legend"), charts.resources, "resources", false);
      drawChart($("resources-chart"), charts.resources, ui.hover.resources, true);
    }
  }

  function wireChart(name, canvasId, tipId) {
    var canvas = $(canvasId), tip = $(tipId);
    canvas.addEventListener("mousemove", function (ev) {
      var cfg = charts[name];
      if (!cfg) return;
      var i = nearestIndex(canvas, ev.clientX);
      if (i !== ui.hover[name]) { ui.hover[name] = i; drawChart(canvas, cfg, i, false); }
      showTip(tip, canvas, cfg, i, ev.clientX, ev.clientY);
    });
    canvas.addEventListener("mouseleave", function () {
      ui.hover[name] = null;
      tip.hidden = true;
      if (charts[name]) drawChart(canvas, charts[name], null, false);
    });
  }

  // ---------------------------------------------------------------- resource bars
  function renderBars() {
    var box = $("resource-bars");
    box.replaceChildren();
    var last = lastEpoch(), res = last ? S.byEpoch.get(last).resources || {} : {};
    var n = 0;
    [["ram", "RAM"], ["vram", "VRAM"]].forEach(function (p) {
      var used = res[p[0] + "_used"], total = res[p[0] + "_total"];
      if (!isNum(used) || !isNum(total) || total <= 0) return;
      var frac = Math.max(0, Math.min(1, used / total));
      var bar = el("div", "bar");
      bar.id = p[0] + "-bar";
      var lbl = el("div", "lbl");
      lbl.append(el("b", null, p[1]),
                 el("span", null, fmtBytes(used) + " / " + fmtBytes(total) + " (" + (frac * 100).toFixed(0) + "%)"));
      var track = el("div", "track"), fill = el("div", "fill" + (frac > 0.9 ? " hot" : frac > 0.75 ? " warm" : ""));
      fill.style.width = (frac * 100).toFixed(1) + "%";
      track.appendChild(fill);
      bar.append(lbl, track);
      box.appendChild(bar);
      n++;
    });
    return n > 0;
  }

  // ---------------------------------------------------------------- epoch table
  function tableColumns() {
    var cols = [{id: "epoch", title: "Epoch"}, {id: "duration", title: "Time"}];
    metricNames().forEach(function (m, i) {
      cols.push({id: "m:" + m, title: m, metric: m, sep: i === 0});
    });
    var have = {cpu: false, ram: false, gpu: false, vram: false};
    S.order.forEach(function (e) {
      var r = S.byEpoch.get(e).resources || {};
      if (isNum(r.cpu_percent)) have.cpu = true;
      if (isNum(r.ram_used)) have.ram = true;
      if (isNum(r.gpu_percent)) have.gpu = true;
      if (isNum(r.vram_used)) have.vram = true;
    });
    var first = true;
    [["cpu", "CPU"], ["ram", "RAM"], ["gpu", "GPU"], ["vram", "VRAM"]].forEach(function (p) {
      if (!have[p[0]]) return;
      cols.push({id: "r:" + p[0], title: p[1], res: p[0], sep: first});
      first = false;
    });
    return cols;
  }

  function cellFor(col, rec) {
    var td = el("td");
    td.setAttribute("data-col", col.metric !== undefined ? col.metric : col.id);
    if (col.sep) td.classList.add("sep");
    if (col.id === "epoch") { td.textContent = String(rec.epoch); return td; }
    if (col.id === "duration") { td.textContent = fmtDuration(rec.duration); return td; }
    if (col.metric !== undefined) {
      var m = rec.metrics || {};
      if (!has(m, col.metric)) { td.textContent = "\u2013"; td.classList.add("missing"); return td; }
      var v = m[col.metric];
      td.textContent = fmtMetric(v);
      if (!isNum(v)) td.classList.add("bad");
      return td;
    }
    var r = rec.resources || {};
    if (col.res === "cpu") td.textContent = fmtPercent(r.cpu_percent);
    else if (col.res === "gpu") td.textContent = fmtPercent(r.gpu_percent);
    else td.textContent = fmtBytes(r[col.res + "_used"]);
    return td;
  }

  function renderTable() {
    var cols = tableColumns(), sig = JSON.stringify(cols);
    var tbody = $("epoch-rows");
    if (sig !== ui.tableSig) {     // columns changed (or a new snapshot): start over
      ui.tableSig = sig;
      ui.rows = new Map();
      var tr = el("tr");
      cols.forEach(function (c) {
        var th = el("th", c.sep ? "sep" : null, c.title);
        th.scope = "col";
        tr.appendChild(th);
      });
      $("epoch-head").replaceChildren(tr);
      tbody.replaceChildren();
    }
    // newest first; only rows whose record changed are rebuilt
    var ref = tbody.firstElementChild;
    for (var k = S.order.length - 1; k >= 0; k--) {
      var e = S.order[k], rec = S.byEpoch.get(e), row = ui.rows.get(e);
      if (!row || row._rec !== rec) {
        var fresh = el("tr");
        fresh.setAttribute("data-epoch", String(e));
        fresh._rec = rec;
        cols.forEach(function (c) { fresh.appendChild(cellFor(c, rec)); });
        if (row) { if (ref === row) ref = fresh; tbody.replaceChild(fresh, row); }
        ui.rows.set(e, fresh);
        row = fresh;
      }
      if (row !== ref) tbody.insertBefore(row, ref);
      else ref = ref.nextElementSibling;
    }
    $("epoch-empty").hidden = S.order.length > 0;
    setText("epoch-count", S.order.length ? S.order.length + (S.order.length === 1 ? " epoch" : " epochs") : "");
  }

  // ---------------------------------------------------------------- graph
  // The SVG comes from our own Graphviz run, but it is still treated as data:
  // parsed as XML, stripped of scripts, styles, foreign content, event handlers
  // and non-local links, and placed inside its own container only.
  function cleanSvg(text) {
    var doc = new DOMParser().parseFromString(text, "image/svg+xml");
    var root = doc.documentElement;
    if (!root || root.nodeName.toLowerCase() !== "svg" || doc.getElementsByTagName("parsererror").length) return null;
    var banned = ["script", "style", "foreignobject", "iframe", "object", "embed", "link", "image"];
    Array.prototype.slice.call(root.querySelectorAll("*")).forEach(function (n) {
      if (banned.indexOf(n.nodeName.toLowerCase()) >= 0) { n.remove(); return; }
    });
    [root].concat(Array.prototype.slice.call(root.querySelectorAll("*"))).forEach(function (n) {
      Array.prototype.slice.call(n.attributes).forEach(function (a) {
        var name = a.name.toLowerCase();
        if (name.indexOf("on") === 0) n.removeAttribute(a.name);
        else if ((name === "href" || name === "xlink:href") && a.value.charAt(0) !== "#") n.removeAttribute(a.name);
      });
    });
    // keep Graphviz's natural size (width/height in pt); CSS only shrinks it to fit
    return document.importNode(root, true);
  }

  function renderGraph() {
    var g = S.graph, card = $("graph-card");
    card.hidden = !g;
    if (!g) { ui.graphSvg = null; return; }
    setText("graph-title", g.label ? "Model graph \u00b7 " + g.label : "Model graph");
    setText("params-total", fmtCount(g.params_total));
    setText("params-trainable", fmtCount(g.params_trainable));
    setText("params-frozen", fmtCount(g.params_frozen));
    setText("graph-hash", typeof g.hash === "string" ? g.hash : "\u2014");
    $("graph-hash").title = typeof g.hash === "string" ? g.hash : "";
    setText("graph-meta", fmtCount(g.params_total) + " parameters");
    $("graph-link").hidden = !S.live;
    if (ui.graphSvg !== g.svg) {
      ui.graphSvg = g.svg;
      var box = $("graph-svg");
      var svg = typeof g.svg === "string" && g.svg ? cleanSvg(g.svg) : null;
      if (svg) box.replaceChildren(svg);
      else box.replaceChildren(el("p", "note", "the graph picture could not be read"));
    }
  }

  // ---------------------------------------------------------------- hardware
  function renderHardware() {
    var hw = S.hardware, dl = $("hardware");
    dl.replaceChildren();
    if (!hw) { dl.appendChild(el("dd", "note", "not reported")); return; }
    var rows = [
      ["CPU", hw.cpu ? hw.cpu + (isNum(hw.cores) ? " (" + hw.cores + " cores)" : "") : null],
      ["RAM", isNum(hw.ram_total) ? fmtBytes(hw.ram_total) : null],
      ["GPU", hw.gpu || null],
      ["VRAM", isNum(hw.vram_total) ? fmtBytes(hw.vram_total) : null],
      ["Python", hw.python || null],
      ["NumPy", hw.numpy || null],
      ["Platform", hw.platform || null]
    ];
    rows.forEach(function (r) {
      if (r[1] === null || r[1] === undefined) return;
      dl.append(el("dt", null, r[0]), el("dd", null, r[1]));
    });
  }

  // ---------------------------------------------------------------- render
  function render() {
    clearTimeout(ui.renderTimer);
    ui.renderTimer = null;
    renderHeader();
    renderCharts();
    renderTable();
    renderGraph();
    renderHardware();
    document.body.setAttribute("data-epochs", String(S.order.length));
  }

  // Events can arrive hundreds per second on a fast run: coalesce redraws.
  function scheduleRender() {
    if (ui.renderTimer === null) ui.renderTimer = setTimeout(render, 40);
  }

  function parse(ev) {
    try { return JSON.parse(ev.data); } catch (e) { return null; }
  }

  function connect() {
    S.live = true;
    var es = new EventSource("/events");
    es.onopen = function () { S.connected = true; S.everConnected = true; renderHeader(); };
    es.onerror = function () {
      // EventSource retries by itself; the snapshot event resyncs on reconnect.
      S.connected = false;
      renderHeader();
    };
    es.addEventListener("snapshot", function (ev) {
      var snap = parse(ev);
      if (!snap) return;
      S.connected = true; S.everConnected = true;
      applySnapshot(snap);
      render();
      if (S.status === "complete") es.close();
    });
    es.addEventListener("epoch", function (ev) {
      var rec = parse(ev);
      if (!rec) return;
      applyEpoch(rec);
      scheduleRender();
    });
    es.addEventListener("graph", function (ev) {
      S.graph = parse(ev);
      scheduleRender();
    });
    es.addEventListener("complete", function (ev) {
      var snap = parse(ev);
      if (snap) applySnapshot(snap);
      S.status = "complete";
      es.close();     // the run is over: no reconnect attempts once the server goes away
      render();
    });
  }

  function init() {
    wireChart("metrics", "metrics-chart", "metrics-tip");
    wireChart("resources", "resources-chart", "resources-tip");
    $("log-scale").addEventListener("change", render);
    var resizeTimer = null;
    window.addEventListener("resize", function () {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(renderCharts, 60);
    });
    if (window.matchMedia) {
      var mq = window.matchMedia("(prefers-color-scheme: dark)");
      if (mq.addEventListener) mq.addEventListener("change", renderCharts);
    }
    var data = $("flodl-data");
    if (data) {
      var snap = null;
      try { snap = JSON.parse(data.textContent); } catch (e) { snap = null; }
      applySnapshot(snap);
      setText("mode", "archive \u00b7 saved data, no server connection");
      render();
    } else {
      setText("mode", "live");
      render();
      connect();
      setInterval(function () { if (S.status !== "complete") renderClock(); }, 1000);
    }
  }

  init();
})();
"""
