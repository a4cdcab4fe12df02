"""Shared fixtures for the monitor tests.

* ``FakeSource`` and the snapshot builders: hand-written snapshots, so the
  dashboard is tested without a Monitor.
* Chromium in two ways, both with the standard library only:
  ``run_chromium`` runs the command line (``--dump-dom``, ``--screenshot``)
  for pages that finish drawing on their own (the archive), and the
  ``browser`` fixture drives one long-lived headless Chromium over the
  DevTools protocol on a pipe (fds 3/4, NUL-separated JSON), so a live page
  can stay open while the test publishes events to it.
* ``decode_png``: a small PNG decoder (zlib + the five scanline filters) to
  check that a screenshot is not blank.
* ``parse_dom``: reads ``--dump-dom`` output into ids, attributes and table rows.

Browser tests skip when Chromium is missing, unless ``FLODL_REQUIRE_BROWSER=1``
(set by CI after installing it), in which case they fail.
"""
from __future__ import annotations

import base64
import copy
import fcntl
import json
import os
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from html.parser import HTMLParser

import pytest

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]


# --------------------------------------------------------------------------- snapshots
def epoch_record(epoch: int, metrics: dict, duration: float = 1.5, resources=None) -> dict:
    return {"epoch": epoch, "duration": duration, "metrics": dict(metrics),
            "resources": dict(resources or {})}


HARDWARE = {"cpu": "Test CPU 9000", "cores": 8, "ram_total": 16 * 2**30,
            "python": "3.11.7", "numpy": "2.1.0", "platform": "Linux-test"}

# A small hand-made SVG, shaped like Graphviz output.
GRAPH_SVG = ('<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
             '<svg width="200pt" height="120pt" viewBox="0 0 200 120" '
             'xmlns="http://www.w3.org/2000/svg">\n'
             '<g id="graph0" class="graph"><title>G</title>'
             '<polygon fill="white" stroke="none" points="0,120 0,0 200,0 200,120 0,120"/>'
             '<g id="node1" class="node"><title>l1</title>'
             '<rect x="20" y="20" width="160" height="40" fill="#bbdefb" stroke="black"/>'
             '<text x="100" y="45" text-anchor="middle">Linear(2,16)</text></g>'
             '</g></svg>\n')

GRAPH = {"svg": GRAPH_SVG, "params_total": 1234567, "params_trainable": 1200000,
         "params_frozen": 34567, "hash": "ab12cd34" + "0" * 56, "label": "mlp"}


def three_metric_epoch(e: int, resources: bool = True) -> dict:
    """Epoch ``e`` of a smooth made-up run: loss falls, accuracy rises."""
    res = {"cpu_percent": 40.0 + e, "ram_used": 4 * 2**30 + e * 2**20, "ram_total": 16 * 2**30,
           "gpu_percent": 70.0 + e / 2, "vram_used": 3 * 2**30, "vram_total": 8 * 2**30}
    return epoch_record(e, {"loss": 2.0 / e, "val_loss": 2.0 / e + 0.25,
                            "accuracy": 1.0 - 0.5 / e},
                        duration=1.0 + e / 100, resources=res if resources else None)


def make_snapshot(epochs=(), total: int = 10, label: str = "training", status: str = "running",
                  graph=None, hardware=HARDWARE, elapsed: float = 12.0, eta=30.0) -> dict:
    return {"label": label, "total_epochs": total, "status": status,
            "started_at": 1_700_000_000.0, "elapsed": elapsed, "eta": eta,
            "epochs": [copy.deepcopy(r) for r in epochs], "graph": copy.deepcopy(graph),
            "hardware": dict(hardware) if hardware is not None else None}


class FakeSource:
    """Anything with ``.snapshot()`` can feed a DashboardServer; this one is a dict."""

    def __init__(self, snapshot: dict):
        self.snap = copy.deepcopy(snapshot)
        self.calls = 0

    def snapshot(self) -> dict:
        self.calls += 1
        return copy.deepcopy(self.snap)

    def log(self, record: dict) -> dict:
        """Record an epoch the way a monitor does (before publishing it)."""
        self.snap["epochs"].append(copy.deepcopy(record))
        return record


@pytest.fixture
def no_dashboard_threads():
    """Fail a test that leaves a dashboard's server or handler threads running."""
    import threading
    yield

    def leftovers():
        return [t.name for t in threading.enumerate()
                if t.name.startswith("flodl-dashboard") or "process_request" in t.name]
    deadline = time.monotonic() + 2.0
    while leftovers() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert leftovers() == [], f"threads left running: {leftovers()}"


@pytest.fixture
def source():
    return FakeSource(make_snapshot([three_metric_epoch(e) for e in (1, 2, 3)]))


# --------------------------------------------------------------------------- chromium
def chromium_path():
    found = shutil.which("chromium")
    if found:
        return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


def require_chromium() -> str:
    path = chromium_path()
    if path is None:
        reason = ("Chromium is not installed (Debian: apt-get install chromium); "
                  "the dashboard's browser tests need it")
        if os.environ.get("FLODL_REQUIRE_BROWSER") == "1":
            pytest.fail(reason + " and FLODL_REQUIRE_BROWSER=1 is set")
        pytest.skip(reason)
    return path


def run_chromium(args, timeout: float = 30.0) -> subprocess.CompletedProcess:
    """One command-line Chromium run with a throwaway profile."""
    exe = require_chromium()
    profile = tempfile.mkdtemp(prefix="flodl-chromium-")
    try:
        return subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=timeout)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def _high_fd(fd: int) -> int:
    """Move ``fd`` above 9 so it cannot collide with the 3/4 the browser expects."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return high


# A tiny trampoline puts the pipe ends on fds 3 and 4, then becomes Chromium
# (subprocess can pass fds but not renumber them).
_TRAMPOLINE = ("import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); "
               "os.execv(sys.argv[3], sys.argv[3:])")


class Browser:
    """Headless Chromium driven over the DevTools protocol on a pipe."""

    def __init__(self, exe: str):
        self.profile = tempfile.mkdtemp(prefix="flodl-chromium-")
        cmd_r, self._cmd_w = os.pipe()          # we write commands, Chromium reads fd 3
        self._out_r, out_w = os.pipe()          # Chromium writes fd 4, we read
        cmd_r, out_w = _high_fd(cmd_r), _high_fd(out_w)
        args = [exe, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile}",
                "--remote-debugging-pipe", "--hide-scrollbars", "about:blank"]
        self.proc = subprocess.Popen([sys.executable, "-c", _TRAMPOLINE, str(cmd_r), str(out_w),
                                      *args], pass_fds=(cmd_r, out_w),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        os.close(cmd_r)
        os.close(out_w)
        self._buf = b""
        self._next_id = 0
        self.events = []      # every event message received, in order

    # ------------------------------------------------------------- protocol
    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._out_r], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._out_r, 1 << 20)
            if not chunk:
                raise ConnectionError("Chromium closed its DevTools pipe")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method: str, params=None, session=None, timeout: float = 15.0) -> dict:
        self._next_id += 1
        msg = {"id": self._next_id, "method": method, "params": params or {}}
        if session is not None:
            msg["sessionId"] = session
        os.write(self._cmd_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def pump(self, seconds: float) -> None:
        """Collect events for ``seconds`` without sending anything."""
        deadline = time.monotonic() + seconds
        try:
            while True:
                msg = self._read_message(deadline)
                if "method" in msg:
                    self.events.append(msg)
        except TimeoutError:
            pass

    def new_page(self, width: int = 1280, height: int = 900, scale: float = 1.0) -> "Page":
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget",
                            {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, target, session)
        page.call("Page.enable")
        page.call("Runtime.enable")          # script exceptions and console errors
        page.call("Log.enable")              # browser errors (CSP violations, ...)
        page.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": scale,
                   "mobile": False})
        return page

    def close(self) -> None:
        try:
            self.call("Browser.close", timeout=5)
        except (OSError, RuntimeError, TimeoutError, ConnectionError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._cmd_w)
        os.close(self._out_r)
        shutil.rmtree(self.profile, ignore_errors=True)


class Page:
    def __init__(self, browser: Browser, target: str, session: str):
        self.browser, self.target, self.session = browser, target, session

    def call(self, method, params=None, timeout: float = 15.0) -> dict:
        return self.browser.call(method, params, session=self.session, timeout=timeout)

    def goto(self, url: str, timeout: float = 15.0) -> None:
        """Navigate and wait for the load event."""
        mark = len(self.browser.events)
        self.call("Page.navigate", {"url": url})
        deadline = time.monotonic() + timeout
        while True:
            for ev in self.browser.events[mark:]:
                if ev["method"] == "Page.loadEventFired" and ev.get("sessionId") == self.session:
                    return
            mark = len(self.browser.events)
            if time.monotonic() > deadline:
                raise TimeoutError(f"page {url} did not load in {timeout}s")
            self.browser.pump(0.05)

    def errors(self) -> list:
        """Script exceptions, console errors and browser errors of this page so far."""
        out = []
        for ev in self.browser.events:
            if ev.get("sessionId") != self.session:
                continue
            params = ev["params"]
            if ev["method"] == "Runtime.exceptionThrown":
                out.append(params["exceptionDetails"].get("text", "exception"))
            elif ev["method"] == "Runtime.consoleAPICalled" and params["type"] == "error":
                out.append(str(params.get("args")))
            elif ev["method"] == "Log.entryAdded" and params["entry"]["level"] == "error":
                out.append(params["entry"]["text"])
        return out

    def eval(self, expression: str):
        """Run JavaScript in the page; return its (JSON-able) value."""
        out = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                             "awaitPromise": True})
        if "exceptionDetails" in out:
            raise AssertionError(f"JavaScript error in {expression!r}: "
                                 f"{out['exceptionDetails'].get('exception', {}).get('description')}")
        return out["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 5.0):
        """Poll ``expression`` until it is truthy; return its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.eval(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {expression!r} "
                                     f"(last value {value!r})")
            self.browser.pump(0.05)

    def text(self, element_id: str):
        return self.eval(f"(function(){{var e=document.getElementById({json.dumps(element_id)});"
                         f"return e ? e.textContent : null;}})()")

    def rows(self) -> list:
        """The epoch table as [(epoch, {column: text})], top row first."""
        raw = self.eval("""JSON.stringify(Array.from(document.querySelectorAll('#epoch-rows tr'))
            .map(function (tr) { return [tr.getAttribute('data-epoch'), Array.from(tr.cells)
            .map(function (td) { return [td.getAttribute('data-col'), td.textContent]; })]; }))""")
        return [(int(e), dict(cells)) for e, cells in json.loads(raw)]

    def canvas(self, element_id: str) -> dict:
        return self.eval(f"(function(){{var c=document.getElementById({json.dumps(element_id)});"
                         "return {drawn: +c.getAttribute('data-drawn'), "
                         "plotted: +c.getAttribute('data-plotted'), "
                         "series: +c.getAttribute('data-series'), log: c.getAttribute('data-log'), "
                         "width: c.width, height: c.height, cssWidth: c.clientWidth, "
                         "cssHeight: c.clientHeight};})()")

    def screenshot(self) -> bytes:
        return base64.b64decode(self.call("Page.captureScreenshot", {"format": "png"})["data"])

    def close(self) -> None:
        try:
            self.browser.call("Target.closeTarget", {"targetId": self.target})
        except (RuntimeError, TimeoutError):
            pass


@pytest.fixture(scope="session")
def browser():
    exe = require_chromium()
    b = Browser(exe)
    try:
        b.call("Browser.getVersion", timeout=30)
    except Exception:
        b.close()
        raise
    yield b
    b.close()


@pytest.fixture
def page(browser):
    p = browser.new_page()
    yield p
    p.close()


# --------------------------------------------------------------------------- PNG
def decode_png(data: bytes):
    """(width, height, channels, rows) of an 8-bit RGB or RGBA, non-interlaced PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    pos, idat, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length                       # length, type, body, CRC
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    width, height, depth, color_type, _, _, interlace = header
    if depth != 8 or color_type not in (2, 6) or interlace:
        raise ValueError(f"unsupported PNG: depth {depth}, colour type {color_type}, "
                         f"interlace {interlace}")
    bpp = 3 if color_type == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    prev = bytearray(stride)
    rows = []
    for y in range(height):
        start = y * (stride + 1)
        kind = raw[start]
        line = bytearray(raw[start + 1:start + 1 + stride])
        if kind == 1:                                # Sub: add the byte one pixel left
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif kind == 2:                              # Up: add the byte above
            line = bytearray((a + b) & 255 for a, b in zip(line, prev))
        elif kind == 3:                              # Average of left and above
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
        elif kind == 4:                              # Paeth predictor
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                c = prev[i - bpp] if i >= bpp else 0
                b = prev[i]
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        elif kind != 0:
            raise ValueError(f"bad PNG filter type {kind} on row {y}")
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, rows


def pixel(img, x: int, y: int) -> tuple:
    _, _, bpp, rows = img
    return tuple(rows[y][x * bpp:x * bpp + 3])


def image_stats(img, step: int = 2) -> dict:
    """Distinct colours and the share of near-white pixels, on a ``step`` grid."""
    width, height, bpp, rows = img
    colours, white, n = set(), 0, 0
    for y in range(0, height, step):
        row = rows[y]
        for x in range(0, width, step):
            rgb = row[x * bpp:x * bpp + 3]
            colours.add(rgb)
            if min(rgb) >= 245:
                white += 1
            n += 1
    return {"colours": len(colours), "white_share": white / n}


# --------------------------------------------------------------------------- DOM dumps
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
         "source", "track", "wbr"}


class _DomReader(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids = {}          # id -> {"tag", "attrs", "text"}
        self.rows = []         # [(epoch, {col: text})] in document order
        self._open = []        # stack of (tag, record or None)
        self._row = None
        self._cell = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        rec = None
        if "id" in attrs:
            rec = self.ids[attrs["id"]] = {"tag": tag, "attrs": attrs, "text": ""}
        if tag == "tr" and "data-epoch" in attrs:
            self._row = (int(attrs["data-epoch"]), {})
            self.rows.append(self._row)
        if tag == "td" and self._row is not None:
            self._cell = [attrs.get("data-col"), ""]
        if tag not in _VOID:
            self._open.append((tag, rec))

    def handle_endtag(self, tag):
        while self._open:
            t, _ = self._open.pop()
            if t == tag:
                break
        if tag == "td" and self._cell is not None and self._row is not None:
            self._row[1][self._cell[0]] = self._cell[1]
            self._cell = None
        if tag == "tr":
            self._row = None

    def handle_data(self, data):
        for _, rec in self._open:
            if rec is not None:
                rec["text"] += data
        if self._cell is not None:
            self._cell[1] += data


def parse_dom(html_text: str) -> _DomReader:
    reader = _DomReader()
    reader.feed(html_text)
    reader.close()
    return reader


# --------------------------------------------------------------------------- access
@pytest.fixture(scope="session")
def kit():
    """The helpers above, for test modules (test files cannot import a conftest
    under ``--import-mode=importlib``)."""
    import types
    return types.SimpleNamespace(
        epoch_record=epoch_record, three_metric_epoch=three_metric_epoch,
        make_snapshot=make_snapshot, FakeSource=FakeSource, GRAPH=GRAPH, GRAPH_SVG=GRAPH_SVG,
        HARDWARE=HARDWARE, run_chromium=run_chromium, require_chromium=require_chromium,
        decode_png=decode_png, image_stats=image_stats, pixel=pixel, parse_dom=parse_dom)
