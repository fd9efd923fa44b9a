"""What a diagnosis found, as data: the widgets show it, the mitigations
preselect from it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Mapping

from console.diagnosis.clusterview import ClusterView, InsideCheck
from console.model.commits import CommitsView
from console.model.fleet import Deployment, Flag, Pod, Revision
from console.model.kubectl import RolloutStatus
from console.model.probe import HealthResult
from console.model.servicemap import ServiceTarget


LIKELY_CAUSE_WINDOW = timedelta(minutes=30)
CALLER_STILL_OPEN = timedelta(minutes=5)  # runbook: healthy downstream, breaker open past 5 min
LOG_LINES = 20  # per workload, newest first
LOG_PODS = 5  # pods whose logs are read, per workload
LOG_TAIL = 200  # lines read per pod
EXEC_TIMEOUT = 5.0  # s, for one `nc -w 2` in a pod
NC_WAIT_S = 2
NO_HEALTH_URL = "no health_url in the service map"
PARTS = ("deployment", "rollout history", "pods", "logs")  # what a WorkloadView reads


@dataclass(frozen=True)
class RevisionView:
    revision: Revision
    current: bool  # the revision the deployment runs now
    likely_cause: bool  # finished within LIKELY_CAUSE_WINDOW before the breaker opened


@dataclass(frozen=True)
class LogLine:
    pod: str
    text: str  # as the pod wrote it: untrusted, escape before rendering


@dataclass(frozen=True)
class WorkloadView:
    role: str  # "downstream" or "caller"
    name: str  # deployment name
    deployment: Deployment | None = None
    rollout: RolloutStatus | None = None
    revisions: tuple[RevisionView, ...] = ()
    pods: tuple[Pod, ...] = ()
    log_filter: str = ""  # "circuit" for the caller, "ERROR" for the downstream
    logs: tuple[LogLine, ...] = ()  # newest first, at most LOG_LINES
    log_pods: tuple[str, ...] = ()  # the pods whose log tails were read
    error: str | None = None  # why some of the above is unknown
    # What could not be read and why: ("deployment" | "rollout history" |
    # "pods" | "logs" | "logs of <pod>", why). Empty is not "nothing found".
    unread: tuple[tuple[str, str], ...] = ()

    def why_unread(self, what: str) -> str | None:
        return next((why for part, why in self.unread if part == what), None)


@dataclass(frozen=True)
class DependencyCheck:
    address: str  # host:port, or the URL (console.diagnosis.urldeps)
    reachable: bool | None  # None: not checked; a URL: it answered HTTP
    detail: str  # what nc (curl, wget) said in plain words, or why it was not checked
    pod: str | None = None  # the downstream pod it was checked from
    tool: str | None = None  # a URL's: "curl" or "wget"
    status: int | None = None  # a URL's HTTP status
    latency_ms: float | None = None

    @property
    def failing(self) -> bool:
        return self.reachable is False or (self.status is not None and self.status >= 400)


@dataclass(frozen=True)
class Press:
    """Where a sentence names a mitigation's key, by the mitigation's registry
    name: the UI, which has the key bindings, writes the letter into `form`
    (the core knows no key letters)."""

    mitigation: str
    form: str = "{}"


#: A sentence: text, and the keys it names.
Said = tuple[str | Press, ...]


def joined(*pieces: str | Said, sep: str = " ") -> Said:
    """Pieces of a sentence (text or sentences) joined by `sep`."""
    out: list[str | Press] = []
    for i, piece in enumerate(pieces):
        if i:
            out.append(sep)
        out += [piece] if isinstance(piece, str) else list(piece)
    return tuple(out)


@dataclass(frozen=True)
class NextStep:
    option: int | None  # the runbook's Option 1-4, None when nothing to do
    mitigation: str | None  # the registry name of the mitigation that does it ("restart")
    said: Said
    rollbacks: tuple[str, ...] = ()  # the `kubectl rollout undo` commands to run first

    def text(self, keys: Mapping[str, str]) -> str:
        """The sentence with the keys of `keys` (mitigation name -> key); a
        mitigation without a key is not named."""
        return "".join(p if isinstance(p, str) else
                       p.form.format(keys[p.mitigation]) if p.mitigation in keys else ""
                       for p in self.said)


@dataclass(frozen=True)
class Diagnosis:
    target: ServiceTarget
    gathered_at: datetime
    health: HealthResult | None
    downstream: WorkloadView
    caller: WorkloadView
    dependencies: tuple[DependencyCheck, ...]
    fallback_on: bool | None  # the caller's <PREFIX>_FALLBACK_ENABLED; None unknown
    flag: Flag | None
    flag_error: str | None
    next_step: NextStep
    cluster: ClusterView | None = None  # endpoints, Warning events, NetworkPolicies
    inside: InsideCheck | None = None  # the health URL from inside a caller pod
    commits: CommitsView | None = None  # git log of the service's directory, on this host


# --- gathering ---------------------------------------------------------------------
