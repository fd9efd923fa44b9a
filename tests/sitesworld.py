"""The sites tests' world (issue 18): three fleets, each its own exporter,
the same services and pod names in each (as one deployment rolled out to
every cluster):

- eu-west: payment-api OPEN on its 3 pods, users CLOSED;
- us-east and ap-south: everything CLOSED.

eu-west and us-east each have their own Prometheus with
`external_labels: {cluster: NAME}`; a third Prometheus federates both
(/federate, match[] on the breaker series and ALERTS, honor_labels): the
global view, whose series carry the cluster label as the sites' servers add
it. ap-south is VictoriaMetrics (single node)."""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.promserver import RUNBOOK_STATES, Backend, Exporter

FLEET = {"payment-api": 3, "users": 2}
SITES = ("eu-west", "us-east", "ap-south")
MATCH = '{__name__=~"circuit_breaker_.*|ALERTS|ALERTS_FOR_STATE"}'


def states(fleet_states: dict[str, str]) -> list[tuple[str, dict, float]]:
    return [("circuit_breaker_state", {"service": svc, "pod": f"{svc}-{i}", "state": s},
             1 if s == fleet_states.get(svc, "closed") else 0)
            for svc, pods in FLEET.items() for i in range(pods) for s in RUNBOOK_STATES]


def federation_job(targets: list[str]) -> str:
    listed = ", ".join(f"'{t}'" for t in targets)
    return ("  - job_name: federate\n"
            "    honor_labels: true\n"
            "    metrics_path: /federate\n"
            f"    params: {{'match[]': ['{MATCH}']}}\n"
            f"    static_configs: [{{targets: [{listed}]}}]\n")


@dataclass
class World:
    exporters: dict[str, Exporter] = field(default_factory=dict)
    servers: dict[str, Backend] = field(default_factory=dict)  # eu-west, us-east, ap-south, global

    def set_state(self, site: str, service: str, state: str) -> None:
        self.exporters[site].update([
            (name, labels, value) for name, labels, value in states({service: state})
            if labels["service"] == service])

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()
        for exporter in self.exporters.values():
            exporter.close()


def start_world() -> World:
    world = World()
    try:
        for site in SITES:
            ex = world.exporters[site] = Exporter()
            ex.update(states({"payment-api": "open"} if site == "eu-west" else {}))
        for site in ("eu-west", "us-east"):
            world.servers[site] = Backend("prometheus", world.exporters[site].target,
                                          external_labels={"cluster": site})
        world.servers["ap-south"] = Backend("victoria-metrics", world.exporters["ap-south"].target)
        targets = [f"127.0.0.1:{world.servers[s].port}" for s in ("eu-west", "us-east")]
        world.servers["global"] = Backend("prometheus", [], rules="groups: []\n",
                                          extra_config=federation_job(targets))
        for site, server in world.servers.items():
            server.wait_ready('circuit_breaker_state{service="users"}', timeout=60)
        world.servers["global"].wait_ready(
            'circuit_breaker_state{cluster="us-east"} and on() '
            'circuit_breaker_state{cluster="eu-west"}', timeout=60)
    except BaseException:
        world.stop()
        raise
    return world
