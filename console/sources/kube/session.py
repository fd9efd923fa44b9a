"""One context's API client: its credentials (an exec plugin's token, put in
before every request), the call (per-socket timeout, total deadline, one more
try after a 401 with a new token) and the words of every failure.

Responses are read as plain JSON (`_preload_content=False`); every call
carries `_request_timeout` (per socket operation) and runs under a total
deadline (a server trickling its answer cannot hold a read or a PATCH). Every
failure is a SourceError in plain words, with no token, key or header in it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any, Callable

from console import secrets as _secrets
from console.errors import TimedOut, Unauthorized, Unreachable
from console.sources.base import SourceError
from console.sources.deadline import Deadline, guard_pools
from console.sources.kube.errors import Resource, api_message, network_words
from console.sources.kube.kubeconfig import Loaded, static_source
from console.sources.kubecreds import CredentialState, ExecCredentials
from console.urls import without_userinfo

log = logging.getLogger(__name__)

# The resource of each call, as the API (and RBAC) names it.
DEPLOYMENTS: Resource = ("deployments", "apps")
REPLICASETS: Resource = ("replicasets", "apps")
PODS: Resource = ("pods", "")
POD_LOG: Resource = ("pods/log", "")
POD_EXEC: Resource = ("pods/exec", "")


class KubeApi:
    """The client of one loaded context (blocking; call from workers).
    `apps` and `core` are the client's AppsV1Api and CoreV1Api."""

    def __init__(self, loaded: Loaded, *, timeout: float, deadline: float,
                 clock: Callable[[], float] | None = None) -> None:
        import kubernetes.client as kclient  # already imported by kubeconfig.load
        from urllib3.util.retry import Retry

        cfg = loaded.cfg
        self.timeout = timeout
        self.deadline = deadline
        self.label = loaded.label
        self.server = without_userinfo(cfg.host or "")
        self._secrets: list[str] = []
        self._creds: ExecCredentials | None = None
        self._used = threading.local()  # the token this thread's request carried
        self._static_source = static_source(cfg, loaded.in_cluster)
        if loaded.exec_spec is not None:
            self._creds = ExecCredentials(self.label, loaded.exec_spec,
                                          base_dir=loaded.base_dir, server=cfg.host or "",
                                          clock=clock or time.time)
            # The client asks for the token only when this key exists.
            cfg.api_key["BearerToken"] = "Bearer not-fetched-yet"
            cfg.refresh_api_key_hook = self._fill_token
        self.verify_tls = bool(cfg.verify_ssl)  # as the kubeconfig says
        self._remember_secrets(cfg)

        # One quick retry for a refused connection; never for reads (the
        # timeout would multiply) nor on answers.
        cfg.retries = Retry(total=1, connect=1, read=0, redirect=0, status=0, other=0)
        self.client = kclient.ApiClient(cfg)
        guard_pools(self.client.rest_client.pool_manager)
        self.apps = kclient.AppsV1Api(self.client)
        self.core = kclient.CoreV1Api(self.client)
        # The exec stream swaps its ApiClient's call_api for a WebSocket one
        # while it connects: on the shared client, other threads' requests
        # would go over WebSocket meanwhile (for good behind a hung
        # handshake). Each exec gets a client of its own.
        self.exec_api = lambda: kclient.CoreV1Api(kclient.ApiClient(cfg))
        self.api_exception = kclient.ApiException

    def close(self) -> None:
        self.client.close()

    # --- credentials -----------------------------------------------------------------

    def _fill_token(self, cfg: Any) -> None:
        """The client's hook before every request (HTTP and the exec
        WebSocket alike): put the current token in."""
        assert self._creds is not None
        token = self._creds.token()
        self._used.token = token
        cfg.api_key["BearerToken"] = f"Bearer {token}"

    def credential_state(self) -> CredentialState:
        if self._creds is not None:
            return self._creds.state()
        return CredentialState(self.label, self._static_source)

    def login(self) -> None:
        if self._creds is not None:
            self._creds.login()

    @property
    def needs_login(self) -> bool:
        return self._creds is not None and self._creds.needs_login

    def credential_words(self) -> str:
        state = self.credential_state()
        return state.words(self._creds.now() if self._creds else time.time())

    def refused(self) -> bool:
        """A 401 came back: True when running the plugin again may cure it."""
        if self._creds is None:
            return False
        self._creds.rejected(getattr(self._used, "token", None))
        return True

    def unauthorized(self, retried: bool) -> str:
        if self._creds is not None and retried:
            self._creds.failed("the cluster refused a new token")
            return (f'unauthorized: the cluster rejected the credentials of context '
                    f'"{self.label}" even with a new token from {self._creds.source}')
        return f'unauthorized: the cluster rejected the credentials of context "{self.label}"'

    def _remember_secrets(self, cfg: Any) -> None:
        secrets = []
        for value in (getattr(cfg, "api_key", None) or {}).values():
            if value:
                secrets.append(str(value))
                secrets.append(str(value).split(" ", 1)[-1])  # "Bearer <token>"
        for attr in ("password", "username"):
            value = getattr(cfg, attr, None)
            if value and attr == "password":
                secrets.append(str(value))
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)
        for secret in self._secrets:
            _secrets.remember(secret)

    def scrub(self, message: str) -> str:
        # Its own secrets, and the tokens the plugin gave, refreshed ones too.
        return _secrets.redact(message, self._secrets)

    # --- calls and errors ------------------------------------------------------------

    def json(self, call: Callable[..., Any], **where: Any) -> dict:
        """`call`'s answer, read as JSON (see `call`)."""
        data = self.call(call, **where)
        try:
            return json.loads(data)
        except ValueError:
            raise SourceError(f"the API server at {self.server} answered something that is "
                              "not JSON") from None

    def call(self, call: Callable[..., Any], *, verb: str, resource: Resource,
             namespace: str, name: str | None = None) -> bytes:
        """Run one API call for its raw body; every failure becomes a SourceError.
        `call` takes the client's keyword arguments (`_preload_content`,
        `_request_timeout`); verb, resource, namespace and name word its failures."""
        import urllib3.exceptions as u3

        for retried in (False, True):
            deadline = Deadline(self.deadline)
            try:
                with deadline:
                    response = call(_preload_content=False, _request_timeout=self.timeout)
                    try:
                        data = response.data
                    finally:
                        response.release_conn()
                # Cut off mid-headers, an answer can look whole (no length
                # seen, read to the end): past the deadline none is used.
                if not deadline.expired:
                    return data
                message = ""  # raised as TimedOut below
            except self.api_exception as exc:
                # A 401 is answered before admission or storage: the API server
                # applied nothing, so sending the same request again once with
                # a new token is safe, for a PATCH too.
                if exc.status == 401 and not retried and self.refused():
                    continue
                message = (self.unauthorized(retried) if exc.status == 401 else
                           self.api_message(exc, verb, resource, namespace, name))
                kind = (Unauthorized if exc.status == 401 else
                        SourceError if exc.status else Unreachable)  # 0: the client's TLS error
            except (u3.HTTPError, OSError) as exc:
                log.warning("API server %s unreachable", self.server, exc_info=True)
                message = f"API server at {self.server} unreachable: {self.network_words(exc)}"
                kind = Unreachable
            if deadline.expired:
                # Cut off by the deadline, whatever broke: a PATCH may have
                # been acted on, and the caller reads back whether it landed.
                raise TimedOut(self.scrub(self.timed_out(self.deadline)), self.deadline)
            raise kind(self.scrub(message)) from None
        raise AssertionError("unreachable")

    def timed_out(self, seconds: float, what: str = "") -> str:
        return f"{what}API server at {self.server} timed out after {seconds:g} s"

    def api_message(self, exc: Any, verb: str, resource: Resource, namespace: str,
                    name: str | None) -> str:
        return api_message(exc, verb, resource, namespace, name,
                           server=self.server, label=self.label)

    def network_words(self, exc: BaseException) -> str:
        return network_words(exc, self.timeout)
