"""A fault-injecting TCP proxy for the tests, put between cbconsole and a
backend (Prometheus, the Kubernetes API test server, the flag test server).

    proxy = FaultProxy("127.0.0.1", backend_port)
    source = PrometheusSource(proxy.url)
    proxy.set("stall")            # every new request from now on
    proxy.set("reset", only=("PATCH",))   # only mutating requests
    proxy.set("trickle", path="/log")     # only requests whose target has "/log"
    proxy.clear()                 # back to "pass"

Modes, switchable at runtime, decided per HTTP request (a kept-alive
connection meets the new mode at its next request):

- pass: bytes go through untouched.
- refuse: the listening socket is closed (connection refused, as when the
  server is down) and open connections are cut; `clear()` listens again on
  the same port.
- reset: the request is forwarded, then the response is cut: the status line
  and headers and `reset_after` bytes of the body reach the client, then an
  RST (SO_LINGER 0). The backend did see (and act on) the request.
- stall: the request is swallowed and never answered (nor forwarded); the
  connection stays open until the client gives up or the mode is cleared.
- trickle: the response is forwarded `trickle_bytes` at a time, one piece per
  `trickle_interval` seconds.
- garbage: the request is swallowed and answered with bytes that are not HTTP,
  then the connection is closed.

With `token_file` set, the proxy is also an auth proxy (as one in front of
a Prometheus that has none): a request passes only with `Authorization:
Bearer <the file's content now>`, read per request; any other is answered
401 by the proxy (recorded as mode "unauthorized") and never forwarded.
`before_next(fn)` runs `fn` once, as the next request arrives and before its
token is checked: a token file rotated while the request was on its way.

Every request line seen is recorded with the mode applied to it
(`proxy.seen`), so a test can tell what reached the proxy from what reached
the backend. Threads are daemons; `close()` cuts everything and joins them.
"""

from __future__ import annotations

import random
import re
import select
import socket
import struct
import threading
import time
from pathlib import Path
from typing import Callable, Self

MODES = ("pass", "refuse", "reset", "stall", "trickle", "garbage")
_REQUEST_LINE = re.compile(rb"^([A-Z]{3,10}) (\S+) HTTP/1\.[01]\r?\n")
#: Not HTTP, not TLS, not JSON: what a confused middlebox might send.
GARBAGE = b"\x00\xffNOT-HTTP\x1b[31m" + random.Random(7).randbytes(48) + b"\r\n\r\n"


_UNAUTHORIZED_BODY = b'{"status":"error","errorType":"unauthorized","error":"bearer token refused"}'
UNAUTHORIZED = (b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(_UNAUTHORIZED_BODY)
                + _UNAUTHORIZED_BODY)


def _abort(sock: socket.socket) -> None:
    """Close with an RST, not a FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def _recv(sock: socket.socket | None, closed: threading.Event) -> bytes:
    """The next bytes from `sock`, b"" at its end or once the connection is
    closed. Waits in short select()s: a blocked recv() would keep a socket
    another thread closes from being closed (and from sending its RST)."""
    while sock is not None and not closed.is_set():
        try:
            ready, _, _ = select.select([sock], [], [], 0.05)
            if ready:
                return sock.recv(65536)
        except (OSError, ValueError):
            return b""
    return b""


class _Conn:
    def __init__(self, client: socket.socket) -> None:
        self.client = client
        self.upstream: socket.socket | None = None
        self.fault = "pass"  # of the request whose response is coming
        self.stalled = False
        self.closed = threading.Event()

    def abort(self) -> None:
        """Cut the client off with an RST; let the backend go with a FIN."""
        if self.closed.is_set():
            return
        self.closed.set()
        _abort(self.client)
        _close(self.upstream)

    def finish(self) -> None:
        """Close both sides with a FIN, at once (shutdown does not wait for
        another thread's select() to let go of the socket)."""
        if self.closed.is_set():
            return
        self.closed.set()
        _close(self.client)
        _close(self.upstream)


def _close(sock: socket.socket | None) -> None:
    if sock is None:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


class FaultProxy:
    def __init__(self, target_host: str, target_port: int, *, host: str = "127.0.0.1",
                 reset_after: int = 5, trickle_bytes: int = 4,
                 trickle_interval: float = 0.05) -> None:
        self.target = (target_host, target_port)
        self.host = host
        self.reset_after = reset_after
        self.trickle_bytes = trickle_bytes
        self.trickle_interval = trickle_interval
        self.mode = "pass"
        self.only: tuple[str, ...] | None = None
        self.token_file: Path | None = None  # require its bearer token (see above)
        self._before_next: Callable[[], None] | None = None
        self.path: str | None = None
        #: (mode applied, request line) of every request seen, oldest first.
        self.seen: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._conns: set[_Conn] = set()
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
        self.port = 0
        self._listen()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url_for(self, scheme_path: str = "") -> str:
        """`url_for("/api")` -> http://127.0.0.1:PORT/api; a full scheme
        ("https://") replaces http://."""
        if "://" in scheme_path:
            scheme, _, path = scheme_path.partition("://")
            return f"{scheme}://{self.host}:{self.port}{path}"
        return self.url + scheme_path

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- Controls ----------------------------------------------------------------

    def set(self, mode: str, *, only: tuple[str, ...] | None = None,
            path: str | None = None) -> None:
        """Apply `mode` to every request from now on (`only`: to these HTTP
        methods only; `path`: to request targets containing it; the others pass)."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}: one of {', '.join(MODES)}")
        with self._lock:
            self.mode, self.only = mode, tuple(m.upper() for m in only) if only else None
            self.path = path
            conns = list(self._conns)
        if mode == "refuse":
            self._unlisten()
            for conn in conns:  # as a server going down: FIN, and nobody listens
                conn.finish()
            return
        if self._listener is None:
            self._listen()
        if mode == "pass":
            for conn in conns:  # what was held is let go
                if conn.stalled:
                    conn.abort()

    def clear(self) -> None:
        self.set("pass")

    def before_next(self, fn: Callable[[], None]) -> None:
        """Run `fn` once, when the next request arrives, before its token is checked."""
        with self._lock:
            self._before_next = fn

    def _authorized(self, data: bytes) -> bool:
        with self._lock:
            hook, self._before_next = self._before_next, None
        if hook is not None:
            hook()
        sent = re.search(rb"\r\nAuthorization: Bearer (\S+)\r\n", data, re.IGNORECASE)
        return sent is not None and sent.group(1).decode("latin-1") == \
            self.token_file.read_text().strip()

    def requests(self, mode: str | None = None, method: str | None = None) -> list[str]:
        """Request lines seen (with that mode applied / of that method)."""
        with self._lock:
            return [line for m, line in self.seen
                    if (mode is None or m == mode)
                    and (method is None or line.startswith(method.upper() + " "))]

    def close(self) -> None:
        self._stopping.set()
        self._unlisten()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            conn.abort()
        for thread in list(self._threads):
            thread.join(timeout=2)

    # --- Listening -----------------------------------------------------------------

    def _listen(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(64)
        sock.settimeout(0.05)
        self.port = sock.getsockname()[1]
        self._listener = sock
        self._acceptor = self._spawn(self._accept_loop, sock)

    def _unlisten(self) -> None:
        sock, self._listener = self._listener, None
        if sock is not None:
            sock.close()
        if self._acceptor is not None:
            # Closed for real once its accept loop lets go (within 0.05 s):
            # from then on, connecting is refused.
            self._acceptor.join(timeout=2)
            self._acceptor = None

    def _spawn(self, target, *args) -> threading.Thread:
        thread = threading.Thread(target=target, args=args, daemon=True,
                                  name=f"faultproxy-{target.__name__}")
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()
        return thread

    def _accept_loop(self, listener: socket.socket) -> None:
        while not self._stopping.is_set() and self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # closed: refuse mode or close()
            client.settimeout(None)
            conn = _Conn(client)
            with self._lock:
                self._conns.add(conn)
            self._spawn(self._serve, conn)

    # --- One connection -------------------------------------------------------------

    def _serve(self, conn: _Conn) -> None:
        try:
            try:
                conn.upstream = socket.create_connection(self.target, timeout=5)
                conn.upstream.settimeout(None)
            except OSError:
                conn.abort()  # the backend is down: so are we
                return
            self._spawn(self._pump, conn)
            self._requests(conn)
        finally:
            with self._lock:
                self._conns.discard(conn)

    def _requests(self, conn: _Conn) -> None:
        """Client to backend, deciding each request's fault on its first bytes."""
        while not conn.closed.is_set():
            data = _recv(conn.client, conn.closed)
            if not data:
                break
            start = _REQUEST_LINE.match(data)
            if start:
                method, target = start.group(1).decode(), start.group(2).decode("latin-1")
                line = data.split(b"\r\n", 1)[0].decode("latin-1")
                with self._lock:
                    chosen = ((not self.only or method in self.only)
                              and (self.path is None or self.path in target))
                    fault = self.mode if chosen else "pass"
                    self.seen.append((fault, line))
                if fault == "pass" and self.token_file is not None and not self._authorized(data):
                    with self._lock:
                        self.seen[-1] = ("unauthorized", line)
                    try:
                        conn.client.sendall(UNAUTHORIZED)
                    except OSError:
                        pass
                    break
                conn.fault, conn.stalled = fault, fault == "stall"
                if fault == "garbage":
                    try:
                        conn.client.sendall(GARBAGE)
                    except OSError:
                        pass
                    break
            if conn.stalled:
                continue  # swallowed: no answer, ever
            try:
                conn.upstream.sendall(data)
            except OSError:
                break
        conn.finish()

    def _pump(self, conn: _Conn) -> None:
        """Backend to client, through the current request's fault."""
        head: bytes | None = b""  # the response's bytes up to the body, while a reset waits
        while not conn.closed.is_set():
            data = _recv(conn.upstream, conn.closed)
            if not data:
                break
            try:
                if conn.fault == "reset":
                    head = (head or b"") + data
                    end = head.find(b"\r\n\r\n")
                    if end < 0:
                        continue
                    conn.client.sendall(head[: end + 4 + self.reset_after])
                    time.sleep(0.2)  # let the client read it and wait for the rest
                    conn.abort()
                    return
                if conn.fault == "trickle":
                    for i in range(0, len(data), self.trickle_bytes):
                        if conn.closed.is_set():
                            return
                        conn.client.sendall(data[i: i + self.trickle_bytes])
                        time.sleep(self.trickle_interval)
                    continue
                conn.client.sendall(data)
            except OSError:
                break
        conn.finish()
