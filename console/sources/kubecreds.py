"""Credentials of one kube context, owned by cbconsole rather than the client.

The Python `kubernetes` client runs an exec plugin with the console's terminal
(stdin and `interactive: true` whenever stdout is a TTY), treats a token as
expired five minutes early (a 20 s token is fetched per request), and never
runs the plugin again on a 401. Here the plugin (client.authentication.k8s.io
ExecCredential) runs as an argument list, never through a shell, with no
stdin, its stderr captured and `spec.interactive: false`; its token is kept
until `expirationTimestamp` minus a few seconds, or until the server refuses
it. Every token obtained is handed to console.secrets at once.

Blocking (runs a process): call from workers only.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from console import secrets
from console.errors import first_line
from console.sources.base import SourceError
from console.text import shorten

EXEC_API_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")
MARGIN_S = 10.0  # refresh this long before the stated expiry
PLUGIN_TIMEOUT_S = 60.0  # aws eks get-token takes about a second; a hung plugin must not hang us


@dataclass(frozen=True)
class CredentialState:
    """What the header says about a context's credentials."""

    context: str
    source: str  # 'exec plugin "aws"', "token", "client certificate", "none"
    expires_at: float | None = None  # Unix seconds, when the plugin said so
    refreshed_at: float | None = None  # last plugin run that gave a token
    error: str = ""  # the last failure, in plain words; "" when fine

    def words(self, now: float) -> str:
        """One line for the header, e.g. 'exec plugin "aws", expires in 14 m'."""
        if self.error:
            return self.error if self.source in self.error else f"{self.source}: {self.error}"
        parts = [self.source]
        if self.expires_at is not None:
            left = self.expires_at - now
            parts.append(f"expires in {_span(left)}" if left > 0 else "expired")
        elif self.refreshed_at is not None:
            parts.append(f"refreshed {_span(now - self.refreshed_at)} ago")
        elif self.source.startswith("exec"):
            parts.append("not fetched yet")
        return ", ".join(parts)


def _span(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} m"
    return f"{seconds // 3600} h"


def plugin_name(spec: dict) -> str:
    return Path(str(spec.get("command") or "?")).name


class ExecCredentials:
    """Bearer tokens from one context's exec plugin, cached until they expire."""

    def __init__(self, context: str, spec: dict, *, base_dir: str | None = None,
                 server: str = "", clock: Callable[[], float] = time.time) -> None:
        self.context = context
        self.spec = dict(spec)
        self.name = plugin_name(spec)
        self._base_dir = base_dir
        self._server = server
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires: float | None = None
        self._obtained: float | None = None
        self._error = ""
        self.runs = 0

    @property
    def source(self) -> str:
        return f'exec plugin "{self.name}"'

    def state(self) -> CredentialState:
        with self._lock:
            return CredentialState(self.context, self.source, self._expires, self._obtained,
                                   self._error)

    def token(self) -> str:
        """A live token: the cached one, or a fresh one from the plugin."""
        with self._lock:
            if self._token is None or not self._fresh():
                self._run()
            return self._token  # type: ignore[return-value]

    def now(self) -> float:
        return self._clock()

    def failed(self, why: str) -> None:
        """Note a failure seen outside the plugin (the header says it)."""
        with self._lock:
            self._error = secrets.redact(why)

    def rejected(self, token: str | None) -> None:
        """The server answered 401 to `token`: forget it (unless another
        thread has already replaced it), so the next call runs the plugin."""
        with self._lock:
            if token is None or token == self._token:
                self._token = None

    def _fresh(self) -> bool:
        if self._expires is None:
            return True  # no expiry given: kept until the server refuses it
        lifetime = self._expires - (self._obtained or self._expires)
        margin = min(MARGIN_S, max(lifetime, 0) / 4)
        return self._clock() < self._expires - margin

    def _argv(self) -> list[str]:
        command = str(self.spec.get("command") or "")
        # As client-go: a relative path with a slash is relative to the kubeconfig.
        if "/" in command and not os.path.isabs(command) and self._base_dir:
            command = os.path.join(self._base_dir, command)
        return [command, *[str(a) for a in self.spec.get("args") or []]]

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        for item in self.spec.get("env") or []:
            if isinstance(item, dict) and item.get("name"):
                env[str(item["name"])] = str(item.get("value") or "")
        api_version = self.spec.get("apiVersion") or EXEC_API_VERSIONS[0]
        info: dict = {"apiVersion": api_version, "kind": "ExecCredential",
                      "spec": {"interactive": False}}
        if self.spec.get("provideClusterInfo"):
            info["spec"]["cluster"] = {"server": self._server}
        env["KUBERNETES_EXEC_INFO"] = json.dumps(info)
        return env

    def _fail(self, why: str) -> None:
        self._error = secrets.redact(why)
        raise SourceError(f'credentials of context "{self.context}": {self._error}')

    def _run(self) -> None:
        self._token = None
        if self.spec.get("interactiveMode") == "Always":
            self._fail(f"{self.source} needs a terminal (interactiveMode: Always); "
                       "log in with kubectl on a terminal first")
        self.runs += 1
        argv = self._argv()
        try:
            done = subprocess.run(argv, env=self._env(), stdin=subprocess.DEVNULL,
                                  capture_output=True, timeout=PLUGIN_TIMEOUT_S, check=False)
        except FileNotFoundError:
            hint = first_line(str(self.spec.get("installHint") or ""))
            self._fail(f"{self.source} not found ({argv[0]})" + (f": {hint}" if hint else ""))
        except subprocess.TimeoutExpired:
            self._fail(f"{self.source} gave no answer within {PLUGIN_TIMEOUT_S:g} s")
        except OSError as exc:
            self._fail(f"{self.source} could not be run: {exc.strerror or type(exc).__name__}")
        if done.returncode != 0:
            said = first_line(done.stderr.decode("utf-8", "replace")) or "no message"
            self._fail(f"{self.source} failed (exit {done.returncode}): {shorten(said, 200)}")
        try:
            out = json.loads(done.stdout)
        except ValueError:
            self._fail(f"{self.source} printed something that is not an ExecCredential")
        status = out.get("status") if isinstance(out, dict) else None
        if not isinstance(status, dict):
            self._fail(f"{self.source} printed an ExecCredential without a status")
        token = status.get("token")
        if not token:
            why = ("a client certificate, which cbconsole cannot use from a plugin yet"
                   if status.get("clientCertificateData") else "no token")
            self._fail(f"{self.source} gave {why}")
        secrets.remember(str(token))  # masked before anything can print it
        self._token = str(token)
        self._obtained = self._clock()
        self._expires = _rfc3339(status.get("expirationTimestamp"))
        self._error = ""


def _rfc3339(text: object) -> float | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.timestamp()
