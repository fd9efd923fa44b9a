"""The cluster, through the Python `kubernetes` client (imported when a
KubernetesCluster is made, never at import: it costs about 0.25 s, which the
demo must not pay).

- cluster: KubernetesCluster, the facade the console uses;
- kubeconfig: which context, loaded as kubectl does;
- session: the client, its credentials, the call and its failure words
  (errors: the words themselves);
- reads, writes, podexec: the requests, one function each over a KubeApi;
- objects: API JSON to the model (pure).

A new request is a function in the module of its kind (or a new one beside
them) plus a one-line method on KubernetesCluster.
"""

from console.sources.kube.cluster import KubernetesCluster
from console.sources.kube.kubeconfig import ContextNotFound
from console.sources.kube.objects import (
    CHANGE_CAUSE_ANNOTATION,
    REVISION_ANNOTATION,
    deployment_from,
    history_from,
    pod_from,
)

__all__ = ["CHANGE_CAUSE_ANNOTATION", "REVISION_ANNOTATION", "ContextNotFound",
           "KubernetesCluster", "deployment_from", "history_from", "pod_from"]
