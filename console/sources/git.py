"""`git log` on the console's host (runbook Diagnosis 3: `git log --oneline
--since="1 hour ago" -- services/payment-api/`), run as an argument list,
never through a shell; blocking (the diagnosis runs it in a thread worker).
A missing repository or a missing git is a SourceError that says so."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from console.errors import SourceError
from console.model.commits import Commit

log = logging.getLogger(__name__)

FIELD, RECORD = "\x1f", "\x1e"
FORMAT = f"%H{FIELD}%h{FIELD}%ct{FIELD}%an{FIELD}%s{RECORD}"
TIMEOUT_S = 10.0
MAX_COMMITS = 50


class GitLog:
    """The CommitLog port (console.ports) over the host's git. `search_path`
    is where git is looked up (PATH by default)."""

    def __init__(self, binary: str = "git", search_path: str | None = None) -> None:
        self.binary = binary
        self.search_path = search_path

    def log(self, repo: str, path: str | None, since: datetime) -> list[Commit]:
        """The commits under `path` committed since `since`, newest first."""
        where = Path(repo).expanduser()
        if not where.is_dir():
            raise SourceError(f"repository {repo} not found on this host")
        git = shutil.which(self.binary, path=self.search_path)
        if git is None:
            raise SourceError(f"{self.binary} is not installed on this host (not in PATH)")
        stamp = since.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        argv = [git, "-C", str(where), "--no-pager", "log", "--no-color",
                f"--max-count={MAX_COMMITS}", f"--since={stamp}", f"--format={FORMAT}",
                "--", path or "."]
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
        try:
            done = subprocess.run(argv, capture_output=True, timeout=TIMEOUT_S, env=env,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise SourceError(f"git log in {repo} gave no answer within {TIMEOUT_S:g} s") from None
        except OSError as exc:
            log.warning("git log in %s failed to start", repo, exc_info=True)
            raise SourceError(f"git could not be run: {exc.strerror or exc}") from None
        if done.returncode != 0:
            said = done.stderr.decode("utf-8", "replace").strip().splitlines()
            raise SourceError(f"git log in {repo} failed: {said[0] if said else done.returncode}")
        return parse(done.stdout.decode("utf-8", "replace"))


def parse(out: str) -> list[Commit]:
    commits = []
    for record in out.split(RECORD):
        parts = record.strip("\n").split(FIELD)
        if len(parts) != 5 or not parts[2].isdigit():
            continue
        sha, short, stamp, author, subject = parts
        commits.append(Commit(sha=sha, short=short, author=author, subject=subject,
                              committed_at=datetime.fromtimestamp(int(stamp), timezone.utc)))
    return commits
