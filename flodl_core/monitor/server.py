"""The live dashboard's HTTP server: one page, one event stream, two JSON/SVG views.

Standard library only (``http.server``, ``threading``, ``queue``). The server
runs on a daemon thread next to the training loop and never serves a file from
disk: every answer is built in memory from the page template or from
``source.snapshot()``.

=================  ==========================================================
``GET /``          the live page (``render_page()``)
``GET /events``    Server-Sent Events: one ``snapshot`` event with everything
                   so far, then ``epoch``, ``graph`` and ``complete`` events
``GET /graph.svg`` the watched graph's SVG, 404 when there is none
``GET /api/history`` the snapshot as JSON
anything else      404; methods other than GET/HEAD get 405
=================  ==========================================================

Bound to loopback (the default), it also refuses (403) requests whose ``Host``
header names another machine: that is how a web page elsewhere would reach a
local server through DNS rebinding.

Design notes:

* **Fan-out without waiting.** Each ``/events`` client gets a bounded queue.
  :meth:`DashboardServer.publish` serialises the event once and drops it into
  every queue with ``put_nowait``; a client whose queue is full (it stopped
  reading) is disconnected rather than waited for, so a stuck browser tab can
  never slow the training loop.
* **Late join without loss.** A new client is registered *before* the
  snapshot is taken. Anything published after registration lands in its
  queue; anything before is already in the snapshot (the monitor records an
  epoch before publishing it). The worst case is an epoch seen twice, which
  the page handles by keying epochs by number. The snapshot is taken outside
  the server's lock so the server never calls into the source while holding
  it (no lock-order deadlock with the source's own lock).
* **Clean shutdown.** :meth:`DashboardServer.close` stops accepting, ends every
  stream with a sentinel (queued events are still delivered first), forces
  open any connection that does not finish promptly, and joins the threads.
  It is idempotent and also runs at interpreter exit.
"""
from __future__ import annotations

import atexit
import errno
import queue
import re
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from ..errors import MonitorError
from .page import CONTENT_SECURITY_POLICY, render_page, to_json

__all__ = ["DashboardServer"]

_END = object()                              # tells a stream handler to finish
_EVENT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
_SVG_POLICY = "default-src 'none'; style-src 'unsafe-inline'"
_LOOPBACK_NAMES = {"127.0.0.1", "localhost", "::1"}


class _Subscriber:
    """One connected ``/events`` client: its queue and its socket."""

    __slots__ = ("queue", "connection", "dropped")

    def __init__(self, connection, max_queued: int):
        self.queue = queue.Queue(maxsize=max_queued)
        self.connection = connection
        self.dropped = False


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False        # DashboardServer joins its handlers itself, with a timeout
    dashboard: "DashboardServer"

    def handle_error(self, request, client_address):
        # A client that goes away mid-answer is normal for a dashboard; stay quiet.
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class _HTTPServer6(_HTTPServer):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    server_version = "flodl-monitor"
    sys_version = ""
    protocol_version = "HTTP/1.0"  # one request per connection: nothing idles between requests
    timeout = 30                   # bounds reads/writes on a client that stops responding
    _headers_done = False

    # ------------------------------------------------------------- plumbing
    def log_message(self, format, *args):    # keep the training output clean
        pass

    def setup(self):
        super().setup()
        self.server.dashboard._track(self.connection)

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.server.dashboard._untrack(self.connection)

    def __getattr__(self, name):
        # http.server looks up do_<METHOD>; every method but GET/HEAD gets a 405
        # (instead of the default 501) without listing them all.
        if name.startswith("do_"):
            return self._method_not_allowed
        raise AttributeError(name)

    def _respond(self, code: int, ctype: str, body: bytes, send_body: bool,
                 headers: dict | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        self.send_header("X-Content-Type-Options", "nosniff")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def _text(self, code: int, text: str, send_body: bool = True, headers=None) -> None:
        self._respond(code, "text/plain; charset=utf-8", text.encode("utf-8"), send_body, headers)

    # ------------------------------------------------------------- routes
    def do_GET(self):
        self._route(send_body=True)

    def do_HEAD(self):
        self._route(send_body=False)

    def _method_not_allowed(self):
        # Read (a bounded amount of) any request body first: closing a socket with
        # unread data makes the kernel reset the connection before the answer arrives.
        try:
            length = min(int(self.headers.get("Content-Length") or 0), 1 << 16)
        except ValueError:
            length = 0
        if length > 0:
            self.rfile.read(length)
        self._text(405, f"method {self.command} not allowed: this server only answers "
                        f"GET and HEAD\n", headers={"Allow": "GET, HEAD"})

    def _route(self, send_body: bool) -> None:
        dash = self.server.dashboard
        if not dash._host_allowed(self.headers.get("Host")):
            self._text(403, "this dashboard only answers requests addressed to this "
                            "machine (localhost)\n", send_body)
            return
        path = urlsplit(self.path).path          # the query string is ignored
        try:
            self._serve_path(path, send_body)
        except OSError:
            raise                                # the client went away: nothing to answer
        except Exception as e:                   # a failing snapshot(): say so, keep serving
            if not self._headers_done:
                self._text(500, f"the monitor could not build its snapshot: "
                                f"{type(e).__name__}: {e}\n", send_body)

    def end_headers(self):
        self._headers_done = True      # after this point an error can only close the connection
        super().end_headers()

    def _serve_path(self, path: str, send_body: bool) -> None:
        dash = self.server.dashboard
        if path == "/":
            self._respond(200, "text/html; charset=utf-8", dash._page, send_body,
                          {"Content-Security-Policy": CONTENT_SECURITY_POLICY + "; "
                                                      "frame-ancestors 'none'",
                           "Referrer-Policy": "no-referrer"})
        elif path == "/events":
            self._events(send_body)
        elif path == "/api/history":
            body = to_json(dash._source.snapshot()).encode("utf-8")
            self._respond(200, "application/json", body, send_body)
        elif path == "/graph.svg":
            graph = dash._source.snapshot().get("graph")
            svg = graph.get("svg") if isinstance(graph, dict) else None
            if isinstance(svg, str) and svg:
                # An SVG opened on its own could run script: forbid it.
                self._respond(200, "image/svg+xml", svg.encode("utf-8"), send_body,
                              {"Content-Security-Policy": _SVG_POLICY})
            else:
                self._text(404, "no graph: call Monitor.watch(model) to show one\n", send_body)
        else:
            self._text(404, "not found\n", send_body)

    def _events(self, send_body: bool) -> None:
        dash = self.server.dashboard
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("X-Accel-Buffering", "no")   # proxies: do not buffer the stream
        self.end_headers()
        if not send_body:
            return
        sub = dash._subscribe(self.connection)         # register first, then snapshot
        if sub is None:                                 # the server is closing
            return
        try:
            self.wfile.write(b"retry: 2000\n\n")        # reconnect delay for EventSource
            self.wfile.write(_sse("snapshot", to_json(dash._source.snapshot())))
            while not sub.dropped:
                try:
                    item = sub.queue.get(timeout=dash._heartbeat)
                except queue.Empty:
                    item = b": keep-alive\n\n"           # a comment: keeps proxies from timing out
                if item is _END or sub.dropped:
                    break
                self.wfile.write(item)
        except OSError:
            pass                                        # the client left, or was dropped
        finally:
            dash._unsubscribe(sub)


def _sse(event: str, payload: str) -> bytes:
    # to_json never writes a newline, so one data: line carries the whole payload
    return f"event: {event}\ndata: {payload}\n\n".encode("utf-8")


# --------------------------------------------------------------------------- server
class DashboardServer:
    """Serve the live dashboard of ``source`` (any object with ``.snapshot()``).

    Args:
        source: the object whose ``snapshot()`` dict the page shows (a Monitor).
        host: the interface to bind; loopback by default, so only this machine
            can connect. ``"0.0.0.0"`` shares the dashboard on the network.
        port: the TCP port; ``0`` lets the system pick a free one (see ``port``).
        heartbeat: seconds of silence after which a ``: keep-alive`` comment is
            sent on each event stream.
        max_queued: events buffered per client before a client that stopped
            reading is dropped.

    Example::

        server = DashboardServer(monitor, port=0)
        server.start()
        print(server.url)                 # http://127.0.0.1:54321/
        server.publish("epoch", record)
        server.close()
    """

    def __init__(self, source, host: str = "127.0.0.1", port: int = 3000, *,
                 heartbeat: float = 15.0, max_queued: int = 256):
        fn = "DashboardServer"
        if not callable(getattr(source, "snapshot", None)):
            raise TypeError(f"{fn}: source must have a snapshot() method returning the "
                            f"snapshot dict (a Monitor), got {type(source).__name__}")
        if not isinstance(host, str):
            raise TypeError(f"{fn}: host must be a str such as '127.0.0.1', "
                            f"got {type(host).__name__}")
        if isinstance(port, bool) or not isinstance(port, int):
            raise TypeError(f"{fn}: port must be an int, got {type(port).__name__}")
        if not 0 <= port <= 65535:
            raise ValueError(f"{fn}: port must be in 0..65535 (0 picks a free port), got {port}")
        if isinstance(heartbeat, bool) or not isinstance(heartbeat, (int, float)) \
                or not heartbeat > 0:
            raise ValueError(f"{fn}: heartbeat must be a positive number of seconds, "
                             f"got {heartbeat!r}")
        if isinstance(max_queued, bool) or not isinstance(max_queued, int) or max_queued < 1:
            raise ValueError(f"{fn}: max_queued must be a positive int, got {max_queued!r}")
        self._source = source
        self._host = host
        self._requested_port = port
        self._heartbeat = float(heartbeat)
        self._max_queued = max_queued
        self._page = render_page().encode("utf-8")
        self._lock = threading.Lock()
        self._subscribers: set = set()
        self._connections: set = set()
        self._handlers: set = set()
        self._httpd = None
        self._thread = None
        self._closed = False

    # ------------------------------------------------------------- lifecycle
    def start(self) -> None:
        """Bind and serve on a daemon thread. Raises MonitorError when the port is taken."""
        fn = "DashboardServer.start"
        if self._closed:
            raise MonitorError(f"{fn}: this server was closed; create a new one")
        if self._httpd is not None:
            raise MonitorError(f"{fn}: already serving at {self.url}")
        where = f"{self._host}:{self._requested_port}"
        cls = _HTTPServer6 if ":" in self._host else _HTTPServer
        try:
            httpd = cls((self._host, self._requested_port), _Handler)
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise MonitorError(f"{fn}: {where} is already in use (another dashboard or "
                                   f"program); pick another port or pass port=0 for a "
                                   f"free one") from e
            raise MonitorError(f"{fn}: cannot listen on {where}: "
                               f"{e.strerror or e}") from e
        httpd.dashboard = self
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"flodl-dashboard:{self.port}", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def close(self) -> None:
        """Stop serving: end the event streams, free the port, join the threads.

        Safe to call more than once, and before :meth:`start`.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            subscribers = list(self._subscribers)
        atexit.unregister(self.close)
        for sub in subscribers:      # queued events go out first, then the stream ends
            try:
                sub.queue.put_nowait(_END)
            except queue.Full:
                self._drop(sub)
        if self._httpd is None:
            return
        self._httpd.shutdown()       # stops accepting
        self._httpd.server_close()   # frees the port
        self._thread.join()
        if not self._join_handlers(1.0):
            with self._lock:     # a client that is not reading: cut it off
                stuck = list(self._connections)
            for conn in stuck:
                _shutdown(conn)
            self._join_handlers(2.0)

    def __enter__(self):
        if self._httpd is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.close()

    def _join_handlers(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._lock:
            handlers = [t for t in self._handlers if t is not threading.current_thread()]
        for t in handlers:
            t.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in handlers)

    # ------------------------------------------------------------- properties
    @property
    def port(self) -> int:
        """The bound port (the one the system picked when created with ``port=0``)."""
        if self._httpd is None:
            return self._requested_port
        return self._httpd.server_address[1]

    @property
    def address(self) -> tuple:
        """``(host, port)`` of the listening socket, as the system reports it."""
        if self._httpd is None:
            raise MonitorError("DashboardServer.address: not started; call start() first")
        return tuple(self._httpd.server_address[:2])

    @property
    def url(self) -> str:
        """The page's address, e.g. ``http://127.0.0.1:54321/``."""
        host = self._host
        if host in ("", "0.0.0.0"):      # all interfaces: this machine reaches it on loopback
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}/"

    @property
    def client_count(self) -> int:
        """How many ``/events`` streams are open."""
        with self._lock:
            return len(self._subscribers)

    @property
    def closed(self) -> bool:
        return self._closed

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("serving" if self._httpd else "not started")
        return f"DashboardServer({self.url!r}, {state})"

    # ------------------------------------------------------------- events
    def publish(self, event: str, data) -> None:
        """Send ``event`` with ``data`` to every connected page; never blocks.

        ``event`` is ``"epoch"`` (one epoch record), ``"graph"`` (the
        snapshot's ``graph`` entry) or ``"complete"`` (the final snapshot).
        Publishing with no client connected, or after :meth:`close`, does nothing.
        """
        if not isinstance(event, str) or not _EVENT_NAME.fullmatch(event):
            raise ValueError(f"DashboardServer.publish: event must be a name such as "
                             f"'epoch', 'graph' or 'complete', got {event!r}")
        payload = _sse(event, to_json(data))
        with self._lock:
            subscribers = list(self._subscribers)
        for sub in subscribers:
            try:
                sub.queue.put_nowait(payload)
            except queue.Full:        # the client stopped reading: let it go
                self._drop(sub)

    # ------------------------------------------------------------- bookkeeping
    def _host_allowed(self, host_header) -> bool:
        """On loopback, answer only requests addressed to this machine by name.

        A web page elsewhere can point a DNS name at 127.0.0.1 ("DNS rebinding")
        and read a local server as same-origin; its requests still carry that
        other name in the Host header, so they are refused here.
        """
        if self._host not in _LOOPBACK_NAMES:
            return True                        # bound for the network on purpose
        if not host_header:
            return True                        # HTTP/1.0 clients may omit it
        name = host_header.strip().lower()
        if name.startswith("["):               # [::1]:port
            name = name[1:name.find("]")] if "]" in name else name
        else:
            name = name.rsplit(":", 1)[0] if name.count(":") == 1 else name
        return name in _LOOPBACK_NAMES

    def _subscribe(self, connection):
        with self._lock:
            if self._closed:
                return None
            sub = _Subscriber(connection, self._max_queued)
            self._subscribers.add(sub)
            return sub

    def _unsubscribe(self, sub) -> None:
        with self._lock:
            self._subscribers.discard(sub)

    def _drop(self, sub) -> None:
        with self._lock:
            self._subscribers.discard(sub)
        sub.dropped = True
        _shutdown(sub.connection)     # wakes a handler blocked writing to that client

    def _track(self, connection) -> None:
        with self._lock:
            self._connections.add(connection)
            self._handlers.add(threading.current_thread())

    def _untrack(self, connection) -> None:
        with self._lock:
            self._connections.discard(connection)
            self._handlers.discard(threading.current_thread())


def _shutdown(connection) -> None:
    try:
        connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
