"""Two clusters behind two contexts of one kubeconfig (issue 18): a
Kubernetes API test server per site, and the console's SiteRouter over
them. The kubeconfig is shaped as `kubectl config view --raw` writes one
with two clusters, two users and two contexts (JSON is YAML)."""

from __future__ import annotations

import json
from pathlib import Path

from console.mitigations.siterouting import Site, SiteRouter  # noqa: F401 (the tests')
from console.model.servicemap import ServiceEntry, ServiceMap
from tests.kubeserver import KubeServer

SITES = {"eu-west": "eu-west-ctx", "us-east": "us-east-ctx"}  # site -> its kube context
NS = "shop"
MUTATING = ("PATCH", "POST", "PUT", "DELETE")


def two_servers() -> dict[str, KubeServer]:
    """A started server per site, each with the runbook's api and payment-api."""
    servers = {}
    for site in SITES:
        server = KubeServer().start()
        server.add_deployment("api", NS, replicas=2, env={"LOG_LEVEL": "info"})
        server.add_deployment("payment-api", NS, replicas=2)
        servers[site] = server
    return servers


def write_kubeconfig(servers: dict[str, KubeServer], path: Path) -> Path:
    """One kubeconfig, a cluster, user and context per site; the current
    context is the first site's."""
    config = {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": f"{site}-cluster", "cluster": {"server": server.url}}
                     for site, server in servers.items()],
        "users": [{"name": f"{site}-user", "user": {}} for site in servers],
        "contexts": [{"name": SITES[site], "context": {
            "cluster": f"{site}-cluster", "user": f"{site}-user", "namespace": NS}}
            for site in servers],
        "current-context": SITES[next(iter(servers))],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config, indent=2))
    return path


def mutations(server: KubeServer) -> list:
    return [r for r in server.requests_for() if r.method in MUTATING]


def router(clusters: dict, service_map: ServiceMap, flags=None, **site_kw) -> SiteRouter:
    """The router the composition builds from the sites' specs: one Site
    per site, its context's cluster (context = the cluster's label)."""
    return SiteRouter([Site(name=site, context=cluster.label, namespace=NS, cluster=cluster,
                            flags=flags, **site_kw.get(site, {}))
                       for site, cluster in clusters.items()], service_map=service_map)


def service_map(health_url: str) -> ServiceMap:
    return ServiceMap({"payment-api": ServiceEntry(health_url=health_url, smoke_url=health_url)},
                      namespace="default")


async def select_row(app, pilot, key: tuple[str, str]) -> None:
    """Move the board's cursor to the row `key` (site, service), as the
    arrow keys do; fails if no row is it."""
    from widgets.board import BreakerBoard

    board = app.query_one(BreakerBoard)
    row = 0
    while row < board.row_count:  # unfolding a group adds its sites' rows
        board.move_cursor(row=row)
        await pilot.pause()
        line = board.keys_shown[row]
        if line[0] is not None and board.selected_key == key:
            return
        if line[0] is None and line[1] == key[1]:
            board.toggle_group(True)  # as space does: the service's sites, a row each
            await pilot.pause()
        row += 1
    raise AssertionError(f"no row {key} on the board")


async def on_row(app, pilot, key: tuple[str, str], servers=()) -> None:
    """The board settled, the cursor on row `key`, its automatic reads done;
    then the `servers`' request logs emptied, so the test sees only what the
    keys that follow send."""
    from tests.screen import quiesce, settle

    await settle(app, pilot)
    await select_row(app, pilot, key)
    await quiesce(app, pilot)
    for server in servers:
        server.clear()
