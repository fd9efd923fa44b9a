"""The installed console ([prometheus] poll_process = true) killed with -9
leaves no poll process behind, whether the poll process was idle or in the
middle of a poll (held by the fault proxy): it is looked for in /proc, as an
operator would with ps."""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.faultproxy import FaultProxy
from tests.screen import wait_until_sync

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CBCONSOLE = Path(sys.executable).with_name("cbconsole")


def running_children(parent: int) -> list[int]:
    """Live processes whose parent is `parent` and that run the poll process."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines()
                          if ":\t" in line)
            cmdline = (status.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if (fields.get("PPid", "").strip() == str(parent)
                and b"console.sources.pollproc" in cmdline):
            found.append(int(status.parent.name))
    return found


def alive(pid: int) -> bool:
    """Running (a zombie is not: it has exited and waits to be reaped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def start_console(url: str, tmp_path: Path, poll_process: bool = True) -> subprocess.Popen:
    """cbconsole on a pty (Textual wants a terminal); its output drained."""
    # A poll held mid-flight would end by itself only after 2 minutes: the
    # poll process must see its console gone, not wait for its timeout.
    config = tmp_path / "config.toml"
    config.write_text(f"[prometheus]\ntimeout_s = 120\npoll_process = {str(poll_process).lower()}\n")
    master, slave = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "140", "LINES": "40"}
    proc = subprocess.Popen(
        [str(CBCONSOLE), "--prometheus", url, "--config", str(config), "--state-dir", str(tmp_path / "s"),
         "--poll", "0.5"],
        stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
    os.close(slave)

    def drain():
        try:
            while os.read(master, 65536):
                pass
        except OSError:
            pass
        finally:
            os.close(master)

    threading.Thread(target=drain, daemon=True).start()
    return proc


@pytest.mark.parametrize("while_polling", [False, True], ids=["idle", "mid-poll"])
def test_the_console_killed_with_9_leaves_no_poll_process(fx_prometheus, tmp_path,
                                                          while_polling):
    port = int(fx_prometheus.url.rsplit(":", 1)[1])
    with FaultProxy("127.0.0.1", port) as proxy:
        console = start_console(proxy.url, tmp_path)
        try:
            wait_until_sync(lambda: running_children(console.pid),
                            "the poll process started", deadline_s=60)
            children = running_children(console.pid)
            wait_until_sync(lambda: len(proxy.requests("pass")) > 3, "polls answered",
                            deadline_s=60)
            if while_polling:
                proxy.set("stall")
                wait_until_sync(lambda: proxy.requests("stall"), "a poll held mid-flight",
                                deadline_s=60)
            (child,) = children
            assert alive(child)
            console.send_signal(signal.SIGKILL)
            console.wait()
            wait_until_sync(lambda: not alive(child), "the poll process gone", deadline_s=60)
        finally:
            if console.poll() is None:
                console.kill()
                console.wait()


def test_without_poll_process_the_console_polls_in_its_own_process(fx_prometheus, tmp_path):
    """The default ([prometheus] poll_process = false): polls answered, no child."""
    port = int(fx_prometheus.url.rsplit(":", 1)[1])
    with FaultProxy("127.0.0.1", port) as proxy:
        console = start_console(proxy.url, tmp_path, poll_process=False)
        try:
            wait_until_sync(lambda: len(proxy.requests("pass")) > 3, "polls answered",
                            deadline_s=60)
            assert running_children(console.pid) == []
        finally:
            console.kill()
            console.wait()
