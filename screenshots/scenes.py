"""Fixed-clock, fixed-seed demo scenes: the README screenshots and the
snapshot tests are both made from these, so they show the same thing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from console.app import CBConsoleApp
from console.clock import FakeClock
from console.demo import DemoFleet, demo_service_map

START = datetime(2026, 11, 27, 9, 0, 0, tzinfo=timezone.utc)
SIZE = (140, 40)
POLL_S = 2.0


@dataclass(frozen=True)
class Scene:
    name: str
    seconds: float  # demo time at the last poll
    select: str | None = None  # service to put the cursor on
    keys: tuple[str, ...] = ()  # pressed after the selection, each waited for
    seed: int = 7


SCENES = {
    s.name: s
    for s in (
        Scene("board", seconds=42, select="payment-api"),
        Scene("detail", seconds=66, select="inventory-svc"),
        Scene("diagnosis", seconds=42, select="payment-api", keys=("2", "g")),
        Scene("restart-dialog", seconds=42, select="payment-api", keys=("r",)),
        Scene("fallback-dialog", seconds=42, select="payment-api", keys=("f",)),
        Scene("flag-dialog", seconds=42, select="payment-api", keys=("d",)),
        Scene("smoke-dialog", seconds=42, select="payment-api", keys=("s",)),
    )
}


def build(scene: Scene):
    """(app, run_before): the app on a frozen clock, and the steps that bring
    it to the scene: one poll every 2 s of demo time, then the selection."""
    clock = FakeClock(START)
    fleet = DemoFleet(seed=scene.seed, clock=clock)
    # Polls are driven by run_before; the long interval keeps timers out of it.
    app = CBConsoleApp(
        fleet,
        cluster=fleet.cluster,
        flags=fleet.flags,
        probe=fleet.probe,
        service_map=demo_service_map(),
        poll_interval=3600,
        clock=clock,
    )

    async def run_before(pilot) -> None:
        await app.workers.wait_for_complete()
        steps = int(scene.seconds // POLL_S)
        for _ in range(steps):
            clock.advance(POLL_S)
            app.start_poll()
            await app.workers.wait_for_complete()
            await pilot.pause()
        if scene.select:
            board = app.query_one("#board")
            board.move_cursor(row=board.get_row_index(scene.select))
        await pilot.pause()
        for key in scene.keys:
            await pilot.press(key)
            await app.workers.wait_for_complete()
            await pilot.pause()
        await pilot.pause()

    return app, run_before
