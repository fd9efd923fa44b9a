"""Which cluster, as kubectl picks it: the user's kubeconfig (KUBECONFIG, else
~/.kube/config; `context` picks a context) or, inside a pod, the in-cluster
service account. An exec credential plugin is taken out of the client's hands
(ExecCredentials runs it). The `kubernetes` package is imported here only when
a kubeconfig or a service account exists: it costs about 0.25 s, which the
demo must not pay."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from console.errors import first_line
from console.sources.base import SourceError, Unavailable

log = logging.getLogger(__name__)

_SA_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


class ContextNotFound(Unavailable):
    """--context names no context of the kubeconfig; says which exist."""

    def __init__(self, context: str, names: list[str], where: str) -> None:
        self.names = names
        known = ", ".join(names) if names else "none"
        super().__init__(f'context "{context}" not found in kubeconfig {where}; '
                         f"its contexts: {known}")


@dataclass
class Loaded:
    """A context loaded into the client's Configuration."""

    cfg: Any  # kubernetes.client.Configuration
    label: str  # the context's name, or "in-cluster"
    namespace: str  # the context's namespace, else "default"
    in_cluster: bool
    exec_spec: dict | None = None  # the exec plugin's spec, run by ExecCredentials
    base_dir: str = ""  # the directory of the file that named the plugin


def kubeconfig_paths(explicit: str | None) -> tuple[list[str], str]:
    """The kubeconfig files kubectl would read (existing ones) and how they were named."""
    if explicit:
        names = [p for p in explicit.split(os.pathsep) if p]
        where = explicit
    elif os.environ.get("KUBECONFIG"):
        names = [p for p in os.environ["KUBECONFIG"].split(os.pathsep) if p]
        where = f"KUBECONFIG={os.environ['KUBECONFIG']}"
    else:
        names = ["~/.kube/config"]
        where = "~/.kube/config"
    found = [str(Path(p).expanduser()) for p in names if Path(p).expanduser().is_file()]
    return found, where


def load(kubeconfig: str | None, context: str | None) -> Loaded:
    """The context kubectl would use (or the one named), loaded; Unavailable
    where there is none, SourceError where it cannot be used."""
    paths, where = kubeconfig_paths(kubeconfig)
    in_cluster = (not paths and not kubeconfig
                  and not os.environ.get("KUBECONFIG")
                  and bool(os.environ.get("KUBERNETES_SERVICE_HOST")))
    if not paths and not in_cluster:
        raise Unavailable(f"no kubeconfig found ({where}): cluster features unavailable")

    import kubernetes.client as kclient  # lazily: ~0.25 s
    import kubernetes.config as kconfig
    from kubernetes.config.config_exception import ConfigException

    cfg = kclient.Configuration()
    if in_cluster:
        try:
            kconfig.load_incluster_config(client_configuration=cfg)
        except ConfigException as exc:
            raise Unavailable(f"in-cluster config unusable: {first_line(exc)}: "
                              "cluster features unavailable") from None
        return Loaded(cfg, "in-cluster", _read_text(_SA_NAMESPACE) or "default", in_cluster=True)
    config_file = os.pathsep.join(paths)
    try:
        contexts, current = kconfig.list_kube_config_contexts(config_file)
    except ConfigException as exc:
        log.warning("kubeconfig %s unusable", where, exc_info=True)
        raise Unavailable(f"kubeconfig {where} unusable: {first_line(exc)}") from None
    except Exception as exc:  # unreadable or not YAML
        log.warning("kubeconfig %s unreadable", where, exc_info=True)
        raise Unavailable(f"kubeconfig {where} unreadable: {type(exc).__name__}") \
            from None
    chosen = None
    if context:
        chosen = next((c for c in contexts or [] if c.get("name") == context), None)
        if chosen is None:
            raise ContextNotFound(context, [c.get("name") for c in contexts or []],
                                  where)
    else:
        chosen = current
        if not chosen:
            raise Unavailable(f"kubeconfig {where} has no current context; "
                              "pick one with --context")
    try:
        exec_spec, base_dir = _load_context(kconfig, config_file, chosen["name"], cfg)
    except ConfigException as exc:
        log.warning("kube context unusable", exc_info=True)
        raise SourceError(f'cannot use context "{chosen["name"]}" of kubeconfig '
                          f"{where}: {first_line(exc)}") from None
    except Exception as exc:  # e.g. an exec credential plugin failing
        log.warning("kube context unusable", exc_info=True)
        raise SourceError(f'cannot use context "{chosen["name"]}" of kubeconfig '
                          f"{where}: {type(exc).__name__}") from None
    return Loaded(cfg, chosen["name"],
                  (chosen.get("context") or {}).get("namespace") or "default",
                  in_cluster=False, exec_spec=exec_spec, base_dir=base_dir)


def _load_context(kconfig: Any, config_file: str, context: str,
                  cfg: Any) -> tuple[dict | None, str]:
    """Load the context into `cfg` as the client would, except an exec
    plugin: that is taken out and run by ExecCredentials. Returns the
    plugin's spec (or None) and the directory of the file that named it."""
    from kubernetes.config.kube_config import KubeConfigLoader, KubeConfigMerger

    merger = KubeConfigMerger(config_file)
    merged = merger.config
    if merged is None:
        raise kconfig.config_exception.ConfigException("Invalid kube-config")
    contexts = {c.value.get("name"): c.value for c in merged.value.get("contexts") or []}
    user_name = ((contexts.get(context) or {}).get("context") or {}).get("user")
    spec, base_dir = None, ""
    for node in merged.value.get("users") or []:
        user = node.value.get("user") or {}
        # The client's order: an auth-provider or a token wins over exec.
        if (node.value.get("name") == user_name and isinstance(user, dict)
                and "exec" in user and not ({"auth-provider", "token", "tokenFile"}
                                            & set(user))):
            spec = dict(user.pop("exec") or {})
            base_dir = os.path.dirname(os.path.abspath(node.path)) if node.path else ""
    loader = KubeConfigLoader(config_dict=merged, config_base_path=None,
                              active_context=context)
    loader.load_and_set(cfg)
    return spec, base_dir


def static_source(cfg: Any, in_cluster: bool) -> str:
    if in_cluster:
        return "service account token"
    if (getattr(cfg, "api_key", None) or {}).get("BearerToken"):
        return "token"
    if getattr(cfg, "cert_file", None):
        return "client certificate"
    if getattr(cfg, "username", None):
        return "password"
    return "none"


def _read_text(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""
