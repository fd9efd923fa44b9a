"""The demo feature-flag service (RUNBOOK-004 Option 4), on the fleet's sim."""

from __future__ import annotations


from console.demo.topology import DOWNSTREAMS
from console.model.fleet import Flag
from console.errors import SourceError
from console.demo.world import World


class DemoFlags:
    """The feature-flag service: `<service>-integration`, all on at start."""

    label = "demo flags"

    def __init__(self, fleet: World) -> None:
        self._fleet = fleet

    def get_flag(self, name: str) -> Flag:
        with self._fleet.running():
            return self._find(name)

    def set_flag(self, name: str, enabled: bool) -> Flag:
        fleet = self._fleet
        with fleet.running() as tick:
            flag = self._find(name)
            if flag.enabled == enabled:
                return flag
            flag = fleet.flag_values[name] = Flag(name=name, enabled=enabled, updated_at=fleet.clock())
            d = next(d for d in DOWNSTREAMS if d.flag == name)
            word = "enabled" if enabled else f"disabled: no calls to {d.name}"
            for pod in fleet.deployments[d.caller].serving(tick):
                pod.write(tick, f"[INFO] Feature flag '{name}' {word}")
            return flag

    def _find(self, name: str) -> Flag:
        flag = self._fleet.flag_values.get(name)
        if flag is None:
            raise SourceError(f'flag "{name}" not found')
        return flag
