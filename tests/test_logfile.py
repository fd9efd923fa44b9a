"""The console's log file: cbconsole.log in the state directory, with the
traceback of every exception the console catches, nothing secret in it, and a
console that keeps running (and says so once) when the log cannot be written."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest

from console import cli, logfile, secrets
from console.incident import export
from console.ui.app import CBConsoleApp
from console.sources.prometheus.source import PrometheusSource
from tests.promserver import StubPrometheus, fleet_handler
from tests.screen import keep_notifications, screen_text, wait_until

pytestmark = [pytest.mark.ui, pytest.mark.integration]

INTERVAL = 0.3


def log_text(directory) -> str:
    logfile.flush()
    path = directory / logfile.LOG_NAME
    return path.read_text() if path.exists() else ""


def broken_prometheus(bad: dict):
    good = fleet_handler(2)

    def handler(path, params, headers):
        if bad.get("answer") is not None and path == "/api/v1/query":
            return bad["answer"]
        return good(path, params, headers)

    return StubPrometheus(handler)


async def test_a_poll_failure_leaves_its_traceback_in_the_log(tmp_path):
    bad = {"answer": (200, '{"status": "success", "data": {"result": [')}
    stub = broken_prometheus(bad)
    logfile.setup(tmp_path, "INFO")
    try:
        app = CBConsoleApp(PrometheusSource(stub.url, timeout=1.0), poll_interval=INTERVAL)
        async with app.run_test(size=(140, 40)) as pilot:
            await wait_until(pilot, lambda: "malformed JSON" in log_text(tmp_path),
                             "the poll failure in cbconsole.log")
            await wait_until(pilot, lambda: "malformed JSON" in " ".join(screen_text(app).split()),
                             "the failure said on screen too")
    finally:
        stub.stop()
    text = log_text(tmp_path)
    assert "Traceback (most recent call last)" in text
    assert "SourceError" in text and "poll failed" in text


async def test_tokens_in_an_exception_are_scrubbed_in_the_log(tmp_path, monkeypatch):
    prom_token = "prom-bearer-7f3a9c1d2e"
    kube_token = "kube-exec-token-5b8e0a4f"  # a token the exec plugin gives mid-session
    monkeypatch.setenv("CBCONSOLE_PROMETHEUS_TOKEN", prom_token)
    stub = broken_prometheus({})
    logfile.setup(tmp_path, "INFO")
    try:
        from console.sources.prometheus.auth import PrometheusAuth

        source = PrometheusSource(stub.url, timeout=1.0,
                                  auth=PrometheusAuth(bearer_token_env="CBCONSOLE_PROMETHEUS_TOKEN"))
        real_poll, failing = source.poll, {"on": False}

        def poll():
            if failing["on"]:  # a bug in a source quoting what it was given
                raise RuntimeError(f"unexpected answer for {prom_token} / {kube_token}")
            return real_poll()

        source.poll = poll
        app = CBConsoleApp(source, poll_interval=INTERVAL)
        async with app.run_test(size=(140, 40)) as pilot:
            await wait_until(pilot, lambda: app.poller.snapshot is not None, "a first good poll")
            secrets.remember(kube_token)  # as console.sources.kubecreds does on a refresh
            failing["on"] = True
            await wait_until(pilot, lambda: "unexpected answer" in log_text(tmp_path),
                             "the failure in the log")
    finally:
        stub.stop()
    text = log_text(tmp_path)
    assert "Traceback" in text and "RuntimeError" in text
    assert prom_token not in text and kube_token not in text
    assert "***" in text  # secrets.MASK


async def test_an_unwritable_state_dir_still_runs_and_says_the_log_is_unavailable(
        tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the state directory should be\n")
    built = []
    monkeypatch.setattr(CBConsoleApp, "run", lambda self, *a, **k: built.append(self))
    assert cli.main(["--demo", "--no-config", "--poll", "0.3",
                     "--state-dir", str(blocker / "state")]) == 0
    (app,) = built
    shown = keep_notifications(app)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_until(pilot, lambda: app.poller.snapshot is not None, "the demo's first poll")
        logging.getLogger("console.test").error("more to log while the log is unavailable")
        polls = set()
        # Several polls, so several ticks: the notice is said once, not each second.
        await wait_until(pilot, lambda: polls.add(id(app.poller.snapshot)) or len(polls) > 4,
                         "five polls")
        assert app.is_running
    said = [m for m in shown if "Log file unavailable" in m]
    assert len(said) == 1, shown
    assert "errors are not logged" in said[0]
    assert "Logging error" not in capsys.readouterr().err  # nothing drawn over the screen


def test_a_full_disk_is_swallowed_and_said(tmp_path, capsys):
    os.symlink("/dev/full", tmp_path / logfile.LOG_NAME)  # every write: ENOSPC
    logfile.setup(tmp_path, "INFO")
    assert logfile.problem() is None  # the file opens: the disk is full only on writing
    logging.getLogger("console.test").error("lost")
    logfile.flush()
    assert "No space left on device" in (logfile.problem() or "")
    assert "Logging error" not in capsys.readouterr().err


def test_log_level_debug_writes_debug_lines(tmp_path, monkeypatch):
    monkeypatch.setattr(CBConsoleApp, "run", lambda self, *a, **k: None)
    assert cli.main(["--demo", "--no-config", "--state-dir", str(tmp_path),
                     "--log-level", "debug"]) == 0
    text = log_text(tmp_path / "demo")
    assert " DEBUG " in text and " INFO " in text and "started on demo" in text


def test_the_default_log_level_is_info(tmp_path, monkeypatch):
    monkeypatch.setattr(CBConsoleApp, "run", lambda self, *a, **k: None)
    assert cli.main(["--demo", "--no-config", "--state-dir", str(tmp_path)]) == 0
    text = log_text(tmp_path / "demo")
    assert "started on demo" in text and " DEBUG " not in text


def test_a_bad_log_level_is_a_clear_cli_message():
    result = subprocess.run([sys.executable, "-m", "console", "--demo", "--log-level", "LOUD"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "--log-level" in result.stderr and "unknown log level 'LOUD'" in result.stderr
    assert "DEBUG, INFO, WARNING, ERROR" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_log_level_in_the_config_names_the_file_and_line(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('poll_interval_s = 2\nlog_level = "chatty"\n')
    result = subprocess.run([sys.executable, "-m", "console", "--demo", "--config", str(config)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert f"{config}, line 2" in result.stderr and "unknown log level 'chatty'" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_config_log_level_is_used(tmp_path, monkeypatch):
    config = tmp_path / "config.toml"
    config.write_text('log_level = "DEBUG"\n')
    monkeypatch.setattr(CBConsoleApp, "run", lambda self, *a, **k: None)
    assert cli.main(["--demo", "--config", str(config), "--state-dir", str(tmp_path)]) == 0
    assert " DEBUG " in log_text(tmp_path / "demo")


def test_export_logs_too(tmp_path, capsys):
    assert export.main(["--state-dir", str(tmp_path), "--latest"]) == 1
    assert "no incident" in log_text(tmp_path)
