"""Fixed-clock, fixed-seed demo scenes: the README screenshots and the
snapshot tests are both made from these, so they show the same thing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import fcntl
import shutil
import tempfile
from pathlib import Path

from console.ui.app import CBConsoleApp
from console.clock import FakeClock
from console.demo import DemoFleet, DemoSites, demo_service_map
from console.incident.tracker import IncidentTracker
from console.incident.journal import Journal

START = datetime(2026, 11, 27, 9, 0, 0, tzinfo=timezone.utc)
SIZE = (140, 40)
POLL_S = 2.0


@dataclass(frozen=True)
class Scene:
    name: str
    seconds: float  # demo time at the last poll
    select: str | None = None  # service to put the cursor on
    keys: tuple[str, ...] = ()  # pressed after the selection, each waited for
    after_s: float = 0  # demo time polled after the keys
    end_keys: tuple[str, ...] = ()  # pressed last
    seed: int = 7
    sites: bool = False  # the two-site demo (`cbconsole --demo`): eu-west and us-east


SCENES = {
    s.name: s
    for s in (
        Scene("board", seconds=42, select="payment-api"),
        # The regional case: payment-api unfolded, OPEN in eu-west, CLOSED in us-east.
        Scene("sites", seconds=42, select="payment-api", keys=("space",), sites=True),
        Scene("detail", seconds=66, select="inventory-svc"),
        Scene("diagnosis", seconds=42, select="payment-api", keys=("2", "g")),
        Scene("restart-dialog", seconds=42, select="payment-api", keys=("r",)),
        Scene("fallback-dialog", seconds=42, select="payment-api", keys=("f",)),
        Scene("flag-dialog", seconds=42, select="payment-api", keys=("d",)),
        Scene("smoke-dialog", seconds=42, select="payment-api", keys=("s",)),
        Scene("actions", seconds=42, select="payment-api", keys=("a", "u", "y"), after_s=20,
              end_keys=("3",)),
        Scene("help", seconds=42, select="payment-api", keys=("question_mark",)),
        Scene("timeline", seconds=42, select="payment-api", keys=("a", "u", "y"), after_s=40,
              end_keys=("4",)),
    )
}


#: The scene lock this process holds (one at a time: released at the next build).
_held: list = []


def journal_dir(scene: Scene) -> Path:
    """A fixed place (its path is on screen), emptied for each run. Two test
    runs on one machine would share it, and one's journal would give the
    other's incident a second ID: a lock on the scene keeps them apart."""
    root = Path(tempfile.gettempdir()) / "cbconsole-scenes"
    root.mkdir(parents=True, exist_ok=True)
    while _held:
        _held.pop().close()  # closing the file releases its lock
    lock = open(root / f"{scene.name}.lock", "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    _held.append(lock)
    path = root / scene.name
    shutil.rmtree(path, ignore_errors=True)
    return path


# Longer than any scene runs in real time: a toast leaves only when the
# scene's clock says so (SceneToasts.expire), never because the machine was slow.
NEVER_S = 24 * 3600.0


class SceneToasts:
    """Notifications on the scene's clock: each toast lives its timeout in
    demo time, so a shot shows the same toasts on a fast or a loaded machine."""

    def __init__(self, app: CBConsoleApp, clock: FakeClock) -> None:
        self.app, self.clock = app, clock
        self.notify = app.notify
        self.live: list[tuple[datetime, str, dict]] = []
        app.notify = self._notify  # every notify of the app, from any thread, comes here

    def _notify(self, message: str, *, timeout: float | None = None, **kwargs) -> None:
        seconds = self.app.NOTIFICATION_TIMEOUT if timeout is None else timeout
        self.live.append((self.clock() + timedelta(seconds=seconds), message, kwargs))
        self.notify(message, timeout=NEVER_S, **kwargs)

    def expire(self) -> None:
        """Drop the toasts whose time is up on the scene's clock (public API
        only: clear them all, then show the others again, in order)."""
        now = self.clock()
        live = [toast for toast in self.live if toast[0] > now]
        if len(live) == len(self.live):
            return
        self.app.clear_notifications()
        self.live = live
        for _, message, kwargs in live:
            self.notify(message, timeout=NEVER_S, **kwargs)


def build(scene: Scene):
    """(app, run_before): the app on a frozen clock, and the steps that bring
    it to the scene: one poll every 2 s of demo time, then the selection."""
    clock = FakeClock(START)
    fleet = (DemoSites if scene.sites else DemoFleet)(seed=scene.seed, clock=clock)
    journal = Journal.open_or_resume(journal_dir(scene), actor="oncall", clock=clock)
    # Polls are driven by run_before; the long interval keeps timers out of it.
    app = CBConsoleApp(
        fleet,
        cluster=fleet.cluster,
        flags=fleet.flags,
        probe=fleet.probe,
        service_map=demo_service_map(),
        tracker=IncidentTracker(journal),
        poll_interval=3600,
        clock=clock,
        sleep=clock.advance,  # rollouts are watched on demo time
    )
    toasts = SceneToasts(app, clock)

    async def run_before(pilot) -> None:
        await app.workers.wait_for_complete()
        for _ in range(int(scene.seconds // POLL_S)):
            clock.advance(POLL_S)
            app.poller.start()
            await app.workers.wait_for_complete()
            await pilot.pause()
        if scene.select:
            board = app.query_one("#board")
            board.move_cursor(row=board.get_row_index(scene.select))
        await pilot.pause()
        # The automatic diagnosis of a selected row waits 0.5 s of real time,
        # so it may have run at any poll above: once more, on the scene's clock.
        if app.diagnosis.timer is not None:
            app.diagnosis.timer.stop()
        await app.workers.wait_for_complete()
        app.diagnosis.diagnoses.clear()
        app.action_diagnose()
        await app.workers.wait_for_complete()
        await pilot.pause()
        async def press(keys) -> None:
            for key in keys:
                await pilot.press(key)
                # A key may start a worker whose answer pushes a screen, which
                # mounts and focuses later: settle in rounds (a loaded CI
                # machine takes longer).
                for _ in range(3):
                    await app.workers.wait_for_complete()
                    await pilot.pause(0.05)
                toasts.expire()  # a restart's watch moves the clock

        async def polls(seconds: float) -> None:
            for _ in range(int(seconds // POLL_S)):
                clock.advance(POLL_S)
                app.poller.start()
                await app.workers.wait_for_complete()
                await pilot.pause()
                toasts.expire()

        await press(scene.keys)
        await polls(scene.after_s)
        await press(scene.end_keys)
        await pilot.pause()

    return app, run_before
