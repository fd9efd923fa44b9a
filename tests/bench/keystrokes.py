"""Keystrokes from launch to a confirmed restart of the open breaker's
downstream (payment-api's deployment) on the demo fleet, beside the
characters RUNBOOK-004's manual commands need for the same step.

The console: a Pilot run of the demo fleet on a FakeClock (as
screenshots/scenes.py and tests/test_incident_loop.py drive it), polled every
2 s of demo time until payment-api shows OPEN. Then every key an operator
presses is counted: cursor moves to payment-api's row (none when the open
breaker is the top row), `r`, and `y` in the confirmation dialog. The restart
must then be recorded as succeeded on deployment/payment-api.

The runbook: the command lines of Diagnosis 1 (identify the service) and 2
(check its health) and Mitigation Option 2 steps 1-2 (restart, wait for
readiness), counted as typed on one line each, plus Enter per command.

Usage: python tests/bench/keystrokes.py
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from console.ui.app import CBConsoleApp  # noqa: E402
from console.clock import FakeClock  # noqa: E402
from console.demo import DemoFleet, demo_service_map  # noqa: E402
from console.incident.tracker import IncidentTracker  # noqa: E402
from console.incident.journal import Journal  # noqa: E402
from console.model.fleet import BreakerState  # noqa: E402
from console.mitigations.recorder import Stage  # noqa: E402
from screenshots.scenes import START  # noqa: E402
from widgets.confirm import ConfirmDialog  # noqa: E402

POLL_S = 2.0
TARGET = "payment-api"

#: RUNBOOK-004, as an engineer types them (continuation lines joined).
RUNBOOK = [
    ("Diagnosis 1: identify the affected service",
     "curl http://prometheus:9090/api/v1/query -d 'query=circuit_breaker_state{state=\"open\"}'"),
    ("Diagnosis 2: direct health check",
     "curl -v https://payment-api.example.com/health"),
    ("Diagnosis 2: health check from an application pod",
     "kubectl exec -it api-pod -- curl http://payment-api:8080/health"),
    ("Option 2.1: restart the failing service",
     "kubectl rollout restart deployment/payment-api"),
    ("Option 2.2: wait for readiness",
     "kubectl rollout status deployment/payment-api"),
]


async def console_keys(state: Path) -> tuple[list[str], dict]:
    clock = FakeClock(START)
    fleet = DemoFleet(seed=7, clock=clock)
    journal = Journal.open_or_resume(state, actor="bench", clock=clock)
    app = CBConsoleApp(
        fleet, cluster=fleet.cluster, flags=fleet.flags, probe=fleet.probe,
        service_map=demo_service_map(), tracker=IncidentTracker(journal),
        poll_interval=3600, clock=clock, sleep=clock.advance,
    )
    keys: list[str] = []
    info: dict = {}
    async with app.run_test(size=(140, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        waited = 0.0
        while True:
            status = app.poller.snapshot.service(TARGET) if app.poller.snapshot else None
            if status is not None and status.state == BreakerState.OPEN:
                break
            if waited > 300:
                raise RuntimeError(f"{TARGET} not OPEN after {waited:g}s of demo time")
            clock.advance(POLL_S)
            waited += POLL_S
            app.poller.start()
            await app.workers.wait_for_complete()
            await pilot.pause()
        board = app.query_one("#board")
        info["open_after_s"] = waited
        info["top_row"] = board.get_row_index(TARGET) == 0
        info["row"] = board.get_row_index(TARGET)

        async def press(key: str) -> None:
            keys.append(key)
            await pilot.press(key)
            await app.workers.wait_for_complete()
            await pilot.pause()

        # The operator moves the cursor to the open breaker, if not there.
        while board.selected_service != TARGET:
            if len(keys) > 50:
                raise RuntimeError("cannot reach payment-api's row")
            await press("down" if board.cursor_row < board.get_row_index(TARGET) else "up")
        await press("r")
        assert isinstance(app.screen, ConfirmDialog), f"no dialog after r: {app.screen}"
        info["plan"] = f"{app.screen.plan.title} (deployment {app.screen.plan.deployment})"
        await press("y")
        for _ in range(100):  # the rollout is watched on demo time
            await app.workers.wait_for_complete()
            await pilot.pause()
            done = [e for e in app.mitigations.recorder.events if e.action == "restart"
                    and e.service == TARGET and e.stage in (Stage.SUCCEEDED, Stage.FAILED)]
            if done:
                break
        info["outcome"] = (f"{done[-1].stage.value} on {done[-1].target}" if done
                           else "no outcome recorded")
        info["stages"] = [e.stage.value for e in app.mitigations.recorder.events if e.action == "restart"]
    return keys, info


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="cbconsole-keys-") as state:
        keys, info = asyncio.run(console_keys(Path(state)))
    print(f"demo fleet (seed 7): {TARGET} OPEN after {info['open_after_s']:g}s of demo time, "
          f"board row {info['row']} ({'top row' if info['top_row'] else 'not the top row'})")
    print(f"dialog: {info['plan']}; restart {info['outcome']} "
          f"(stages: {', '.join(info['stages'])})")
    print()
    moves = [k for k in keys if k in ("up", "down")]
    print(f"{'cbconsole':<52} {'keys':>6}")
    print(f"{'  cursor moves to ' + TARGET:<52} {len(moves):>6}")
    print(f"{'  r (restart), y (confirm)':<52} {len(keys) - len(moves):>6}")
    print(f"{'  total keystrokes: ' + ' '.join(keys):<52} {len(keys):>6}")
    print()
    print(f"{'RUNBOOK-004 commands (one line each, as typed)':<52} {'chars':>6}")
    total = 0
    for what, command in RUNBOOK:
        total += len(command) + 1
        print(f"{'  ' + what:<52} {len(command) + 1:>6}   {command}")
    print(f"{'  total (characters + one Enter per command)':<52} {total:>6}")
    restart_only = sum(len(c) + 1 for w, c in RUNBOOK if w.startswith("Option"))
    print(f"{'  of which the restart and its wait alone':<52} {restart_only:>6}")
    print()
    print(f"ratio runbook keystrokes / console keystrokes: {total / len(keys):.0f}x "
          f"({total} vs {len(keys)})")
    print("\nreproduce: make bench-keys  (or: .venv/bin/python tests/bench/keystrokes.py)")
    return 0 if "succeeded" in info["outcome"] else 1


if __name__ == "__main__":
    sys.exit(main())
