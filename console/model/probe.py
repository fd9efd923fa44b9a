"""HTTP probes of a downstream: the runbook's health check and its
verification load test (`s`). Read-only towards the cluster.

The results (the Probe interface is in console.ports); `console.sources.probe.HttpProbe`
probes over the network (httpx), the demo fleet's `DemoProbe` answers for its
simulated services. Blocking: call from workers.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime


class NoAnswer(str):
    """A probe's error words that mean no answer within the timeout (counted
    as "timeout" by the load test): told by the type, not by the words."""


@dataclass(frozen=True)
class HealthResult:
    url: str
    checked_at: datetime
    status: int | None = None  # HTTP status; None when no answer
    latency_ms: float | None = None
    error: str | None = None  # why there was no answer, in plain words
    # False when no request was sent (no URL, no probe): health is unknown.
    probed: bool = True

    @property
    def healthy(self) -> bool | None:
        """True for a 2xx answer, False for any other answer; None without one.
        No answer (a name that does not resolve, a refusal, a timeout) says
        where the console runs, not how the service is: never guessed."""
        if self.status is None:
            return None
        return 200 <= self.status < 300

    @property
    def unknown_from_here(self) -> bool:
        """Probed, and no HTTP answer came back to the console's host."""
        return self.probed and self.status is None


@dataclass(frozen=True)
class SmokeResult:
    url: str
    sent: int
    succeeded: int  # 2xx answers
    p50_ms: float | None
    p95_ms: float | None
    # "503" -> 12, "timeout" -> 3: what the failures were
    failures: dict[str, int] = field(default_factory=dict)

    @property
    def success_percent(self) -> float | None:
        return 100.0 * self.succeeded / self.sent if self.sent else None


def percentiles(latencies: list[float]) -> tuple[float | None, float | None]:
    """(p50, p95) by the nearest-rank method; None without any answer."""
    if not latencies:
        return None, None
    ordered = sorted(latencies)

    def rank(p: float) -> float:
        return ordered[max(0, math.ceil(len(ordered) * p / 100) - 1)]

    return rank(50), rank(95)


def smoke_result(url: str, results: list[tuple[int | None, float | None, str | None]]
                 ) -> SmokeResult:
    """Count (status, latency ms, error) results: 2xx succeed, the rest
    are failures by kind ("503", "timeout", "connection refused")."""
    failures: Counter[str] = Counter()
    for status, _, error in results:
        if status is None:
            failures["timeout" if isinstance(error, NoAnswer) else error or "?"] += 1
        elif not 200 <= status < 300:
            failures[str(status)] += 1
    succeeded = sum(1 for status, _, _ in results if status is not None and 200 <= status < 300)
    p50, p95 = percentiles([ms for status, ms, _ in results if status is not None
                            and ms is not None])
    return SmokeResult(url=url, sent=len(results), succeeded=succeeded, p50_ms=p50, p95_ms=p95,
                       failures=dict(failures))
