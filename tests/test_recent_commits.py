"""Recent commits (runbook Diagnosis 3: `git log --oneline --since="1 hour
ago" -- services/payment-api/`): a real git repository built in tmp with
commits at chosen dates (GIT_AUTHOR_DATE / GIT_COMMITTER_DATE), read by the
real git as an argument list; newest first, dated against the breaker's
opening; an image tag or change-cause naming a commit links the two; a
missing repository or git says so."""

from __future__ import annotations

import os
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from console.config import load_config
from console.diagnosis.gather import gather
from console.model.fleet import BreakerState, InstanceStatus, ServiceStatus
from console.model.servicemap import ServiceEntry, ServiceMap
from console.sources.git import GitLog
from console.sources.kube import KubernetesCluster
from tests.fakes import T0
from tests.kubeserver import KubeServer
from tests.screen import open_row_pane

pytestmark = pytest.mark.integration

NS = "shop"
NOW = T0 + timedelta(minutes=5)  # tests.fakes.clock(); the breaker opened at T0
PATH = "services/payment-api"


def git(repo: Path, *args: str, at=None) -> str:
    env = {"PATH": os.environ["PATH"], "HOME": str(repo.parent), "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_AUTHOR_NAME": "Alice", "GIT_AUTHOR_EMAIL": "alice@example.com",
           "GIT_COMMITTER_NAME": "Alice", "GIT_COMMITTER_EMAIL": "alice@example.com"}
    if at is not None:
        stamp = at.strftime("%Y-%m-%dT%H:%M:%S+0000")
        env |= {"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}
    done = subprocess.run(["git", "-C", str(repo), *args], env=env, capture_output=True,
                          text=True, check=True)
    return done.stdout.strip()


def commit(repo: Path, path: str, subject: str, at) -> str:
    file = repo / path / "settings.txt"
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(file.read_text() + subject + "\n" if file.exists() else subject + "\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", subject, at=at)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path):
    """Three commits to payment-api (3 h, 40 min and 20 min before the opening),
    one to user-svc 10 min before it."""
    where = tmp_path / "shop"
    where.mkdir()
    git(where, "init", "-q", "-b", "main")
    shas = {
        "old": commit(where, PATH, "Retry budget for the card network", T0 - timedelta(hours=3)),
        "pool": commit(where, PATH, "Lower DB pool max size to 10", T0 - timedelta(minutes=40)),
        "timeout": commit(where, PATH, "Raise pool timeout to 30 s", T0 - timedelta(minutes=20)),
        "user": commit(where, "services/user-svc", "user-svc: cache TTL", T0 - timedelta(minutes=10)),
    }
    return where, shas


def target(repo: Path, **entry):
    return ServiceMap({"payment-api": ServiceEntry(repo=str(repo), path=PATH, **entry)},
                      namespace=NS).target("payment-api")


BREAKER = ServiceStatus(service="payment-api", instances=(InstanceStatus(
    instance="api-1", state=BreakerState.OPEN, since=T0),))


def read(t, reader=None, cluster=None):
    return gather(t, cluster=cluster, probe=None, flags=None, breaker=BREAKER, now=NOW,
                  commits=reader or GitLog()).commits


def test_the_last_hour_newest_first_dated_against_the_opening(repo):
    where, shas = repo
    view = read(target(where))
    assert view.error is None
    assert [c.commit.sha for c in view.commits] == [shas["timeout"], shas["pool"]]
    first = view.commits[0].commit
    assert (first.subject, first.author, first.committed_at) == (
        "Raise pool timeout to 30 s", "Alice", T0 - timedelta(minutes=20))
    assert view.opened_at == T0


def test_the_window_is_configurable_per_service_and_globally(repo, tmp_path):
    where, shas = repo
    view = read(target(where, git_since_minutes=30))
    assert [c.commit.sha for c in view.commits] == [shas["timeout"]]
    config = tmp_path / "config.toml"
    config.write_text(f'[diagnosis]\ngit_since_minutes = 240\n\n[services.payment-api]\n'
                      f'repo = "{where}"\npath = "{PATH}"\n')
    t = load_config(config, env={}).service_map(NS).target("payment-api")
    assert t.git_since_minutes == 240
    assert [c.commit.sha for c in read(t).commits] == [shas["timeout"], shas["pool"], shas["old"]]


def test_an_image_tag_or_change_cause_naming_a_commit_links_it_to_the_rollout(repo, tmp_path):
    where, shas = repo
    short = shas["pool"][:7]
    with KubeServer(auto_step=False) as kube:
        kube.add_deployment("payment-api", NS, replicas=1,
                            image=f"registry.example/payment-api:2.8.0-{short}")
        kube.add_deployment("api", NS, replicas=1,
                            change_cause=f"deploy api at {shas['timeout']}")
        cluster = KubernetesCluster(
            kubeconfig=str(kube.write_kubeconfig(tmp_path / "kc", namespace=NS)), timeout=5)
        try:
            view = read(target(where), cluster=cluster)
        finally:
            cluster.close()
    assert view.link("payment-api", 1) == git(where, "rev-parse", "--short", shas["pool"])
    assert view.link("api", 1) == git(where, "rev-parse", "--short", shas["timeout"])
    by_sha = {c.commit.sha: c.rollouts for c in view.commits}
    assert by_sha[shas["pool"]] == ("deployment/payment-api revision 1",)
    assert by_sha[shas["timeout"]] == ("deployment/api revision 1",)


def test_a_missing_repository_git_or_repo_entry_says_so(repo, tmp_path):
    where, _ = repo
    assert read(target(tmp_path / "nowhere")).error == \
        f"repository {tmp_path / 'nowhere'} not found on this host"
    plain = tmp_path / "not-a-repo"
    plain.mkdir()
    error = read(target(plain)).error
    assert error.startswith(f"git log in {plain} failed: fatal: not a git repository"), error
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    assert read(target(where), GitLog(search_path=str(empty))).error == \
        "git is not installed on this host (not in PATH)"
    none = ServiceMap(namespace=NS).target("payment-api")
    assert read(none).error == ("no repo in the service map (set repo and path under "
                                "[services.payment-api])")


def test_git_runs_as_an_argument_list_never_a_shell(repo, tmp_path):
    where, _ = repo
    marker = tmp_path / "pwned"
    view = read(target(where).model_copy(update={"repo_path": f"x; touch {marker}"}))
    assert view.error is None and view.commits == ()
    assert not marker.exists()


@pytest.mark.slow
async def test_the_pane_shows_the_commits_beside_the_rollouts(repo, tmp_path):
    where, shas = repo
    short = git(where, "rev-parse", "--short", shas["pool"])
    with KubeServer() as kube:
        kube.add_deployment("payment-api", NS, replicas=1,
                            image=f"registry.example/payment-api:2.8.0-{short}")
        kube.add_deployment("api", NS, replicas=1)
        cluster = KubernetesCluster(
            kubeconfig=str(kube.write_kubeconfig(tmp_path / "kc", namespace=NS)), timeout=5)
        service_map = ServiceMap({"payment-api": ServiceEntry(repo=str(where), path=PATH)},
                                 namespace=NS)
        pane = await open_row_pane(cluster, service_map)
    assert f"COMMITS {where} -- {PATH} last 60 min, git log on this host" in pane, pane
    timeout_short = git(where, "rev-parse", "--short", shas["timeout"])
    assert (f"{timeout_short} 20m00s before the opening Raise pool timeout to 30 s (Alice)"
            in pane), pane
    assert (f"{short} 40m00s before the opening Lower DB pool max size to 10 (Alice) = "
            "deployment/payment-api revision 1") in pane, pane
    assert f"commit {short} " in pane  # on the rollout's line
    assert pane.index("COMMITS") > pane.index("DOWNSTREAM")
    assert "Retry budget" not in pane and "user-svc: cache TTL" not in pane
    assert "3 recent changes: rollout history from the API server + git log on this host" in pane
