"""The embedded demo fleet: a seeded, discrete-time simulation of namespace
shop, where payment-api has just broken and inventory-svc flaps.

`DemoFleet` is the BreakerSource; `fleet.cluster` (ClusterSource),
`fleet.flags` (FlagSource) and `fleet.probe` (Probe) act on the same
simulation. Every call first runs the sim up to clock(), in fixed ticks, so
the same seed and the same clock readings give the same answers.
"""

from __future__ import annotations

import random
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from console.clock import Clock, system_clock
from console.demo.breaker import SimBreaker
from console.demo.calls import Link, Totals
from console.demo.cluster import DemoCluster
from console.demo.flags import DemoFlags
from console.demo.kube import TICK, SimDeployment, SimPod, ticks
from console.demo.probe import DemoProbe
from console.demo.topology import (
    CALLER_VERSIONS,
    DOWNSTREAMS,
    POOL_BEFORE,
    TICK_S,
    TICKS_PER_S,
    Downstream,
)
from console.model.fleet import (
    BreakerState,
    CallTotals,
    Flag,
    FleetSnapshot,
    InstanceStatus,
    ServiceStatus,
    Transition,
)
from console.errors import SourceError

MAX_PENDING = 10_000  # transitions kept for the next poll, if nobody polls for hours
TRUE = {"true", "1", "yes", "on"}
OPEN = BreakerState.OPEN


class DemoFleet:
    def __init__(self, seed: int = 7, clock: Clock = system_clock, site: str = "",
                 downstreams: tuple[Downstream, ...] = DOWNSTREAMS) -> None:
        self.seed = seed
        self.site = site  # stamped on its rows and transitions ("": the one implicit site)
        self.label = f"demo fleet (seed {seed})"
        self.downstream_list = downstreams
        self.clock = clock
        self.t0 = clock()
        self.tick = 0
        self.lock = threading.RLock()  # sources are called from worker threads
        self.rng = random.Random(seed)
        self.downstreams = {d.name: d for d in downstreams}
        self.deployments: dict[str, SimDeployment] = {}
        for caller, version in CALLER_VERSIONS.items():
            env = {"LOG_LEVEL": "info", "PORT": "8080"}
            for d in downstreams:
                if d.caller == caller:
                    env[f"{d.env_prefix}_URL"] = f"http://{d.name}.shop.svc:8080"
            self._add_deployment(caller, version, env, ())
        for d in downstreams:
            env = {"LOG_LEVEL": "info", "PORT": "8080"}
            earlier = None
            if d.fault and d.fault.revision_env:
                env |= dict(d.fault.revision_env)
                # The pool settings the bad revision changed (a rollback restores them).
                earlier = POOL_BEFORE
            self._add_deployment(d.name, d.version, env, d.history, earlier)
        self.flag_values = {
            d.flag: Flag(name=d.flag, enabled=True, updated_at=self.t0 - timedelta(days=30))
            for d in downstreams
        }
        self.totals = {name: Totals() for name in self.downstreams}
        self.last_transition: dict[str, Transition] = {}
        self._pending: deque[Transition] = deque(maxlen=MAX_PENDING)
        for d in downstreams:
            for pod in self.deployments[d.caller].serving(0):
                self._link(pod, d, 0)
        self.cluster = DemoCluster(self)
        self.flags = DemoFlags(self)
        self.probe = DemoProbe(self)

    def _add_deployment(self, name, version, env, history, earlier_env=None) -> None:
        if not history:  # made up: 1-3 earlier deploys, days to weeks ago
            count, last, age = self.rng.randint(1, 3), self.rng.randint(3, 40), 0.0
            entries = []
            for back in range(count):
                age += self.rng.uniform(1.0, 12.0) * 86400
                cause = f"deploy {name} v{_earlier(version, back)}"
                entries.insert(0, (last - back, age, cause))
            history = tuple(entries)
        self.deployments[name] = SimDeployment(
            name, version, env, list(history), self.t0, self.rng, earlier_env
        )

    # --- BreakerSource ------------------------------------------------------------

    def poll(self) -> FleetSnapshot:
        with self.lock:
            now = self.sync()
            services = tuple(self._status(d) for d in self.downstream_list)
            transitions = tuple(sorted(self._pending, key=lambda t: t.at))
            self._pending.clear()
            totals = {name: CallTotals(failures=t.failures, successes=t.successes,
                                       rejected=t.rejected, source=f"{self.label}'s own counters")
                      for name, t in self.totals.items()}
        return FleetSnapshot(fetched_at=now, services=services, transitions=transitions,
                             totals=totals)

    def _status(self, d: Downstream) -> ServiceStatus:
        instances = []
        for pod in self.deployments[d.caller].serving(self.tick):
            link = pod.links[d.name]
            failed, ok, rejected = link.rates()
            state = link.breaker.state
            instances.append(
                InstanceStatus(
                    instance=pod.name,
                    state=state,
                    since=link.breaker.since,
                    reported=(state,),
                    failure_rate=failed,
                    success_rate=ok,
                    rejected_rate=rejected,
                )
            )
        return ServiceStatus(
            service=d.name,
            site=self.site,
            instances=tuple(instances),
            recovery_timeout_s=d.recovery_timeout_s,
            last_transition=self.last_transition.get(d.name),
        )

    # --- diagnosis --------------------------------------------------------------------

    def health(self, service: str) -> tuple[int, float]:
        """(HTTP status, latency ms) of GET /health through the service, as
        `curl http://payment-api:8080/health` from a pod would see it."""
        with self.running() as tick:
            if service not in self.deployments:
                raise SourceError(f'services "{service}" not found')
            # Its own rng: looking must not change what the fleet does next.
            jitter = random.Random(f"{self.seed}:{service}:{tick}").random()
            d = self.downstreams.get(service)
            if d is None:
                return 200, 5.0 + 10.0 * jitter
            pods = self.deployments[service].serving(tick)
            if not pods or self._faulty_share(d, pods, tick) >= 0.5:
                return 503, 2500.0 + 1500.0 * jitter  # waiting on the pool, then giving up
            if d.flap and d.flap.bad(tick * TICK_S):
                return 503, 2000.0 + 200.0 * jitter
            return 200, 8.0 + 20.0 * jitter

    # --- the simulation ------------------------------------------------------------

    @contextmanager
    def running(self) -> Iterator[int]:
        """Hold the sim, brought up to clock(), for one source call."""
        with self.lock:
            self.sync()
            yield self.tick

    def sync(self) -> datetime:
        """Run the sim in whole ticks up to clock(); returns that clock reading."""
        now = self.clock()
        target = (now - self.t0) // TICK
        while self.tick < target:
            self._step()
        return now

    def at(self, tick: int) -> datetime:
        return self.t0 + TICK * tick

    def stamp(self, tick: int) -> str:
        """A log timestamp: 2026-11-27T09:00:04.200Z."""
        at = self.at(tick)
        return f"{at:%Y-%m-%dT%H:%M:%S}.{at.microsecond // 1000:03d}Z"

    def _step(self) -> None:
        self.tick += 1
        tick, now = self.tick, self.at(self.tick)
        for deployment in self.deployments.values():
            deployment.step(tick, self.rng)
        for d in self.downstream_list:
            self._calls(d, tick, now)
        if tick % TICKS_PER_S == 0:
            self._log_second(tick)

    def _calls(self, d: Downstream, tick: int, now: datetime) -> None:
        """One tick of one caller deployment's calls to one downstream."""
        p = self.error_rate(d, tick)
        calling = self.flag_values[d.flag].enabled
        random_ = self.rng.random
        totals = self.totals[d.name]
        for pod in self.deployments[d.caller].serving(tick):
            link = pod.links.get(d.name) or self._link(pod, d, tick)
            breaker = link.breaker
            breaker.advance(now)  # the recovery timer runs with no traffic too
            ok = fail = rej = 0
            if calling:
                for _ in range(1 + int(random_() * 3)):
                    # breaker.allow(now), minus the timer check advance() just did.
                    if breaker.state is OPEN:
                        rej += 1
                    elif link.fallback or random_() >= p:
                        ok += 1
                        breaker.record_success(now)
                    else:
                        fail += 1
                        pod.write(tick, f"[WARN] {d.endpoint} on {d.name} failed: 503 Service Unavailable")
                        breaker.record_failure(now)
            link.push(ok, fail, rej)
            if (rej or link.fallback) and tick >= link.quiet_until:
                self._log_calls(pod, link, d, tick, ok, rej)
            totals.successes += ok
            totals.failures += fail
            totals.rejected += rej

    def error_rate(self, d: Downstream, tick: int) -> float:
        """The share of calls to `d` failing at `tick`."""
        pods = self.deployments[d.name].serving(tick)
        if not pods:
            return 1.0  # nothing behind the Service: connection refused
        p = d.base_error
        if d.fault and tick >= ticks(d.fault.start_s):
            p += (d.fault.error_rate - p) * self._faulty_share(d, pods, tick)
        if d.flap and d.flap.bad(tick * TICK_S):
            p = max(p, d.flap.error_rate)
        return p

    def _faulty(self, d: Downstream, pod: SimPod, tick: int) -> bool:
        fault = d.fault
        if fault is None or tick < ticks(fault.start_s):
            return False
        if fault.revision_env:  # the revision's setting: a restart keeps it
            return all(pod.env.get(k) == v for k, v in fault.revision_env)
        return pod.created <= ticks(fault.start_s)

    def _faulty_share(self, d: Downstream, pods: list[SimPod], tick: int) -> float:
        return sum(1 for p in pods if self._faulty(d, p, tick)) / len(pods)

    def _link(self, pod: SimPod, d: Downstream, tick: int) -> Link:
        """The breaker a caller pod's process creates when it starts serving."""
        env = pod.env
        fallback = None
        if env.get(f"{d.env_prefix}_FALLBACK_ENABLED", "").lower() in TRUE:
            fallback = env.get(f"{d.env_prefix}_FALLBACK_MODE", "default")
        totals = self.totals[d.name]

        def on_transition(from_state: BreakerState, to_state: BreakerState, at: datetime) -> None:
            t = Transition(
                service=d.name, instance=pod.name, from_state=from_state, to_state=to_state, at=at,
                site=self.site,
            )
            self._pending.append(t)
            self.last_transition[d.name] = t
            totals.transitions += 1
            level = "ERROR" if to_state is BreakerState.OPEN else "INFO"
            pod.write(
                (at - self.t0) // TICK,
                f"[{level}] Circuit breaker '{d.name}' state changed: "
                f"{from_state.label} -> {to_state.label}",
            )

        breaker = SimBreaker(
            self.at(tick), recovery_timeout=d.recovery_timeout_s, on_transition=on_transition
        )
        # Pods already running at t0 created theirs when they started.
        started = min(tick, pod.ready_at)
        pod.write(
            started,
            f"[INFO] Circuit breaker '{d.name}' created: CLOSED (failure_threshold=5, "
            f"recovery_timeout={d.recovery_timeout_s:g}s)",
        )
        if fallback:
            pod.write(started, f"[INFO] {d.name} fallback enabled (mode={fallback})")
        link = pod.links[d.name] = Link(breaker, fallback)
        return link

    def _log_calls(
        self, pod: SimPod, link: Link, d: Downstream, tick: int, ok: int, rej: int
    ) -> None:
        """Rejected and fallback calls, logged at most once a second."""
        if rej:
            pod.write(tick, f"[ERROR] Circuit breaker '{d.name}' is OPEN - rejecting request")
            link.quiet_until = tick + TICKS_PER_S
        if ok and link.fallback:
            pod.write(tick, f"[INFO] {d.name} call served by fallback (mode={link.fallback})")
            link.quiet_until = tick + TICKS_PER_S

    def _log_second(self, tick: int) -> None:
        """Once a sim second: what the downstream pods logged meanwhile."""
        heartbeat = tick % (10 * TICKS_PER_S) == 0
        for d in self.downstream_list:
            for pod in self.deployments[d.name].serving(tick):
                if self._faulty(d, pod, tick):
                    pod.write(tick, f"[ERROR] {d.endpoint} failed: {d.fault.message}")
                elif d.flap and d.flap.bad(tick * TICK_S):
                    pod.write(tick, f"[ERROR] {d.endpoint} failed: {d.flap.message}")
                elif heartbeat:
                    pod.write(tick, "[INFO] GET /health 200")
        if heartbeat:
            for caller in CALLER_VERSIONS:
                for pod in self.deployments[caller].serving(tick):
                    pod.write(tick, "[INFO] GET /healthz 200")


def _earlier(version: str, back: int) -> str:
    """A plausible version `back` deploys before `version`."""
    major, minor, patch = (int(x) for x in version.split("."))
    if patch >= back:
        return f"{major}.{minor}.{patch - back}"
    return f"{major}.{max(minor - 1, 0)}.{patch + 10 - back}"
