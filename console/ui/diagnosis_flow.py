"""The diagnosis of the selected service: gathered in a thread worker (g,
or half a second after the cursor stops on a row), cached per service, and
gathered once more when g is pressed while a gather runs."""

from __future__ import annotations

import logging
from typing import Callable

from textual.app import App
from textual.message import Message

from console.clock import Clock
from console.diagnosis.findings import Diagnosis
from console.diagnosis.gather import gather
from console.errors import describe_error
from console.model.servicemap import ServiceMap
from console.ports import ClusterSource, CommitLog, FlagSource, Probe
from console.ui.journal_bridge import JournalBridge
from console.ui.poller import Poller
from console.ui.selection import Selection

log = logging.getLogger(__name__)


class DiagnosisReady(Message):
    def __init__(self, service: str, diagnosis: Diagnosis | None, error: str | None) -> None:
        self.service = service
        self.diagnosis = diagnosis
        self.error = error
        super().__init__()


class DiagnosisController:
    """`app` runs the worker and gets DiagnosisReady (handed back to
    `ready`); `show(service)` draws the diagnosis pane for a service; the
    rollouts found go to `journal`; the breaker comes from `poller`."""

    def __init__(self, app: App, *, selection: Selection, poller: Poller, journal: JournalBridge,
                 service_map: ServiceMap, cluster: ClusterSource | None, cluster_unavailable: str,
                 flags: FlagSource | None, probe: Probe | None, clock: Clock,
                 show: Callable[[str | None], None], commits: CommitLog | None = None) -> None:
        self.app = app
        self.selection = selection
        self.poller = poller
        self.journal = journal
        self.service_map = service_map
        self.cluster = cluster
        self.cluster_unavailable = cluster_unavailable  # why there is no cluster
        self.context = getattr(cluster, "label", None)
        self.flags = flags
        self.probe = probe
        self.commits = commits  # git log on this host
        self.clock = clock
        self.show = show
        self.diagnoses: dict[str, Diagnosis] = {}
        self.errors: dict[str, str] = {}
        self.gathering: set[str] = set()
        self.again: set[str] = set()  # g pressed while a gather ran
        self.timer = None  # the automatic diagnosis of the row the cursor stopped on

    def diagnose(self) -> None:
        service = self.selection.service()
        if service is None:
            return
        if service in self.gathering:
            # Reads under way may predate what the press is about (a login, a
            # rollout): one more gather follows them.
            self.again.add(service)
            return
        self.gathering.add(service)
        self.show(service)
        self._gather(service)

    def selected(self, service: str | None) -> None:
        """The cursor moved: scrolling through the board must not fire a
        diagnosis per row (nor a late one after the screens are gone)."""
        if not self.selection.mounted():
            return
        if self.timer is not None:
            self.timer.stop()
        if service and service not in self.diagnoses:
            self.timer = self.app.set_timer(0.5, self.diagnose, name="diagnose")

    def _gather(self, service: str) -> None:
        snapshot = self.poller.snapshot
        breaker = snapshot.service(service) if snapshot else None
        self.app.run_worker(lambda: self._read(service, breaker), name="_gather",
                            group="diagnose", thread=True, exit_on_error=False)

    def _read(self, service: str, breaker) -> None:
        """In the worker: the cluster, the probe and the flag service."""
        try:
            diagnosis = gather(
                self.service_map.target(service),
                cluster=self.cluster,
                probe=self.probe,
                flags=self.flags,
                breaker=breaker,
                now=self.clock(),
                cluster_unavailable=self.cluster_unavailable or "no cluster",
                context=self.context,
                commits=self.commits,
            )
        except Exception as error:  # noqa: BLE001 - shown in the pane, never fatal
            log.warning("diagnosis of %s failed", service, exc_info=True)
            self.app.post_message(DiagnosisReady(service, None, describe_error(error)))
        else:
            self.app.post_message(DiagnosisReady(service, diagnosis, None))

    def ready(self, message: DiagnosisReady) -> None:
        service = message.service
        self.gathering.discard(service)
        if service in self.again:
            self.again.discard(service)
            self.gathering.add(service)
            self._gather(service)
        if message.diagnosis is not None:
            self.diagnoses[service] = message.diagnosis
            self.journal.rollouts_seen(message.diagnosis)
            self.errors.pop(service, None)
        else:
            self.errors[service] = message.error or "unknown error"
        if self.selection.mounted():
            self.show(self.selection.service())
