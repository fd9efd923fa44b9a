"""The recent commits (runbook Diagnosis 3: `git log --oneline --since="1
hour ago" -- services/payment-api/`), read on the console's host from the
service map's `repo` and `path`, beside the rollouts: newest first, each
dated against the breaker's opening. An image tag or a change-cause that
names a commit (short or full hash) links the commit and the rollout."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta

from console.diagnosis.findings import WorkloadView
from console.errors import SourceError
from console.model.commits import Commit, CommitLine, CommitsView
from console.model.servicemap import ServiceTarget

_HEX = re.compile(r"(?<![0-9a-f])[0-9a-f]{7,40}(?![0-9a-f])")
NO_REPO = "no repo in the service map"


def named(text: str, commits: list[Commit]) -> Commit | None:
    """The commit a change-cause or image tag names by a hash prefix."""
    for word in _HEX.findall(text.lower()):
        found = next((c for c in commits if c.sha.lower().startswith(word)), None)
        if found is not None:
            return found
    return None


def recent_commits(reader, target: ServiceTarget, views: tuple[WorkloadView, ...],
                   now: datetime, opened_at: datetime | None) -> CommitsView:
    """`reader` is a CommitLog (console.ports) or None."""
    minutes = target.git_since_minutes
    base = CommitsView(repo=target.repo, path=target.repo_path, since_minutes=minutes,
                       opened_at=opened_at)
    if not target.repo:
        return replace(base, error=f"{NO_REPO} (set repo and path under "
                     f"[services.{target.service}])")
    if reader is None:
        return replace(base, error="git is not read by this console")
    try:
        commits = reader.log(target.repo, target.repo_path, now - timedelta(minutes=minutes))
    except SourceError as exc:
        return replace(base, error=str(exc))
    commits = sorted(commits, key=lambda c: c.committed_at, reverse=True)
    links: list[tuple[str, int, str]] = []
    by_commit: dict[str, list[str]] = {}
    for view in views:
        for rv in view.revisions:
            rev = rv.revision
            tags = [image.rsplit(":", 1)[-1] for image in rev.images if ":" in image]
            found = named(" ".join([rev.change_cause or "", *tags]), commits)
            if found is not None:
                links.append((view.name, rev.revision, found.short))
                by_commit.setdefault(found.sha, []).append(
                    f"deployment/{view.name} revision {rev.revision}")
    lines = tuple(CommitLine(c, tuple(by_commit.get(c.sha, ()))) for c in commits)
    return replace(base, commits=lines, links=tuple(links))

