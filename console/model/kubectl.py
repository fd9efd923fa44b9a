"""The requests a mitigation sends, built exactly as kubectl builds them, and
how kubectl judges a rollout. Pure functions: the Kubernetes source sends
what these return, the demo fleet applies it, the dialogs show it.

References (kubernetes/kubectl): pkg/polymorphichelpers/objectrestarter.go,
pkg/cmd/set/set_env.go, pkg/polymorphichelpers/rollout_status.go.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from datetime import datetime, timezone

from console.model.fleet import Deployment

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
RESTART_MANAGER = "kubectl-rollout"
SET_ENV_MANAGER = "kubectl-set"


def rfc3339(at: datetime) -> str:
    """Go's time.RFC3339 as kubectl formats time.Now(): seconds, Z for UTC."""
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def restart_patch(at: datetime) -> dict:
    """`kubectl rollout restart`: stamp the pod template, so the Deployment
    controller rolls every pod."""
    return {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: rfc3339(at)}}}}}


def set_env_patch(deployment: Deployment, changes: dict[str, str | None]) -> dict | None:
    """`kubectl set env` on every container: NAME=value sets, None removes.
    None when nothing would change, as kubectl then sends no PATCH."""
    containers = []
    for container in deployment.containers:
        env = dict(container.env)
        entries = []
        for name, value in changes.items():
            if value is None:
                if name in env:
                    del env[name]
                    entries.append({"$patch": "delete", "name": name})
            elif env.get(name) != value:
                env[name] = value
                entries.append({"name": name, "value": value})
        if not entries:
            continue
        # As kubectl's three-way diff words it: a list emptied is null, a new
        # list is given whole, a changed one is merged in a stated order.
        if not env:
            containers.append({"env": None, "name": container.name})
        elif not container.env:
            containers.append({"env": entries, "name": container.name})
        else:
            containers.append(
                {
                    "$setElementOrder/env": [{"name": n} for n in env],
                    "env": entries,
                    "name": container.name,
                }
            )
    if not containers:
        return None
    return {
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": c.name} for c in deployment.containers],
                    "containers": containers,
                }
            }
        }
    }


def fallback_env(prefix: str, mode: str, enabled: bool) -> dict[str, str | None]:
    """The runbook's Option 3 variables; turning fallback off removes them."""
    if enabled:
        return {f"{prefix}_FALLBACK_ENABLED": "true", f"{prefix}_FALLBACK_MODE": mode}
    return {f"{prefix}_FALLBACK_ENABLED": None, f"{prefix}_FALLBACK_MODE": None}


def env_prefix(service: str) -> str:
    """payment-api -> PAYMENT_API, the runbook's convention."""
    return "".join(ch if ch.isalnum() else "_" for ch in service).upper()


def fallback_enabled(deployment: Deployment, prefix: str) -> bool:
    key = f"{prefix}_FALLBACK_ENABLED"
    return any(c.env.get(key, "").lower() == "true" for c in deployment.containers)


# --- The kubectl equivalents shown in the confirmation dialog ----------------------


def _kubectl(context: str | None, namespace: str, *args: str) -> str:
    words = ["kubectl"]
    if context:
        words += ["--context", context]
    words += ["-n", namespace, *args]
    return shlex.join(words)


def restart_command(context: str | None, namespace: str, deployment: str) -> str:
    return _kubectl(context, namespace, "rollout", "restart", f"deployment/{deployment}")


def rollback_command(context: str | None, namespace: str, deployment: str,
                     revision: int | None) -> str:
    """`kubectl rollout undo` to one revision (None: kubectl's default), as
    the runbook's commands read."""
    words = ["kubectl"] + (["--context", context] if context else [])
    words += ["rollout", "undo", f"deployment/{deployment}", "-n", namespace]
    words += [f"--to-revision={revision}"] if revision is not None else []
    return shlex.join(words)


def set_env_command(
    context: str | None, namespace: str, deployment: str, changes: dict[str, str | None]
) -> str:
    args = [f"{k}-" if v is None else f"{k}={v}" for k, v in changes.items()]
    return _kubectl(context, namespace, "set", "env", f"deployment/{deployment}", *args)


# --- kubectl rollout status --------------------------------------------------------


@dataclass(frozen=True)
class RolloutStatus:
    done: bool
    failed: bool
    message: str
    progress: float  # 0..1, for a progress bar


def rollout_status(d: Deployment) -> RolloutStatus:
    """kubectl's verdict on a Deployment's rollout, its checks in its order."""
    name = f'deployment "{d.name}"'
    if d.generation > d.observed_generation:
        return RolloutStatus(False, False, f"Waiting for {name} spec update to be observed...", 0.0)
    for condition in d.conditions:
        if condition.type == "Progressing" and condition.reason == "ProgressDeadlineExceeded":
            return RolloutStatus(False, True, f"{name} exceeded its progress deadline", 0.0)
    want = max(d.replicas, 1)
    progress = min(d.updated_replicas, d.available_replicas) / want
    if d.updated_replicas < d.replicas:
        return RolloutStatus(
            False,
            False,
            f"Waiting for {name} rollout to finish: {d.updated_replicas} out of "
            f"{d.replicas} new replicas have been updated...",
            progress,
        )
    if d.status_replicas > d.updated_replicas:
        old = d.status_replicas - d.updated_replicas
        return RolloutStatus(
            False,
            False,
            f"Waiting for {name} rollout to finish: {old} old replicas are pending termination...",
            progress,
        )
    if d.available_replicas < d.updated_replicas:
        return RolloutStatus(
            False,
            False,
            f"Waiting for {name} rollout to finish: {d.available_replicas} of "
            f"{d.updated_replicas} updated replicas are available...",
            progress,
        )
    return RolloutStatus(True, False, f"{name} successfully rolled out", 1.0)
