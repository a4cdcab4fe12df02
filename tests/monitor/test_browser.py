"""The dashboard in a real browser: Debian's headless Chromium.

Live pages are driven over the DevTools pipe (the ``browser``/``page``
fixtures), so a page stays open while the test publishes events. The archive
and the screenshot use Chromium's command line (``--dump-dom``,
``--screenshot``), exactly what a user opening the file would get.
Skipped without Chromium unless FLODL_REQUIRE_BROWSER=1.
"""
import base64
import io
import json

import pytest

from flodl_core.graph.plot import format_metric
from flodl_core.monitor.page import render_page
from flodl_core.monitor.server import DashboardServer

pytestmark = pytest.mark.usefixtures("no_dashboard_threads")

COUNTER = "document.getElementById('epoch-counter').textContent"
STATUS = "document.getElementById('status').textContent"


def write_archive(tmp_path, snapshot, name="report.html"):
    path = tmp_path / name
    path.write_text(render_page(snapshot), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- live
def test_live_page_follows_the_run(page, kit):
    src = kit.FakeSource(kit.make_snapshot([kit.three_metric_epoch(e) for e in (1, 2, 3)],
                                           total=10, label="mnist"))
    with DashboardServer(src, port=0) as srv:
        page.goto(srv.url)
        page.wait_for(f"{COUNTER} === '3/10'")
        assert page.text("label") == "mnist"
        assert page.text("status") == "running"
        rows = page.rows()
        assert [e for e, _ in rows] == [3, 2, 1]                  # newest first
        assert rows[0][1]["loss"] == "0.6667"                     # 2/3
        assert rows[0][1]["val_loss"] == "0.9167"                 # 2/3 + 0.25
        assert rows[2][1]["accuracy"] == "0.5000"
        chart = page.canvas("metrics-chart")
        assert chart["series"] == 3
        assert chart["drawn"] > 3000, chart                       # axes, ticks and lines
        assert chart["plotted"] > 1000, chart                     # the lines alone

        srv.publish("epoch", src.log(kit.three_metric_epoch(4)))
        page.wait_for(f"{COUNTER} === '4/10'")
        rows = page.rows()
        assert [e for e, _ in rows] == [4, 3, 2, 1]
        assert rows[0][1]["loss"] == "0.5000"
        assert page.eval("document.getElementById('progress-bar').style.width") == "40%"

        assert page.eval("document.getElementById('graph-card').hidden") is True
        srv.publish("graph", kit.GRAPH)
        page.wait_for("!document.getElementById('graph-card').hidden")
        assert page.text("params-total") == "1,234,567"
        assert page.text("params-frozen") == "34,567"
        assert page.eval("document.querySelectorAll('#graph-svg svg rect').length") == 1

        final = dict(src.snapshot(), status="complete", eta=None, elapsed=95.0)
        srv.publish("complete", final)
        page.wait_for(f"{STATUS} === 'complete'")
        assert page.text("elapsed") == "1m35s"
        assert page.text("eta") == "done"
        assert page.errors() == []


def test_page_opened_mid_run_backfills_earlier_epochs(browser, kit):
    src = kit.FakeSource(kit.make_snapshot([], total=8))
    with DashboardServer(src, port=0) as srv:
        for e in (1, 2, 3):                     # logged before anyone looks
            srv.publish("epoch", src.log(kit.three_metric_epoch(e)))
        first = browser.new_page()
        try:
            first.goto(srv.url)
            first.wait_for(f"{COUNTER} === '3/8'")
            assert [e for e, _ in first.rows()] == [3, 2, 1]
        finally:
            first.close()
        for e in (4, 5):
            srv.publish("epoch", src.log(kit.three_metric_epoch(e)))
        second = browser.new_page()
        try:
            second.goto(srv.url)
            second.wait_for(f"{COUNTER} === '5/8'")
            assert [e for e, _ in second.rows()] == [5, 4, 3, 2, 1]
        finally:
            second.close()


def test_a_duplicate_epoch_event_replaces_its_row(page, kit):
    src = kit.FakeSource(kit.make_snapshot([kit.three_metric_epoch(1)], total=5))
    with DashboardServer(src, port=0) as srv:
        page.goto(srv.url)
        page.wait_for(f"{COUNTER} === '1/5'")
        srv.publish("epoch", kit.epoch_record(1, {"loss": 0.25, "val_loss": 0.5,
                                                  "accuracy": 0.75}))
        page.wait_for("document.querySelector('#epoch-rows td[data-col=\"loss\"]')"
                      ".textContent === '0.2500'")
        assert len(page.rows()) == 1


def test_lost_server_shows_disconnected(page, kit):
    src = kit.FakeSource(kit.make_snapshot([kit.three_metric_epoch(1)], total=5))
    srv = DashboardServer(src, port=0)
    srv.start()
    try:
        page.goto(srv.url)
        page.wait_for(f"{COUNTER} === '1/5'")
    finally:
        srv.close()                             # no "complete": the run died
    page.wait_for(f"{STATUS} === 'disconnected'")
    assert page.eval("document.getElementById('status').className") == "status disconnected"


def test_end_to_end_with_the_real_monitor(page):
    from flodl_core.monitor import Monitor
    monitor = Monitor(5, label="e2e", stream=io.StringIO(), sample_resources=False)
    try:
        url = monitor.serve(port=0)
        page.goto(url)
        page.wait_for(f"{COUNTER} === '0/5'")
        for epoch in range(3):
            monitor.log(epoch, 0.01, {"loss": 1.0 / (epoch + 1), "lr": 0.1})
        page.wait_for(f"{COUNTER} === '3/5'")
        rows = page.rows()
        assert [e for e, _ in rows] == [3, 2, 1]
        assert rows[0][1]["loss"] == "0.3333" and rows[0][1]["lr"] == "0.1000"
        assert rows[0][1]["duration"] == "10ms"
        assert page.canvas("metrics-chart")["plotted"] > 500
    finally:
        monitor.finish()
    page.wait_for(f"{STATUS} === 'complete'")
    assert page.text("label") == "e2e"


# --------------------------------------------------------------------------- archive
def test_archive_renders_offline_from_a_file(tmp_path, kit):
    snap = kit.make_snapshot([kit.three_metric_epoch(e) for e in (1, 2, 3)], total=3,
                             status="complete", eta=None, elapsed=4.5, graph=kit.GRAPH)
    path = write_archive(tmp_path, snap)
    done = kit.run_chromium(["--virtual-time-budget=2000", "--dump-dom", path.as_uri()])
    assert done.returncode == 0, done.stderr[-2000:]
    dom = kit.parse_dom(done.stdout)
    assert dom.ids["epoch-counter"]["text"] == "3/3"
    assert dom.ids["status"]["text"] == "complete"
    assert dom.ids["elapsed"]["text"] == "4.5s"
    assert [e for e, _ in dom.rows] == [3, 2, 1]
    assert dom.rows[0][1]["loss"] == "0.6667"
    assert dom.rows[1][1]["val_loss"] == "1.2500"
    assert dom.rows[2][1]["r:cpu"] == "41%"
    assert dom.rows[2][1]["r:ram"] == "4.0 GiB"
    canvas = dom.ids["metrics-chart"]["attrs"]
    assert int(canvas["data-plotted"]) > 1000 and int(canvas["data-series"]) == 3
    assert int(dom.ids["resources-chart"]["attrs"]["data-plotted"]) > 500
    assert "hidden" not in dom.ids["graph-card"]["attrs"]
    assert dom.ids["params-trainable"]["text"] == "1,200,000"
    assert "archive" in dom.ids["mode"]["text"]


def test_archive_makes_no_network_request(page, tmp_path, kit):
    path = write_archive(tmp_path, kit.make_snapshot([kit.three_metric_epoch(1)],
                                                     graph=kit.GRAPH))
    page.call("Network.enable")
    mark = len(page.browser.events)
    page.goto(path.as_uri())
    page.wait_for(f"{COUNTER} === '1/10'")
    page.browser.pump(0.3)
    requested = [ev["params"]["request"]["url"] for ev in page.browser.events[mark:]
                 if ev["method"] == "Network.requestWillBeSent"
                 and ev.get("sessionId") == page.session]
    assert requested == [path.as_uri()]
    assert page.eval("performance.getEntriesByType('resource').length") == 0
    page.eval("document.getElementById('graph-details').open = true")
    assert page.errors() == []          # no CSP violation, no script error


def test_screenshot_of_the_archive_is_not_blank(tmp_path, kit):
    snap = kit.make_snapshot([kit.three_metric_epoch(e) for e in range(1, 21)], total=30,
                             graph=kit.GRAPH, label="screenshot run")
    path = write_archive(tmp_path, snap)
    shot = tmp_path / "shot.png"
    done = kit.run_chromium([f"--screenshot={shot}", "--window-size=1280,1600",
                             "--hide-scrollbars", "--virtual-time-budget=2000", path.as_uri()])
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    img = kit.decode_png(shot.read_bytes())
    assert img[:2] == (1280, 1600)
    stats = kit.image_stats(img)
    assert stats["colours"] > 200, stats               # text, lines, bars: not a flat page
    assert 0.05 < stats["white_share"] < 0.95, stats
    assert kit.pixel(img, 4, 700) == (245, 246, 248)   # the light theme's page background
    width, height, bpp, rows = img
    blue = sum(1 for y in range(0, height, 2) for x in range(0, width, 2)
               if abs(rows[y][x * bpp] - 47) < 30 and abs(rows[y][x * bpp + 1] - 111) < 30
               and abs(rows[y][x * bpp + 2] - 237) < 30)
    assert blue > 300                                   # the first series' colour is drawn


# --------------------------------------------------------------------------- rendering
def test_numbers_are_formatted_like_python(page, tmp_path, kit):
    cases = [  # (value, duration, expected metric text, expected duration text)
        (0.4321, 0.042, "0.4321", "42ms"),
        (1.234e-05, 1.25, "1.23e-05", "1.2s"),       # exact tie 1.25: half to even
        (123.456, 65.0, "123.46", "1m05s"),
        (0.0, 7380.0, "0", "2h03m"),
        (float("nan"), 0.5, "nan", "500ms"),
        (0.03125, 3.75, "0.0312", "3.8s"),           # exact ties: 0.0312|5 down, 3.7|5 up
        (100.125, 59.94, "100.12", "59.9s"),
        (-2.5, 3599.0, "-2.5000", "59m59s"),
        (0.00099999, 1.0, "1.00e-03", "1.0s"),
        (12345.678, 3600.0, "12345.68", "1h00m"),
    ]
    for value, _, text, _ in cases:                   # the Python side agrees
        assert format_metric(value) == text
    snap = kit.make_snapshot([kit.epoch_record(i + 1, {"v": v}, duration=d)
                              for i, (v, d, _, _) in enumerate(cases)], total=len(cases))
    page.goto(write_archive(tmp_path, snap).as_uri())
    rows = dict(page.rows())
    for i, (_, _, text, dur) in enumerate(cases):
        assert rows[i + 1]["v"] == text, (i, rows[i + 1])
        assert rows[i + 1]["duration"] == dur, (i, rows[i + 1])
    assert page.eval("document.querySelector('tr[data-epoch=\"5\"] td[data-col=\"v\"]')"
                     ".classList.contains('bad')") is True


def test_chart_controls_legend_log_scale_and_hover(page, tmp_path, kit):
    epochs = [kit.epoch_record(e, {"loss": 10.0 ** -e, "delta": e - 3.0,
                                   "gappy": (float("nan") if e == 3 else e * 0.1)})
              for e in range(1, 7)]
    page.goto(write_archive(tmp_path, kit.make_snapshot(epochs, total=6)).as_uri())
    chart = page.canvas("metrics-chart")
    assert chart["series"] == 3 and chart["log"] == "0" and chart["plotted"] > 500

    # log scale: only the series with every value > 0 is drawn
    page.eval("document.getElementById('log-scale').click()")
    chart = page.canvas("metrics-chart")
    assert chart["log"] == "1" and chart["series"] == 2       # loss and gappy
    na = page.eval("Array.from(document.querySelectorAll('#metrics-legend button.na'))"
                   ".map(function (b) { return b.querySelector('.name').textContent; })")
    assert na == ["delta"]
    page.eval("document.getElementById('log-scale').click()")

    # legend: clicking hides a series, hiding all leaves nothing plotted
    for name in ("loss", "delta"):
        page.eval("Array.from(document.querySelectorAll('#metrics-legend button'))"
                  f".find(function (b) {{ return b.querySelector('.name').textContent === "
                  f"{json.dumps(name)}; }}).click()")
    assert page.canvas("metrics-chart")["series"] == 1
    assert page.canvas("metrics-chart")["plotted"] > 100      # gappy: two pieces, still drawn
    page.eval("document.querySelector('#metrics-legend button:last-child').click()")
    chart = page.canvas("metrics-chart")
    assert chart["series"] == 0 and chart["plotted"] == 0
    page.eval("document.querySelectorAll('#metrics-legend button').forEach("
              "function (b) { b.click(); })")
    assert page.canvas("metrics-chart")["series"] == 3

    # hover over the right end: the read-out shows the last epoch
    box = page.eval("(function(){var r=document.getElementById('metrics-chart')"
                    ".getBoundingClientRect(); return [r.right, r.top + r.height / 2];})()")
    page.call("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": box[0] - 20, "y": box[1]})
    page.wait_for("!document.getElementById('metrics-tip').hidden")
    tip = page.text("metrics-tip")
    assert tip.startswith("epoch 6") and "1.00e-06" in tip and "3.0000" in tip

    # a series with nothing > 0 anywhere disables the switch
    snap = kit.make_snapshot([kit.epoch_record(e, {"delta": -1.0 * e}) for e in (1, 2)])
    page.goto(write_archive(tmp_path, snap, "neg.html").as_uri())
    assert page.eval("document.getElementById('log-scale').disabled") is True


def test_resources_panel_follows_what_was_measured(page, tmp_path, kit):
    none = kit.make_snapshot([kit.epoch_record(1, {"loss": 1.0})])
    page.goto(write_archive(tmp_path, none, "none.html").as_uri())
    assert page.eval("document.getElementById('resources-card').hidden") is True

    cpu_ram = kit.make_snapshot([kit.epoch_record(1, {"loss": 1.0}, resources={
        "cpu_percent": 55.0, "ram_used": 3 * 2**30, "ram_total": 12 * 2**30})])
    page.goto(write_archive(tmp_path, cpu_ram, "cpu.html").as_uri())
    assert page.eval("document.getElementById('resources-card').hidden") is False
    assert page.eval("document.getElementById('ram-bar') !== null") is True
    assert page.eval("document.getElementById('vram-bar') === null") is True
    assert "3.0 GiB / 12.0 GiB (25%)" in page.text("ram-bar")
    assert page.canvas("resources-chart")["series"] == 2          # CPU % and RAM %
    header = page.eval("Array.from(document.querySelectorAll('#epoch-head th'))"
                       ".map(function (t) { return t.textContent; })")
    assert header == ["Epoch", "Time", "loss", "CPU", "RAM"]


def test_snapshot_text_cannot_inject_markup(page, tmp_path, kit):
    evil = '<img src=x onerror="window.__pwned=1">'
    svg = kit.GRAPH_SVG.replace(
        "</svg>", '<script>window.__pwned=2</script><style>body{display:none}</style>'
                  '<a href="javascript:window.__pwned=3"><text>x</text></a></svg>'
    ).replace('<g id="node1"', '<g id="node1" onclick="window.__pwned=4"')
    graph = dict(kit.GRAPH, svg=svg, label=evil)
    snap = kit.make_snapshot([kit.epoch_record(1, {evil: 1.0, "constructor": 2.0})],
                             label=evil, graph=graph)
    page.goto(write_archive(tmp_path, snap).as_uri())
    page.eval("document.getElementById('graph-details').open = true")
    page.eval("document.querySelector('#graph-svg a').dispatchEvent(new MouseEvent('click'))")
    page.eval("document.querySelector('#graph-svg g.node').dispatchEvent(new MouseEvent('click'))")
    assert page.eval("typeof window.__pwned") == "undefined"
    assert page.eval("document.querySelectorAll('img').length") == 0
    assert page.text("label") == evil
    assert page.eval("document.querySelectorAll('#graph-svg script, #graph-svg style').length") == 0
    assert page.eval("document.querySelector('#graph-svg a').hasAttribute('href')") is False
    assert page.eval("getComputedStyle(document.body).display") == "block"
    row = dict(page.rows())[1]
    assert row[evil] == "1.0000" and row["constructor"] == "2.0000"


def test_dark_theme_and_hidpi_canvas(browser, tmp_path, kit):
    p = browser.new_page(width=1000, height=800, scale=2)
    try:
        p.call("Emulation.setEmulatedMedia",
               {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
        snap = kit.make_snapshot([kit.three_metric_epoch(e) for e in (1, 2, 3, 4)])
        p.goto(write_archive(tmp_path, snap).as_uri())
        assert p.eval("getComputedStyle(document.body).backgroundColor") == "rgb(14, 17, 22)"
        c = p.canvas("metrics-chart")
        assert c["width"] == 2 * c["cssWidth"] and c["height"] == 2 * c["cssHeight"]
        assert c["plotted"] > 2000          # lines at twice the resolution
        shot = p.call("Page.captureScreenshot", {"format": "png", "clip": {
            "x": 0, "y": 0, "width": 120, "height": 400, "scale": 1}})["data"]
        img = kit.decode_png(base64.b64decode(shot))
        assert kit.pixel(img, 4, 380) == (14, 17, 22)     # painted dark, not just styled
    finally:
        p.close()


def test_empty_run_draws_axes_but_no_lines(page, tmp_path, kit):
    page.goto(write_archive(tmp_path, kit.make_snapshot([], total=4)).as_uri())
    assert page.text("epoch-counter") == "0/4"
    chart = page.canvas("metrics-chart")
    assert chart["drawn"] > 500 and chart["plotted"] == 0
    assert page.eval("document.getElementById('epoch-empty').hidden") is False
