"""The fault tests' Prometheus: fx-pay OPEN on 3 pods, fx-users CLOSED, and
the console's timing against it (shared by the fault and token-rotation tests)."""

from __future__ import annotations

from tests.promserver import RUNBOOK_STATES, Backend, Exporter

INTERVAL = 0.3  # the app's poll interval: STALE after 3 intervals without a good poll
TIMEOUT = 1.0  # the source's HTTP timeout, longer than the poll interval


def header(app) -> str:
    """The header's text, unwrapped (the line is longer than the terminal)."""
    return str(app.query_one("#status").content)


def fx_prometheus():
    """A Prometheus scraping two services: fx-pay OPEN on 3 pods, fx-users CLOSED."""
    ex = Exporter()
    ex.update([
        ("circuit_breaker_state", {"service": svc, "pod": f"{svc}-{p}", "state": s},
         1 if s == state else 0)
        for svc, state in (("fx-pay", "open"), ("fx-users", "closed"))
        for p in "abc" for s in RUNBOOK_STATES
    ])
    backend = Backend("prometheus", ex.target)
    try:
        backend.wait_ready('circuit_breaker_state{service="fx-users"}', timeout=40)
        yield backend
    finally:
        backend.stop()
        ex.close()
