"""Credentials of one kube context, owned by cbconsole rather than the client.

The Python `kubernetes` client runs an exec plugin with the console's terminal
(stdin and `interactive: true` whenever stdout is a TTY), treats a token as
expired five minutes early (a 20 s token is fetched per request), and never
runs the plugin again on a 401. Here the plugin (client.authentication.k8s.io
ExecCredential) runs as an argument list, never through a shell, with no
stdin, its stderr captured and `spec.interactive: false`; its token is kept
until `expirationTimestamp` minus a few seconds, or until the server refuses
it. Every token obtained is handed to console.secrets at once.

The one exception is `login()`, the run on the terminal, as kubectl does it:
before the screen takes over (console.cli) and with the screen suspended (the
L key). There, as client-go decides it, the plugin gets `interactive: true`
and the terminal's stdin when stdin is a terminal and the kubeconfig's
interactiveMode is not Never; Always without a terminal is refused.

The rule for "needs a login": once cbconsole has had a terminal to log in on
(login() ran with stdin a TTY) and interactiveMode is not Never, a refresh
that fails while the screen is up (the plugin exits non-zero or gives no
token, or interactiveMode is Always) is taken as one that needs the terminal:
the header says "press L to log in", and the plugin is not run again
non-interactively until then (a plugin that needs a human would only fail
again, or send an MFA push per request). kubectl would have given such a run
the terminal anyway; L shows the plugin's own words when it was something else.

Blocking (runs a process): call from workers only; login() only where the
terminal is free (before App.run, or inside App.suspend()).
"""

from __future__ import annotations

import json
import os
import signal
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
# A human reads a device code or finds a phone on the terminal; Ctrl-C ends it sooner.
LOGIN_TIMEOUT_S = 900.0
LOGIN_HINT = "press L to log in"


@dataclass(frozen=True)
class CredentialState:
    """What the header says about a context's credentials."""

    context: str
    source: str  # 'exec plugin "aws"', "token", "client certificate", "none"
    expires_at: float | None = None  # Unix seconds, when the plugin said so
    refreshed_at: float | None = None  # last plugin run that gave a token
    error: str = ""  # the last failure, in plain words; "" when fine
    needs_login: bool = False  # the plugin needs the terminal: the L key

    def words(self, now: float) -> str:
        """One line for the header, e.g. 'exec plugin "aws", expires in 14 m'."""
        if self.needs_login:  # the plugin's own words are in the pane and at L
            return login_words(self.context, self.refreshed_at)
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


def login_words(context: str, refreshed_at: float | None) -> str:
    had = "expired" if refreshed_at is not None else "not obtained"
    return f'credentials for context "{context}" {had}: {LOGIN_HINT}'


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
        self._needs_login = False
        self.terminal = False  # a login() had a terminal: L can log in again
        self.runs = 0

    @property
    def source(self) -> str:
        return f'exec plugin "{self.name}"'

    @property
    def interactive_mode(self) -> str:
        # client-go's default for a stanza without one (v1beta1) is IfAvailable.
        return str(self.spec.get("interactiveMode") or "IfAvailable")

    @property
    def needs_login(self) -> bool:
        with self._lock:
            return self._needs_login

    def state(self) -> CredentialState:
        with self._lock:
            return CredentialState(self.context, self.source, self._expires, self._obtained,
                                   self._error, self._needs_login)

    def token(self) -> str:
        """A live token: the cached one, or a fresh one from the plugin."""
        with self._lock:
            if self._token is None or not self._fresh():
                if self._needs_login:
                    raise SourceError(f"{login_words(self.context, self._obtained)} "
                                      f"({self._error})")
                self._run()
            return self._token  # type: ignore[return-value]

    def login(self) -> None:
        """Run the plugin on the terminal, as kubectl would: interactive when
        stdin is a terminal and interactiveMode allows it, its stderr (its
        prompts) on the terminal either way. Raises SourceError in plain
        words, also for Ctrl-C. Only where nothing else draws on the terminal."""
        tty = _stdin_is_tty()
        mode = self.interactive_mode
        interactive = tty and mode != "Never"
        self.terminal = interactive
        if mode == "Always" and not tty:
            with self._lock:
                self._fail(f"{self.source} needs a terminal (interactiveMode: Always) "
                           "and standard input is not one")
        # Ctrl-C while the screen is suspended must end the login, not the
        # console (asyncio's handler would cancel the app): the plugin gets
        # the SIGINT too, and subprocess kills it when we are interrupted.
        previous = signal.getsignal(signal.SIGINT)
        swapped = _main_thread() and previous is not signal.default_int_handler
        if swapped:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            self.runs += 1
            done = self._spawn(interactive=interactive)
        except KeyboardInterrupt:
            with self._lock:
                self._needs_login = interactive
                self._fail(f"login with {self.source} cancelled (Ctrl-C)")
        except SourceError:
            with self._lock:
                self._needs_login = interactive
            raise
        finally:
            if swapped:
                signal.signal(signal.SIGINT, previous)
        with self._lock:
            self._needs_login = False
            try:
                self._take(done)
            except SourceError:
                self._needs_login = interactive
                raise

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

    def _env(self, interactive: bool = False) -> dict[str, str]:
        env = dict(os.environ)
        for item in self.spec.get("env") or []:
            if isinstance(item, dict) and item.get("name"):
                env[str(item["name"])] = str(item.get("value") or "")
        api_version = self.spec.get("apiVersion") or EXEC_API_VERSIONS[0]
        info: dict = {"apiVersion": api_version, "kind": "ExecCredential",
                      "spec": {"interactive": interactive}}
        if self.spec.get("provideClusterInfo"):
            info["spec"]["cluster"] = {"server": self._server}
        env["KUBERNETES_EXEC_INFO"] = json.dumps(info)
        return env

    def _fail(self, why: str) -> None:
        self._error = secrets.redact(why)
        raise SourceError(f'credentials of context "{self.context}": {self._error}')

    def _run(self) -> None:
        """The non-interactive run (the lock held): no stdin, stderr kept."""
        self._token = None
        if self.interactive_mode == "Always":
            self._needs_login = self.terminal
            self._fail(f"{self.source} needs a terminal (interactiveMode: Always); " + (
                LOGIN_HINT if self.terminal else "log in with kubectl on a terminal first"))
        self.runs += 1
        try:
            self._take(self._spawn(interactive=False))
        except SourceError:
            # A plugin that needs a human fails without one: offer L (see the top).
            self._needs_login = self.terminal and self.interactive_mode != "Never"
            if self._needs_login:
                raise SourceError(f"{login_words(self.context, self._obtained)} "
                                  f"({self._error})") from None
            raise

    def _spawn(self, *, interactive: bool) -> subprocess.CompletedProcess:
        argv = self._argv()
        if interactive:  # the terminal's stdin and stderr, as kubectl gives them
            io = {"stdin": None, "stdout": subprocess.PIPE, "stderr": None}
        else:
            io = {"stdin": subprocess.DEVNULL, "stdout": subprocess.PIPE,
                  "stderr": subprocess.PIPE}
        timeout = LOGIN_TIMEOUT_S if interactive else PLUGIN_TIMEOUT_S
        try:
            return subprocess.run(argv, env=self._env(interactive), timeout=timeout,
                                  check=False, **io)
        except FileNotFoundError:
            hint = first_line(str(self.spec.get("installHint") or ""))
            self._fail(f"{self.source} not found ({argv[0]})" + (f": {hint}" if hint else ""))
        except subprocess.TimeoutExpired:
            self._fail(f"{self.source} gave no answer within {timeout:g} s")
        except OSError as exc:
            self._fail(f"{self.source} could not be run: {exc.strerror or type(exc).__name__}")
        raise AssertionError("unreachable")

    def _take(self, done: subprocess.CompletedProcess) -> None:
        """Read the plugin's ExecCredential (the lock held)."""
        if done.returncode != 0:
            said = first_line((done.stderr or b"").decode("utf-8", "replace"))
            if done.stderr is None:  # it spoke on the terminal
                said = said or "see its message above"
            self._fail(f"{self.source} failed (exit {done.returncode}): "
                       f"{shorten(said or 'no message', 200)}")
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


def _stdin_is_tty() -> bool:
    try:
        return os.isatty(0)
    except OSError:
        return False


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


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
