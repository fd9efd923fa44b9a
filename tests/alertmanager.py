"""Real Alertmanagers for the tests: the Debian package's
`prometheus-alertmanager` (0.25) on a free loopback port with its own config
and storage directory, alone or as an HA pair gossiping over --cluster.*, and
a real Prometheus whose `alerting:` section sends its CircuitBreakerOpen
alerts to them, as in production. Nothing here mocks the Alertmanager API.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import requests

from tests.promserver import Backend, Exporter, free_port, stop_server, wait_until

INSTALL_HINT = "run make install-test (or: apt-get install -y prometheus-alertmanager)"
SERVICE = "payment-api"

# RUNBOOK-004's rule keeping the service label (a 2 s `for:` for the tests),
# and an alert that inhibits it (a service that is down altogether).
RULES = """\
groups:
  - name: circuit-breakers
    rules:
      - alert: CircuitBreakerOpen
        expr: sum by (service) (circuit_breaker_state{state="open"}) > 0
        for: 2s
        labels:
          severity: critical
        annotations:
          summary: "Circuit breaker OPEN for {{ $labels.service }}"
      - alert: ServiceDown
        expr: sum by (service) (service_down) > 0
        labels:
          severity: critical
"""

# Routed to a receiver without integrations: nothing leaves the machine.
CONFIG = """\
route:
  receiver: pager
  group_by: [alertname, service]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: pager
inhibit_rules:
  - source_matchers: ['alertname="ServiceDown"']
    target_matchers: ['alertname="CircuitBreakerOpen"']
    equal: [service]
"""


class Alertmanager:
    """One `prometheus-alertmanager`; `peer`: the cluster address of another
    (an HA pair), else gossip is off (--cluster.listen-address="")."""

    def __init__(self, *, clustered: bool = False, peers: tuple[str, ...] = ()) -> None:
        binary = shutil.which("prometheus-alertmanager")
        if binary is None:
            raise RuntimeError(f"prometheus-alertmanager not installed: {INSTALL_HINT}")
        self.dir = Path(tempfile.mkdtemp(prefix="cbconsole-alertmanager-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.target = f"127.0.0.1:{self.port}"
        (self.dir / "alertmanager.yml").write_text(CONFIG)
        self.cluster = f"127.0.0.1:{free_port()}" if clustered else ""
        self.args = [
            binary,
            f"--config.file={self.dir / 'alertmanager.yml'}",
            f"--storage.path={self.dir / 'data'}",
            f"--web.listen-address={self.target}",
            f"--cluster.listen-address={self.cluster}",
            *(f"--cluster.peer={p}" for p in peers),
        ]
        if clustered:
            # Gossip fast: a silence made on one shows on the other in a second.
            self.args += ["--cluster.gossip-interval=100ms", "--cluster.pushpull-interval=1s",
                          "--cluster.settle-timeout=1s"]
        self.log_path = self.dir / "server.log"
        self._log = open(self.log_path, "wb")
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen(self.args, stdout=self._log, stderr=subprocess.STDOUT,
                                     cwd=self.dir)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_ready(self, timeout: float = 30.0) -> "Alertmanager":
        def ready():
            if self.proc.poll() is not None:
                raise RuntimeError(f"alertmanager exited with {self.proc.returncode}:\n"
                                   f"{self.log_tail()}")
            try:
                return requests.get(f"{self.url}/-/ready", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        wait_until(ready, timeout=timeout, what="alertmanager ready")
        return self

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        stop_server(self.proc, self._log, self.dir)

    # --- The API, read back as an operator's script would ------------------------------

    def alerts(self, name: str = "CircuitBreakerOpen") -> list[dict]:
        r = requests.get(f"{self.url}/api/v2/alerts", params={"filter": f'alertname="{name}"'},
                         timeout=5)
        r.raise_for_status()
        return r.json()

    def silences(self, state: str | None = None) -> list[dict]:
        r = requests.get(f"{self.url}/api/v2/silences", timeout=5)
        r.raise_for_status()
        return [s for s in r.json() if state is None or s["status"]["state"] == state]

    def silence(self, matchers: dict[str, str], created_by: str, comment: str,
                minutes: float = 30) -> str:
        """A silence made outside the console (as a colleague's script does)."""
        now = datetime.now(timezone.utc)
        body = {"matchers": [{"name": k, "value": v, "isRegex": False, "isEqual": True}
                             for k, v in matchers.items()],
                "startsAt": now.isoformat(), "endsAt": (now + timedelta(minutes=minutes))
                .isoformat(), "createdBy": created_by, "comment": comment}
        r = requests.post(f"{self.url}/api/v2/silences", json=body, timeout=5)
        r.raise_for_status()
        return r.json()["silenceID"]

    def expire_all(self) -> None:
        """Between tests: every silence expired, as `amtool silence expire` would."""
        for s in self.silences("active") + self.silences("pending"):
            requests.delete(f"{self.url}/api/v2/silence/{s['id']}", timeout=5)


def ha_pair() -> tuple[Alertmanager, Alertmanager]:
    """Two Alertmanagers peered with each other (each names the other)."""
    first = Alertmanager(clustered=True)
    second = Alertmanager(clustered=True, peers=(first.cluster,))
    # The first one learns of the second by its gossip; naming it as well
    # makes the pair symmetric, as a StatefulSet's --cluster.peer list does.
    first.proc.terminate()
    first.proc.wait(timeout=10)
    first.args.append(f"--cluster.peer={second.cluster}")
    first.start()
    return first, second


def alerting_config(managers) -> str:
    targets = ", ".join(f"'{m.target}'" for m in managers)
    return ("alerting:\n  alertmanagers:\n"
            f"    - static_configs: [{{targets: [{targets}]}}]\n")


def breaker_fleet(managers, cluster: str | None = None):
    """payment-api OPEN on 2 pods, users-api CLOSED, scraped by a Prometheus
    that sends its alerts to `managers` (external label `cluster` if given:
    Prometheus adds it to every alert it sends). Yields (exporter, backend)
    once CircuitBreakerOpen for payment-api has reached every manager."""
    ex = Exporter()
    ex.update([
        ("circuit_breaker_state", {"service": svc, "pod": f"{svc}-{p}", "state": s},
         1 if s == state else 0)
        for svc, state in ((SERVICE, "open"), ("users-api", "closed"))
        for p in "ab" for s in ("closed", "open", "half_open")
    ] + [("service_down", {"service": "users-api"}, 0)])
    backend = Backend("prometheus", ex.target, rules=RULES, extra_config=alerting_config(managers),
                      extra_args=["--rules.alert.resend-delay=1s"])
    if cluster:
        # external_labels live under global: written again with them.
        config = backend.dir / "config.yml"
        config.write_text(config.read_text().replace(
            "global:\n", f"global:\n  external_labels: {{cluster: {cluster}}}\n", 1))
        backend.proc.terminate()
        backend.proc.wait(timeout=10)
        backend.start()
    try:
        backend.wait_ready('circuit_breaker_state{service="users-api"}', timeout=60)
        for manager in managers:
            wait_until(lambda m=manager: [a for a in m.alerts()
                                          if a["labels"].get("service") == SERVICE],
                       timeout=90, what=f"CircuitBreakerOpen in {manager.url}")
        yield ex, backend
    finally:
        backend.stop()
        ex.close()
