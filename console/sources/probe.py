"""`HttpProbe`: the runbook's health check (`curl -v URL/health`) and its
verification load test, over httpx. Blocking: call from thread workers.
Network failures never raise: they come back in plain words."""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from console.clock import Clock, system_clock
from console.errors import causes, first_line
from console.model.probe import HealthResult, NoAnswer, SmokeResult, smoke_result


class HttpProbe:
    """GET over httpx, one short timeout per request, TLS verified by default.
    Never raises for the network: the error says what happened."""

    def __init__(self, timeout: float = 2.0, verify: bool = True, clock: Clock = system_clock,
                 timer: Callable[[], float] = time.perf_counter) -> None:
        import httpx  # lazily: the demo never probes over the network

        self._httpx = httpx
        self.timeout = timeout
        self.verify = verify
        self.clock = clock
        self.timer = timer

    def _client(self, connections: int = 1):
        httpx = self._httpx
        return httpx.Client(timeout=self.timeout, verify=self.verify, follow_redirects=False,
                            limits=httpx.Limits(max_connections=connections))

    def _get(self, client, url: str) -> tuple[int | None, float | None, str | None]:
        """(status, latency ms, error in plain words) of one GET."""
        start = self.timer()
        try:
            response = client.get(url)
        except self._httpx.HTTPError as exc:
            return None, None, self._words(exc)
        except (OSError, ValueError) as exc:  # e.g. a URL httpx cannot take
            return None, None, f"cannot probe: {type(exc).__name__}"
        return response.status_code, (self.timer() - start) * 1000.0, None

    def _words(self, exc: Exception) -> str:
        httpx = self._httpx
        chain = causes(exc)
        if isinstance(exc, httpx.TimeoutException):
            return NoAnswer(f"no answer within {self.timeout:g} s")
        if any(isinstance(e, ssl.SSLError) for e in chain):
            tls = next(e for e in chain if isinstance(e, ssl.SSLError))
            return f"TLS failed: {getattr(tls, 'reason', None) or first_line(tls)}"
        if any(isinstance(e, ConnectionRefusedError) for e in chain):
            return "connection refused"
        text = " ".join(str(e) for e in chain).lower()
        if "name or service not known" in text or "nodename nor servname" in text \
                or "name resolution" in text or "no address associated" in text:
            return "host name does not resolve"
        if isinstance(exc, httpx.UnsupportedProtocol):
            return f"cannot probe: {first_line(exc)}"
        if isinstance(exc, httpx.RemoteProtocolError):
            return "the connection broke off"
        if isinstance(exc, httpx.ConnectError):
            return f"cannot connect: {first_line(exc)}"
        return type(exc).__name__

    # --- Probe -----------------------------------------------------------------------

    def check(self, url: str) -> HealthResult:
        at = self.clock()
        with self._client() as client:
            status, latency, error = self._get(client, url)
        return HealthResult(url=url, checked_at=at, status=status, latency_ms=latency,
                            error=error)

    def smoke(self, url: str, requests: int = 100, concurrency: int = 10) -> SmokeResult:
        concurrency = max(1, min(concurrency, requests or 1))
        with self._client(concurrency) as client, ThreadPoolExecutor(concurrency) as pool:
            results = list(pool.map(lambda _: self._get(client, url), range(requests)))
        return smoke_result(url, results)


