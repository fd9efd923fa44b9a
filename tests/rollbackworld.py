"""A deployment with a rollout history on the Kubernetes test server, for the
rollback tests: revisions 12, 13, 14 with their own change-causes, as a
real cluster's Deployment controller leaves them (the deployment carries the
revision annotations it sets; kubectl apply's last-applied annotation too)."""

from __future__ import annotations

from tests.kubeserver import KubeServer

CAUSES = {12: "deploy payment-api v2.7.3", 13: "deploy payment-api v2.7.4",
          14: "deploy payment-api v2.8.0: new DB connection pool settings"}
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def add_history(server: KubeServer, name: str = "payment-api", ns: str = "shop",
                **kw) -> None:
    """Three revisions, renumbered 12-14 with their causes; the newest runs."""
    server.add_deployment(name, ns, replicas=3, revisions=3, containers=[{
        "name": "app", "image": "registry.example/payment-api:2.8.0",
        "env": [{"name": "DB_POOL_MAX_SIZE", "value": "10"},
                {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {
                    "name": "payment-db", "key": "password"}}}],
        "resources": {"limits": {"memory": "512Mi"}}}], **kw)
    for rs, (revision, cause) in zip(server.replicasets(ns, name), CAUSES.items()):
        server.annotate("replicasets", ns, rs["metadata"]["name"], {
            "deployment.kubernetes.io/revision": str(revision),
            "kubernetes.io/change-cause": cause})
    server.annotate("deployments", ns, name, {
        "deployment.kubernetes.io/revision": "14",
        "kubernetes.io/change-cause": CAUSES[14],
        LAST_APPLIED: '{"kind":"Deployment"}'})
