"""A commit as `git log` lists it (runbook Diagnosis 3)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Commit:
    sha: str  # the full hash
    short: str  # git's abbreviation (%h)
    committed_at: datetime  # the committer date: the one `git log --since` filters on
    author: str  # untrusted text: escape before rendering
    subject: str  # untrusted text: escape before rendering


@dataclass(frozen=True)
class CommitLine:
    commit: Commit
    rollouts: tuple[str, ...] = ()  # "deployment/payment-api revision 14", the rollouts naming it


@dataclass(frozen=True)
class CommitsView:
    repo: str | None
    path: str | None
    since_minutes: int
    opened_at: datetime | None  # the breaker's opening the times are told against; None: now
    commits: tuple[CommitLine, ...] = ()
    error: str | None = None  # why they were not read
    # (deployment, revision) -> the short hash of the commit its image or change-cause names
    links: tuple[tuple[str, int, str], ...] = ()

    def link(self, deployment: str, revision: int) -> str | None:
        return next((short for d, r, short in self.links if (d, r) == (deployment, revision)),
                    None)
