"""A total deadline for blocking HTTP work.

Connect and read timeouts bound each socket operation, so a server that
trickles a byte a second holds a request for as long as bytes come (urllib3's
`Timeout(total=...)` too: tried against the fault proxy's trickle, a 1 s total
let a 6 s answer through). A `Deadline` bounds the whole: the sockets its
requests use (on this thread) are registered with it, and when it passes they
are shut down, which wakes a blocked read at once. The request then fails;
the caller sees `deadline.expired` and raises a TimedOut.

    with Deadline(5.0) as deadline:
        try:
            ...requests over a guarded urllib3 pool or httpx client...
        except Exception:
            if deadline.expired: raise TimedOut(...)

Deadlines do not nest: inside one, `within()` keeps the outer one (a poll's
deadline covers each of its requests).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import socket
import threading
import time
from typing import Any, Callable, Iterator

_local = threading.local()


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._sockets: set[Any] = set()
        self._lock = threading.Lock()
        self._done = False
        self._timer: threading.Timer | None = None
        self._started = 0.0

    def __enter__(self) -> Deadline:
        self._outer = getattr(_local, "deadline", None)
        _local.deadline = self
        self._started = time.monotonic()
        self._timer = threading.Timer(self.seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._done = True
            self._sockets.clear()
        if self._timer is not None:
            self._timer.cancel()
        _local.deadline = self._outer

    def remaining(self) -> float:
        return max(0.0, self.seconds - (time.monotonic() - self._started))

    def watch(self, sock: Any) -> None:
        """Shut `sock` down when the deadline passes (at once if it has)."""
        with self._lock:
            if self._done or sock is None:
                return
            if not self.expired:
                self._sockets.add(sock)
                return
        _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)


def current() -> Deadline | None:
    return getattr(_local, "deadline", None)


@contextlib.contextmanager
def within(seconds: float) -> Iterator[Deadline]:
    """A deadline of `seconds`, or the one already running on this thread."""
    outer = current()
    if outer is not None:
        yield outer
        return
    with Deadline(seconds) as deadline:
        yield deadline


def carried(fn: Callable[[], Any]) -> Callable[[], Any]:
    """`fn`, to be run on another thread under this thread's deadline (a
    poll's queries asked side by side share the poll's)."""
    deadline = current()

    def run() -> Any:
        _local.deadline = deadline
        try:
            return fn()
        finally:
            _local.deadline = None

    return run


def watch(sock: Any) -> None:
    deadline = current()
    if deadline is not None:
        deadline.watch(sock)


def _shut(sock: Any) -> None:
    # The plain socket's shutdown, under any TLS wrapper: SSLSocket's own
    # would tear its state down under the thread reading it.
    raw = sock if isinstance(sock, socket.socket) else getattr(sock, "socket", None)
    if not isinstance(raw, socket.socket):
        return
    try:
        socket.socket.shutdown(raw, socket.SHUT_RDWR)
    except OSError:
        pass  # closed already


# --- urllib3 (requests, the kubernetes client) ---------------------------------------


@functools.cache
def _guarded_pools() -> dict[str, type]:
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    class Connection(HTTPConnection):
        def getresponse(self):  # type: ignore[override]
            watch(self.sock)
            return super().getresponse()

    class TLSConnection(HTTPSConnection):
        def getresponse(self):  # type: ignore[override]
            watch(self.sock)
            return super().getresponse()

    class Pool(HTTPConnectionPool):
        ConnectionCls = Connection

    class TLSPool(HTTPSConnectionPool):
        ConnectionCls = TLSConnection

    # An answer the deadline cut off mid-headers makes urllib3 log a warning
    # with a traceback (on the terminal of `cbconsole export`): not for ours.
    logging.getLogger("urllib3.connection").addFilter(_not_cut_off_by_us)
    return {"http": Pool, "https": TLSPool}


def _not_cut_off_by_us(record: logging.LogRecord) -> bool:
    deadline = current()  # the filter runs on the thread that logs
    return not (deadline is not None and deadline.expired
                and record.getMessage().startswith("Failed to parse headers"))


def guard_pools(manager: Any) -> Any:
    """Make a urllib3 PoolManager's connections answer to the deadline.
    Managers with pools of their own (SOCKS) are left as they are."""
    from urllib3.connectionpool import HTTPConnectionPool

    if manager.pool_classes_by_scheme.get("http") is HTTPConnectionPool:
        manager.pool_classes_by_scheme = _guarded_pools()
    return manager


def guard_session(session: Any) -> None:
    """The same for every adapter of a requests Session, proxied ones too."""
    for adapter in session.adapters.values():
        guard_pools(adapter.poolmanager)
        make_proxy_manager = adapter.proxy_manager_for

        def proxy_manager_for(proxy, _make=make_proxy_manager, **kwargs):
            return guard_pools(_make(proxy, **kwargs))

        adapter.proxy_manager_for = proxy_manager_for


# --- httpx (the flag service) --------------------------------------------------------


def guard_httpx(client: Any) -> None:
    """Make an httpx.Client's connections answer to the deadline: its
    transport's connection pool opens them through a backend that registers
    each stream's socket as it is used. (httpx offers no public way to give
    the pool a network backend: this sets httpx's and httpcore's attributes,
    and the flag-service trickle test fails if that ever stops working.)"""
    import httpcore

    class Stream(httpcore.NetworkStream):
        def __init__(self, inner: Any) -> None:
            self._inner = inner

        def _watch(self) -> None:
            watch(self._inner.get_extra_info("socket"))

        def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
            self._watch()
            return self._inner.read(max_bytes, timeout)

        def write(self, buffer: bytes, timeout: float | None = None) -> None:
            self._watch()
            self._inner.write(buffer, timeout)

        def close(self) -> None:
            self._inner.close()

        def start_tls(self, ssl_context, server_hostname=None, timeout=None):
            return Stream(self._inner.start_tls(ssl_context, server_hostname, timeout))

        def get_extra_info(self, info: str) -> Any:
            return self._inner.get_extra_info(info)

    class Backend(httpcore.NetworkBackend):
        def __init__(self, inner: Any) -> None:
            self._inner = inner

        def connect_tcp(self, *args, **kwargs):
            return Stream(self._inner.connect_tcp(*args, **kwargs))

        def connect_unix_socket(self, *args, **kwargs):
            return Stream(self._inner.connect_unix_socket(*args, **kwargs))

        def sleep(self, seconds: float) -> None:
            self._inner.sleep(seconds)

    transports = [client._transport, *getattr(client, "_mounts", {}).values()]
    for transport in transports:  # the mounts: proxies from the environment
        pool = getattr(transport, "_pool", None)
        if pool is not None and hasattr(pool, "_network_backend"):
            pool._network_backend = Backend(pool._network_backend)
