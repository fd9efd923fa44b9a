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
from console.mitigations.siterouting import SiteRouter
from console.model.servicemap import ServiceMap
from console.ports import ClusterSource, CommitLog, FlagSource, Probe
from console.ui.journal_bridge import JournalBridge
from console.ui.poller import Poller
from console.ui.selection import Selection

log = logging.getLogger(__name__)


Key = tuple[str, str]  # a row: (site, service)


class DiagnosisReady(Message):
    def __init__(self, key: Key, diagnosis: Diagnosis | None, error: str | None) -> None:
        self.key = key
        self.diagnosis = diagnosis
        self.error = error
        super().__init__()


class DiagnosisController:
    """`app` runs the worker and gets DiagnosisReady (handed back to
    `ready`); `show(service)` draws the diagnosis pane for a service; the
    rollouts found go to `journal`; the breaker comes from `poller`. Each
    row (site, service) is read from its own site's cluster and flag
    service (`sites`; default: the one implicit site of `cluster`, `flags`)."""

    def __init__(self, app: App, *, selection: Selection, poller: Poller, journal: JournalBridge,
                 service_map: ServiceMap, cluster: ClusterSource | None, cluster_unavailable: str,
                 flags: FlagSource | None, probe: Probe | None, clock: Clock,
                 show: Callable[[str | None], None], commits: CommitLog | None = None,
                 sites: SiteRouter | None = None) -> None:
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
        self.sites = sites or SiteRouter.implicit(
            cluster=cluster, flags=flags, service_map=service_map,
            cluster_unavailable=cluster_unavailable)
        # Per row, (site, service): a service's diagnosis in one site is not another's.
        self.diagnoses: dict[Key, Diagnosis] = {}
        self.errors: dict[Key, str] = {}
        self.gathering: set[Key] = set()
        self.again: set[Key] = set()  # g pressed while a gather ran
        self.timer = None  # the automatic diagnosis of the row the cursor stopped on

    def diagnose(self) -> None:
        key = self.selection.key()
        if key is None:
            return
        if key in self.gathering:
            # Reads under way may predate what the press is about (a login, a
            # rollout): one more gather follows them.
            self.again.add(key)
            return
        self.gathering.add(key)
        self.show(key[1])
        self._gather(key)

    def selected(self, service: str | None) -> None:
        """The cursor moved: scrolling through the board must not fire a
        diagnosis per row (nor a late one after the screens are gone)."""
        if not self.selection.mounted():
            return
        if self.timer is not None:
            self.timer.stop()
        if service and self.selection.key() not in self.diagnoses:
            self.timer = self.app.set_timer(0.5, self.diagnose, name="diagnose")

    def _gather(self, key: Key) -> None:
        snapshot = self.poller.snapshot
        breaker = snapshot.by_key.get(key) if snapshot else None
        self.app.run_worker(lambda: self._read(key, breaker), name="_gather",
                            group="diagnose", thread=True, exit_on_error=False)

    def _read(self, key: Key, breaker) -> None:
        """In the worker: the row's site's cluster, the probe and the site's flag service."""
        site = self.sites.site(key[0])
        try:
            diagnosis = gather(
                self.sites.target(key[0], key[1]),
                cluster=site.cluster,
                probe=site.probe or self.probe,
                flags=site.flags,
                breaker=breaker,
                now=self.clock(),
                cluster_unavailable=site.cluster_unavailable or "no cluster",
                context=site.context,
                commits=self.commits,
            )
        except Exception as error:  # noqa: BLE001 - shown in the pane, never fatal
            log.warning("diagnosis of %s failed", key, exc_info=True)
            self.app.post_message(DiagnosisReady(key, None, describe_error(error)))
        else:
            self.app.post_message(DiagnosisReady(key, diagnosis, None))

    def of(self, key: Key | None) -> Diagnosis | None:
        """The last diagnosis of row `key`, if any."""
        return self.diagnoses.get(key) if key is not None else None

    def ready(self, message: DiagnosisReady) -> None:
        key = message.key
        self.gathering.discard(key)
        if key in self.again:
            self.again.discard(key)
            self.gathering.add(key)
            self._gather(key)
        if message.diagnosis is not None:
            self.diagnoses[key] = message.diagnosis
            self.journal.rollouts_seen(message.diagnosis, site=key[0])
            self.errors.pop(key, None)
        else:
            self.errors[key] = message.error or "unknown error"
        if self.selection.mounted():
            self.show(self.selection.service())
