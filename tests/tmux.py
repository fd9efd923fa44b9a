"""cbconsole on a real terminal for the tests: a detached tmux pane, a tmux
server of its own; the screen read as the operator sees it, keys typed."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

CBCONSOLE = Path(sys.executable).with_name("cbconsole")


class Terminal:
    """A command in a detached tmux pane, a tmux server of its own: the
    screen as the operator sees it (capture-pane), keys typed (send-keys)."""

    def __init__(self, script: Path, size: tuple[int, int] = (140, 40)) -> None:
        if shutil.which("tmux") is None or not CBCONSOLE.exists():
            pytest.fail("tmux or the installed cbconsole missing: run make test "
                        "(it installs tmux and cbconsole)", pytrace=False)
        self.name = f"cbc-tmux-{os.getpid()}-{time.monotonic_ns() % 10**8}"
        # No client is attached: the window takes the default size.
        self.conf = script.with_name("tmux.conf")
        self.conf.write_text(f"set -g default-size {size[0]}x{size[1]}\n")
        subprocess.run(self._tmux("new-session", "-d", "-s", self.name, "-x", str(size[0]),
                                  "-y", str(size[1]), f"sh {shlex.quote(str(script))}"),
                       check=True)

    def _tmux(self, *args: str) -> list[str]:
        return ["tmux", "-L", self.name, "-f", str(self.conf), *args]

    def screen(self) -> str:
        return subprocess.run(self._tmux("capture-pane", "-p", "-J", "-t", self.name),
                              capture_output=True, text=True, check=False).stdout

    def words(self) -> str:
        """The screen's words in one line: the header wraps where it must."""
        return " ".join(self.screen().split())

    def keys(self, *keys: str) -> None:
        subprocess.run(self._tmux("send-keys", "-t", self.name, *keys), check=True)

    def type(self, text: str) -> None:
        subprocess.run(self._tmux("send-keys", "-t", self.name, "-l", text), check=True)

    def wait_for(self, check, what: str, timeout: float = 120.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = self.words()
            if check(text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"not on the terminal within {timeout:g} s: {what}\n"
                                     f"{self.screen()}")
            time.sleep(0.1)

    def close(self) -> None:
        subprocess.run(self._tmux("kill-server"), check=False, capture_output=True)
