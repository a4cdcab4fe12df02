"""The dashboard server over plain HTTP (http.client / raw sockets only)."""
import http.client
import json
import os
import pathlib
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from flodl_core.errors import MonitorError
from flodl_core.monitor.server import DashboardServer


pytestmark = pytest.mark.usefixtures("no_dashboard_threads")


# --------------------------------------------------------------------------- helpers
@pytest.fixture
def server(source):
    srv = DashboardServer(source, port=0)
    srv.start()
    yield srv
    srv.close()


def get(srv, path, method="GET", body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


class EventStream:
    """Reads ``/events`` line by line; ``next()`` gives (event, data) and keeps comments."""

    def __init__(self, srv, timeout=5.0):
        self.conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=timeout)
        self.conn.request("GET", "/events")
        self.resp = self.conn.getresponse()
        self.comments = []

    def next(self):
        event, data = None, []
        while True:
            line = self.resp.fp.readline()
            if not line:
                raise EOFError("stream ended")
            line = line.decode("utf-8").rstrip("\n")
            if line.startswith(":"):
                self.comments.append(line)
            elif line.startswith("event: "):
                event = line[len("event: "):]
            elif line.startswith("data: "):
                data.append(line[len("data: "):])
            elif line == "" and (event or data):
                return event, json.loads("\n".join(data))

    def close(self):
        self.conn.close()


# --------------------------------------------------------------------------- routes
def test_page_is_served_with_security_headers(server):
    status, headers, body = get(server, "/")
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["X-Content-Type-Options"] == "nosniff"
    csp = headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp
    assert "script-src 'unsafe-inline'" in csp and "img-src data:" in csp
    assert b'new EventSource("/events")' in body
    assert b'id="flodl-data"' not in body          # live page: no data baked in
    assert int(headers["Content-Length"]) == len(body)


def test_head_sends_headers_only(server):
    status, headers, body = get(server, "/", method="HEAD")
    assert status == 200 and body == b""
    assert int(headers["Content-Length"]) > 1000


def test_query_string_is_ignored(server):
    status, headers, _ = get(server, "/?tab=metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    status, headers, _ = get(server, "/api/history?x=1")
    assert status == 200 and headers["Content-Type"] == "application/json"


def test_history_is_the_snapshot_with_nan_as_null(kit):
    rec = kit.epoch_record(1, {"loss": float("nan"), "acc": 0.5, "big": float("inf")},
                           duration=0.25)
    src = kit.FakeSource(kit.make_snapshot([rec], total=4, label="run </script>"))
    with DashboardServer(src, port=0) as srv:
        status, headers, body = get(srv, "/api/history")
    assert status == 200 and headers["Content-Type"] == "application/json"
    data = json.loads(body)
    assert data["epochs"] == [{"epoch": 1, "duration": 0.25,
                               "metrics": {"loss": None, "acc": 0.5, "big": None},
                               "resources": {}}]
    assert data["label"] == "run </script>" and data["total_epochs"] == 4
    assert b"NaN" not in body and b"Infinity" not in body
    assert data["hardware"] == kit.HARDWARE


def test_graph_svg_and_404_without_graph(kit):
    with DashboardServer(kit.FakeSource(kit.make_snapshot(graph=kit.GRAPH)), port=0) as srv:
        status, headers, body = get(srv, "/graph.svg")
    assert status == 200
    assert headers["Content-Type"] == "image/svg+xml"
    assert body.decode() == kit.GRAPH_SVG
    assert "script-src" not in headers["Content-Security-Policy"]   # no script in the SVG
    with DashboardServer(kit.FakeSource(kit.make_snapshot(graph=None)), port=0) as srv:
        status, headers, body = get(srv, "/graph.svg")
    assert status == 404 and headers["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize("path", ["/etc/passwd", "/../pyproject.toml", "/index.html",
                                  "/events/", "//etc/passwd", "/api", "/%2e%2e/README.md"])
def test_other_paths_are_404(server, path):
    status, headers, body = get(server, path)
    assert status == 404
    assert headers["Content-Type"].startswith("text/plain")
    assert b"[project]" not in body and b"root:" not in body


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "BREW"])
def test_other_methods_are_405(server, method):
    status, headers, _ = get(server, "/", method=method, body=b"x" * 100)
    assert status == 405
    assert headers["Allow"] == "GET, HEAD"


def test_foreign_host_header_is_refused_on_loopback(server):
    # what a page on another site sees after pointing its own name at 127.0.0.1
    status, _, body = get(server, "/api/history", headers={"Host": "evil.example:80"})
    assert status == 403 and b"localhost" in body
    for host in (f"localhost:{server.port}", f"127.0.0.1:{server.port}", "LOCALHOST"):
        assert get(server, "/api/history", headers={"Host": host})[0] == 200, host


def test_a_failing_source_gives_500_and_the_server_keeps_going(kit):
    class Broken(kit.FakeSource):
        def snapshot(self):
            raise ValueError("history is corrupt")
    with DashboardServer(Broken(kit.make_snapshot()), port=0) as srv:
        status, _, body = get(srv, "/api/history")
        assert status == 500 and b"ValueError: history is corrupt" in body
        assert get(srv, "/")[0] == 200


# --------------------------------------------------------------------------- events
def test_events_snapshot_then_live_events(server, source, kit):
    stream = EventStream(server)
    try:
        assert stream.resp.getheader("Content-Type").startswith("text/event-stream")
        assert stream.resp.getheader("Cache-Control") == "no-cache"
        event, data = stream.next()
        assert event == "snapshot"
        assert [r["epoch"] for r in data["epochs"]] == [1, 2, 3]
        assert data["epochs"][1]["metrics"] == {"loss": 1.0, "val_loss": 1.25, "accuracy": 0.75}

        rec = source.log(kit.epoch_record(4, {"loss": float("nan")}, duration=2.0))
        server.publish("epoch", rec)
        assert stream.next() == ("epoch", {"epoch": 4, "duration": 2.0,
                                           "metrics": {"loss": None}, "resources": {}})

        server.publish("graph", kit.GRAPH)
        event, data = stream.next()
        assert event == "graph" and data["params_frozen"] == 34567

        final = dict(source.snapshot(), status="complete", eta=None)
        server.publish("complete", final)
        event, data = stream.next()
        assert event == "complete"
        assert data["status"] == "complete" and len(data["epochs"]) == 4
    finally:
        stream.close()


def test_late_join_backfills_every_past_epoch(server, source, kit):
    for e in (4, 5):                       # published while nobody listens
        server.publish("epoch", source.log(kit.three_metric_epoch(e)))
    stream = EventStream(server)
    try:
        event, data = stream.next()
        assert event == "snapshot"
        assert [r["epoch"] for r in data["epochs"]] == [1, 2, 3, 4, 5]
    finally:
        stream.close()


def test_every_client_gets_every_event(server, source, kit):
    streams = [EventStream(server) for _ in range(3)]
    try:
        for s in streams:
            assert s.next()[0] == "snapshot"
        server.publish("epoch", source.log(kit.three_metric_epoch(4)))
        for s in streams:
            event, data = s.next()
            assert event == "epoch" and data["epoch"] == 4
        assert server.client_count == 3
    finally:
        for s in streams:
            s.close()


def test_heartbeat_comments_keep_the_stream_alive(source):
    with DashboardServer(source, port=0, heartbeat=0.05) as srv:
        stream = EventStream(srv)
        try:
            stream.next()                                   # the snapshot
            deadline = time.monotonic() + 3
            while ": keep-alive" not in stream.comments and time.monotonic() < deadline:
                srv.publish("epoch", {"epoch": 99, "duration": 0.0, "metrics": {},
                                      "resources": {}})
                time.sleep(0.2)                             # silence long enough for one
                stream.next()
            assert ": keep-alive" in stream.comments
        finally:
            stream.close()


def test_stalled_client_never_blocks_publish(source):
    with DashboardServer(source, port=0, max_queued=4) as srv:
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect(("127.0.0.1", srv.port))
        stalled.sendall(b"GET /events HTTP/1.0\r\n\r\n")    # ...and never reads
        healthy = EventStream(srv)
        try:
            healthy.next()
            deadline = time.monotonic() + 3
            while srv.client_count < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert srv.client_count == 2
            slowest = 0.0
            for i in range(60):               # 12 MB: far more than socket buffers hold
                payload = {"epoch": i, "duration": 0.0, "metrics": {}, "resources": {},
                           "pad": "x" * 200_000}
                t0 = time.perf_counter()
                srv.publish("epoch", payload)
                slowest = max(slowest, time.perf_counter() - t0)
                event, data = healthy.next()  # a client that reads keeps up
                assert event == "epoch" and data["epoch"] == i
            assert slowest < 0.25, f"publish waited {slowest:.3f}s for a stalled client"
            deadline = time.monotonic() + 3
            while srv.client_count > 1 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert srv.client_count == 1          # the stalled one was dropped
        finally:
            healthy.close()
            stalled.close()


# --------------------------------------------------------------------------- binding
def test_binds_loopback_and_port_zero_picks_a_free_port(server):
    host, port = server.address
    assert host == "127.0.0.1"
    assert port == server.port and port > 0
    assert server.url == f"http://127.0.0.1:{port}/"


def test_port_in_use_names_the_address_and_suggests_port_zero(source):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        srv = DashboardServer(source, port=port)
        with pytest.raises(MonitorError, match=rf"127\.0\.0\.1:{port}.*port=0"):
            srv.start()
        srv.close()
    finally:
        taken.close()


def test_bad_arguments_are_rejected(source):
    with pytest.raises(TypeError, match="snapshot"):
        DashboardServer(object())
    with pytest.raises(TypeError, match="port"):
        DashboardServer(source, port="3000")
    with pytest.raises(ValueError, match="0..65535"):
        DashboardServer(source, port=70000)
    with pytest.raises(TypeError, match="host"):
        DashboardServer(source, host=127)
    srv = DashboardServer(source, port=0)
    with pytest.raises(ValueError, match="event"):
        srv.publish("epoch\ndata: injected", {})
    with pytest.raises(TypeError, match="to_json"):
        srv.publish("epoch", {"epoch": object()})


# --------------------------------------------------------------------------- shutdown
def _dashboard_threads():
    return [t for t in threading.enumerate() if t.name.startswith("flodl-dashboard")]


def test_close_ends_streams_promptly_and_frees_the_port(source):
    srv = DashboardServer(source, port=0)
    srv.start()
    port = srv.port
    stream = EventStream(srv, timeout=10)
    try:
        assert stream.next()[0] == "snapshot"
        t0 = time.monotonic()
        srv.close()
        with pytest.raises(EOFError):
            stream.next()
        assert time.monotonic() - t0 < 2.0
    finally:
        stream.close()
    assert _dashboard_threads() == []
    again = DashboardServer(source, port=port)      # the same port is free again
    again.start()
    try:
        assert get(again, "/")[0] == 200
    finally:
        again.close()


def test_complete_is_delivered_before_close_ends_the_stream(server, source):
    stream = EventStream(server)
    try:
        stream.next()
        server.publish("complete", dict(source.snapshot(), status="complete"))
        server.close()                                    # what Monitor.finish does
        event, data = stream.next()
        assert event == "complete" and data["status"] == "complete"
        with pytest.raises(EOFError):
            stream.next()
    finally:
        stream.close()


def test_close_is_idempotent_and_final(source):
    srv = DashboardServer(source, port=0)
    srv.close()                                          # before start: fine
    srv.close()
    with pytest.raises(MonitorError, match="closed"):
        srv.start()
    srv = DashboardServer(source, port=0)
    srv.start()
    with pytest.raises(MonitorError, match="already serving"):
        srv.start()
    srv.close()
    srv.close()
    srv.publish("epoch", {"epoch": 1})                    # after close: ignored
    assert srv.closed and srv.client_count == 0
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", srv.port), timeout=1).close()


def test_interpreter_exit_closes_the_server(tmp_path):
    # A script that serves, keeps a stream open and exits without close(). Its own
    # atexit hook is registered first, so it runs after the server's and sees
    # whether the server was really closed.
    script = textwrap.dedent("""
        import atexit, http.client
        from flodl_core.monitor.server import DashboardServer
        class Src:
            def snapshot(self):
                return {"label": "t", "total_epochs": 1, "status": "running",
                        "started_at": 0.0, "elapsed": 0.0, "eta": None, "epochs": [],
                        "graph": None, "hardware": {}}
        srv = DashboardServer(Src(), port=0)
        atexit.register(lambda: print("closed" if srv.closed and srv.client_count == 0
                                      else "still open", flush=True))
        srv.start()
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
        conn.request("GET", "/events")
        resp = conn.getresponse()
        assert resp.fp.readline()
        print("serving", flush=True)
    """)
    root = pathlib.Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=20, cwd=str(tmp_path),
                          env={**os.environ, "PYTHONPATH": str(root)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["serving", "closed"]
