"""What the demo's cluster, flags and probe read of the simulated fleet: an
interface of their own, so that they need not import the fleet that builds
them (no import circle)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

from console.clock import Clock
from console.demo.kube import SimDeployment
from console.demo.topology import Downstream
from console.model.fleet import Flag


class World(Protocol):
    seed: int
    clock: Clock
    downstreams: dict[str, Downstream]
    deployments: dict[str, SimDeployment]
    flag_values: dict[str, Flag]

    def running(self) -> AbstractContextManager[int]:
        """Hold the sim, brought up to clock(), for one source call."""
        ...

    def health(self, service: str) -> tuple[int, float]: ...

    def stamp(self, tick: int) -> str: ...

    def error_rate(self, d: Downstream, tick: int) -> float: ...
