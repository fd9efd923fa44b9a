"""Envoy cluster names as an operator reads them. Istio's sidecars name
clusters `direction|port|subset|host` (`outbound|8080||payments.shop.svc.cluster.local`)
and add clusters of their own (the mesh's plumbing, no downstream of the
application): those are hidden unless asked for, the others shown as
`payments.shop`, with the port only where one host has several.

Pure code, tested without a server."""

from __future__ import annotations

from collections.abc import Iterable

#: Istio's own clusters: traffic sinks, the control plane, the agent's stats.
INFRASTRUCTURE = frozenset({
    "BlackHoleCluster",
    "PassthroughCluster",
    "InboundPassthroughCluster",
    "xds-grpc",
    "sds-grpc",
    "prometheus_stats",
    "agent",
    "zipkin",
})


def is_infrastructure(cluster: str) -> bool:
    """Istio's plumbing: the clusters above, InboundPassthroughClusterIpv4/6,
    and every `inbound|…` cluster (the sidecar's own application)."""
    return (
        cluster in INFRASTRUCTURE
        or cluster.startswith("InboundPassthroughCluster")
        or cluster.startswith("inbound|")
    )


def _short_host(host: str) -> str:
    """payments.shop.svc.cluster.local -> payments.shop; other hosts as they are."""
    name, sep, _domain = host.partition(".svc.")
    if sep and name.count(".") == 1:
        return name
    return host


def _parts(cluster: str) -> tuple[str, str, str] | None:
    """(short host, port, subset) of an `outbound|port|subset|host` cluster."""
    fields = cluster.split("|")
    if len(fields) != 4 or fields[0] != "outbound" or not fields[3]:
        return None
    return _short_host(fields[3]), fields[1], fields[2]


def display_names(clusters: Iterable[str], show_infrastructure: bool = False
                  ) -> dict[str, str | None]:
    """Each cluster name -> the service name shown, None where hidden. A name
    without Istio's form (Envoy's own cluster names) is kept as it is, except
    Istio's destination_service hosts (`payments.shop.svc.cluster.local`)."""
    clusters = set(clusters)
    ports: dict[tuple[str, str], set[str]] = {}
    for cluster in clusters:
        parts = _parts(cluster)
        if parts:
            ports.setdefault((parts[0], parts[2]), set()).add(parts[1])
    out: dict[str, str | None] = {}
    for cluster in clusters:
        if is_infrastructure(cluster):
            out[cluster] = cluster if show_infrastructure else None
            continue
        parts = _parts(cluster)
        if parts is None:
            out[cluster] = _short_host(cluster) if "|" not in cluster else cluster
            continue
        host, port, subset = parts
        name = host
        if len(ports[(host, subset)]) > 1:
            name += f":{port}"
        if subset:
            name += f" ({subset})"
        out[cluster] = name
    return out
