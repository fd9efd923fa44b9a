"""Simulated Deployments: replica sets, pods, a rolling-update controller and
the strategic merge patches kubectl sends. Times are integer sim ticks
(TICK_S seconds each, tick 0 = t0), so nothing drifts."""

from __future__ import annotations

import random
import re
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from console.demo.topology import CONTAINER, NAMESPACE, REPLICAS, TICK_S
from console.model.rollback import CHANGE_CAUSE, REVISION
from console.model.fleet import Condition, Container, Deployment, Pod, Revision
from console.errors import SourceError

# Kubernetes' own alphabet for generated names (no vowels, no look-alikes).
NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"
NODES = ("worker-a1", "worker-b2", "worker-c3")
LOG_LINES = 400
MAX_SURGE = 1  # the default 25% of 3 replicas, rounded up; maxUnavailable rounds to 0
START_TICKS = (20, 30)  # a new pod is ready 4-6 s after it is created
GRACE_TICKS = 8  # a stopped pod lingers, terminating, for 1.6 s
TICK = timedelta(seconds=TICK_S)  # exactly 200 ms: tick arithmetic stays exact


def random_name(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(NAME_CHARS) for _ in range(length))


def ticks(seconds: float) -> int:
    return round(seconds / TICK_S)


@dataclass(eq=False)
class SimPod:
    name: str
    rs: str  # pod-template-hash of its replica set
    created: int
    ready_at: int
    node: str
    env: dict[str, str]  # the container env it started with
    restarts: int = 0
    terminating: int | None = None  # the tick it was told to stop
    log: deque = field(default_factory=lambda: deque(maxlen=LOG_LINES))
    links: dict = field(default_factory=dict)  # caller pods: the fleet's breakers

    def serving(self, tick: int) -> bool:
        return self.ready_at <= tick and self.terminating is None

    def write(self, tick: int, text: str) -> None:
        self.log.append((tick, text))


@dataclass
class ReplicaSet:
    revision: int
    hash: str
    created: int
    change_cause: str | None
    template: tuple


class SimDeployment:
    def __init__(
        self,
        name: str,
        version: str,
        env: dict[str, str],
        history: list[tuple[int, float, str | None]],
        t0: datetime,
        rng: random.Random,
        earlier_env: dict[str, str] | None = None,
    ) -> None:
        """`history` is (revision, seconds before t0, change cause), oldest first;
        the last one runs the pods at t0. The earlier revisions ran the version
        their cause names, with `earlier_env` over `env`."""
        self.name = name
        self.namespace = NAMESPACE
        self.replicas = REPLICAS
        self.t0 = t0
        self.image = f"registry.example.com/shop/{name}:{version}"
        self.env = dict(env)
        self.annotations: dict[str, str] = {"prometheus.io/scrape": "true"}
        self.paused = False
        self.replicasets = [
            ReplicaSet(rev, random_name(rng, 9), -ticks(age), cause,
                       earlier_template(self.template, cause, {**self.env, **(earlier_env or {})},
                                        len(history) - n - 1))
            for n, (rev, age, cause) in enumerate(history)
        ]
        self.current.template = self.template
        # The Deployment's own annotations, as its controller and kubectl keep them.
        self.meta_annotations = {REVISION: str(self.current.revision)}
        if self.current.change_cause:
            self.meta_annotations[CHANGE_CAUSE] = self.current.change_cause
        self.generation = self.observed_generation = self.current.revision
        self.pods: list[SimPod] = []
        # False once the rollout is over: then step() has nothing to do, and
        # the fleet's 5 ticks a second over 16 deployments stay cheap.
        self.busy = False
        self._serving: tuple[int, list[SimPod]] | None = None
        for _ in range(self.replicas):
            created = self.current.created + rng.randint(10, 40)
            pod = self._new_pod(created, rng)
            pod.restarts = 1 if rng.random() < 0.15 else 0
            pod.write(pod.ready_at, "[INFO] Readiness probe passed, serving on :8080")

    # --- state ----------------------------------------------------------------

    @property
    def template(self) -> tuple:
        """What the pod template holds; any change to it means a rollout."""
        return (self.image, tuple(sorted(self.env.items())), tuple(sorted(self.annotations.items())))

    @property
    def current(self) -> ReplicaSet:
        return self.replicasets[-1]

    @property
    def version(self) -> str:
        return self.image.rsplit(":", 1)[-1]

    def at(self, tick: int) -> datetime:
        return self.t0 + TICK * tick

    def serving(self, tick: int) -> list[SimPod]:
        """The pods behind the Service (ready, not stopping), cached per tick."""
        if self._serving is None or self._serving[0] != tick:
            self._serving = (tick, [p for p in self.pods if p.serving(tick)])
        return self._serving[1]

    # --- the controller -----------------------------------------------------------

    def step(self, tick: int, rng: random.Random) -> None:
        """One tick of the Deployment controller: a rolling update with
        maxSurge 1, maxUnavailable 0, as Kubernetes defaults give for 3 replicas."""
        # It sees a spec change one tick after the patch, so rollout status waits.
        self.observed_generation = self.generation
        if not self.busy:
            return
        self._serving = None
        for pod in self.pods:
            if pod.ready_at == tick:
                pod.write(tick, "[INFO] Readiness probe passed, serving on :8080")
        if any(p.terminating is not None for p in self.pods):
            self.pods = [
                p for p in self.pods if p.terminating is None or tick < p.terminating + GRACE_TICKS
            ]
        if self.paused:
            return
        if self.current.template != self.template:
            self._roll(tick, rng)
        active = [p for p in self.pods if p.terminating is None]
        old = [p for p in active if p.rs != self.current.hash]
        for pod in [p for p in old if p.ready_at > tick]:
            self._stop(pod, tick)  # an old pod that never got ready helps no one
        old = [p for p in old if p.terminating is None]
        ready = sum(1 for p in active if p.terminating is None and p.ready_at <= tick)
        for pod in old[: max(0, ready - self.replicas)]:
            self._stop(pod, tick)
        active = [p for p in self.pods if p.terminating is None]
        new = sum(1 for p in active if p.rs == self.current.hash)
        while new < self.replicas and len(active) < self.replicas + MAX_SURGE:
            active.append(self._new_pod(tick, rng))
            new += 1
        self.busy = len(self.pods) != new or any(p.ready_at > tick for p in self.pods)

    def _roll(self, tick: int, rng: random.Random) -> None:
        """A new ReplicaSet for a new template; an old one whose template it
        is (a rollback) runs again under the next revision number, as the
        Deployment controller renumbers it."""
        revision = self.current.revision + 1
        old = next((rs for rs in self.replicasets if rs.template == self.template), None)
        if old is not None:
            self.replicasets.remove(old)
            old.revision = revision
            self.replicasets.append(old)
        else:
            self.replicasets.append(ReplicaSet(revision, random_name(rng, 9), tick,
                                               self.meta_annotations.get(CHANGE_CAUSE),
                                               self.template))
        self.meta_annotations[REVISION] = str(revision)

    def _new_pod(self, tick: int, rng: random.Random) -> SimPod:
        pod = SimPod(
            name=f"{self.name}-{self.current.hash}-{random_name(rng, 5)}",
            rs=self.current.hash,
            created=tick,
            ready_at=tick + rng.randint(*START_TICKS),
            node=rng.choice(NODES),
            env=dict(self.env),
        )
        pod.write(tick, f"[INFO] Starting {self.name} {self.version} (pod {pod.name})")
        self.pods.append(pod)
        return pod

    def _stop(self, pod: SimPod, tick: int) -> None:
        pod.terminating = tick
        pod.write(tick, "[INFO] Received SIGTERM, draining connections and shutting down")

    # --- patches ----------------------------------------------------------------

    def patch(self, body: dict) -> bool:
        """Apply a strategic merge patch; True if the spec changed. An
        unchanged spec is a no-op, as on a real API server."""
        image, env, annotations, paused = self.image, dict(self.env), dict(self.annotations), self.paused
        spec = _only(body, "", {"spec"}).get("spec", {})
        spec = _only(spec, "spec", {"template", "paused"})
        if "paused" in spec:
            paused = bool(spec["paused"])
        template = _only(spec.get("template", {}), "spec.template", {"metadata", "spec"})
        meta = _only(template.get("metadata", {}), "spec.template.metadata", {"annotations"})
        for key, value in (meta.get("annotations") or {}).items():
            if value is None:
                annotations.pop(key, None)
            else:
                annotations[key] = str(value)
        pod_spec = _only(template.get("spec", {}), "spec.template.spec", {"containers"})
        for container in pod_spec.get("containers", []):
            container = _only(container, "spec.template.spec.containers[]", {"name", "env", "image"})
            if container.get("name") != CONTAINER:
                raise SourceError(
                    f'deployments.apps "{self.name}" is invalid: no container named '
                    f'"{container.get("name")}" (the only one is "{CONTAINER}")'
                )
            image = container.get("image", image)
            if "env" in container and container["env"] is None:
                env = {}  # kubectl's word for "the list is now empty"
            for item in container.get("env") or []:
                _patch_env(env, item)
        changed = (image, env, annotations, paused) != (
            self.image, self.env, self.annotations, self.paused
        )
        if changed:
            self.image, self.env, self.annotations, self.paused = image, env, annotations, paused
            self.generation += 1
            self.busy = True
        return changed

    # --- what the API shows ---------------------------------------------------------

    def model(self, tick: int) -> Deployment:
        active = [p for p in self.pods if p.terminating is None]
        latest = self.current if self.current.template == self.template else None
        updated = sum(1 for p in active if latest and p.rs == latest.hash)
        ready = sum(1 for p in active if p.ready_at <= tick)
        done = updated == self.replicas == len(self.pods) and ready >= updated
        if self.paused:
            progressing = Condition(type="Progressing", status="Unknown", reason="DeploymentPaused",
                                    message="Deployment is paused")
        elif done and self.observed_generation >= self.generation:
            progressing = Condition(
                type="Progressing", status="True", reason="NewReplicaSetAvailable",
                message=f'ReplicaSet "{self.name}-{self.current.hash}" has successfully progressed.',
            )
        else:
            progressing = Condition(
                type="Progressing", status="True", reason="ReplicaSetUpdated",
                message=f'ReplicaSet "{self.name}-{self.current.hash}" is progressing.',
            )
        available = Condition(
            type="Available",
            status="True" if ready >= self.replicas else "False",
            reason="MinimumReplicasAvailable" if ready >= self.replicas else "MinimumReplicasUnavailable",
        )
        return Deployment(
            namespace=self.namespace,
            name=self.name,
            replicas=self.replicas,
            updated_replicas=updated,
            ready_replicas=ready,
            available_replicas=ready,  # minReadySeconds is 0
            status_replicas=len(self.pods),
            generation=self.generation,
            observed_generation=self.observed_generation,
            paused=self.paused,
            selector={"app": self.name},
            template_annotations=dict(self.annotations),
            containers=(Container(name=CONTAINER, image=self.image, env=dict(self.env)),),
            conditions=(available, progressing),
        )

    def history(self) -> list[Revision]:
        return [
            Revision(
                revision=rs.revision,
                replicaset=f"{self.name}-{rs.hash}",
                change_cause=rs.change_cause,
                created_at=self.at(rs.created),
            )
            for rs in self.replicasets
        ]

    def pod_models(self, tick: int) -> list[Pod]:
        return [
            Pod(
                namespace=self.namespace,
                name=p.name,
                ready=p.serving(tick),
                restarts=p.restarts,
                # kubectl's STATUS column: a stopping pod shows Terminating.
                phase="Terminating" if p.terminating is not None else "Running",
                created_at=self.at(p.created),
                node=p.node,
            )
            for p in self.pods
        ]


def _only(value: object, path: str, allowed: set[str]) -> dict:
    """The patch object at `path`, refusing what the demo cannot apply.
    `$setElementOrder/...` keys only fix list order: ignored."""
    if not isinstance(value, dict):
        raise SourceError(f"cannot apply patch: {path or 'the body'} is not an object")
    for key in value:
        if key not in allowed and not key.startswith("$setElementOrder/"):
            where = f"{path}.{key}" if path else key
            raise SourceError(f'the demo cluster cannot apply patch field "{where}"')
    return value


def _patch_env(env: dict[str, str], item: dict) -> None:
    if not isinstance(item, dict) or not item.get("name"):
        raise SourceError("cannot apply patch: an env entry has no name")
    if item.get("$patch") == "delete":
        env.pop(item["name"], None)
    elif "valueFrom" in item:
        raise SourceError(f'the demo cluster cannot apply valueFrom for env "{item["name"]}"')
    else:
        env[item["name"]] = str(item.get("value", ""))


def earlier_template(now: tuple, cause: str | None, env: dict[str, str], back: int) -> tuple:
    """The template of a revision `back` rollouts before `now`: the version
    its change-cause names ("deploy x v2.7.4: ..."), the earlier env."""
    if back == 0:
        return now
    image, _, annotations = now
    found = re.search(r"\bv(\d+\.\d+\.\d+)\b", cause or "")
    version = found.group(1) if found else f"{image.rsplit(':', 1)[-1]}-r{back}"
    return (f"{image.rsplit(':', 1)[0]}:{version}", tuple(sorted(env.items())), annotations)
