"""The cluster, through the Python `kubernetes` client.

`KubernetesCluster` loads the user's kubeconfig as kubectl does (KUBECONFIG,
else ~/.kube/config; `context` picks a context) or, inside a pod, the
in-cluster service account. The `kubernetes` package is imported in the
constructor only: it costs about 0.25 s, which the demo must not pay.

Responses are read as plain JSON (`_preload_content=False`) and mapped to the
model here; every call carries `_request_timeout` (per socket operation) and
runs under a total deadline (a server trickling its answer cannot hold a
read or a PATCH). Every failure is a
SourceError in plain words, with no token, key or header in it.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from console import secrets as _secrets
from console.errors import TimedOut, Unauthorized, Unreachable, first_line
from console.model.fleet import (
    EXIT_NOT_FOUND,
    Condition,
    Container,
    Deployment,
    ExecResult,
    Pod,
    Revision,
)
from console.sources import kuberollback
from console.sources.base import SourceError, Unavailable
from console.sources.deadline import Deadline, guard_pools, watch
from console.sources.kubecreds import CredentialState, ExecCredentials
from console.text import shorten
from console.urls import without_userinfo

log = logging.getLogger(__name__)

REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
CHANGE_CAUSE_ANNOTATION = "kubernetes.io/change-cause"
_SA_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")

# The resource of each call, as the API (and RBAC) names it.
_DEPLOYMENTS = ("deployments", "apps")
_PODS = ("pods", "")
_POD_LOG = ("pods/log", "")
_POD_EXEC = ("pods/exec", "")
# The kubelet's words (runc, crun, docker) for an executable not in the image.
_NOT_FOUND_WORDS = ("executable file not found", "no such file or directory")


def _kubeconfig_paths(explicit: str | None) -> tuple[list[str], str]:
    """The kubeconfig files kubectl would read (existing ones) and how they were named."""
    if explicit:
        names = [p for p in explicit.split(os.pathsep) if p]
        where = explicit
    elif os.environ.get("KUBECONFIG"):
        names = [p for p in os.environ["KUBECONFIG"].split(os.pathsep) if p]
        where = f"KUBECONFIG={os.environ['KUBECONFIG']}"
    else:
        names = ["~/.kube/config"]
        where = "~/.kube/config"
    found = [str(Path(p).expanduser()) for p in names if Path(p).expanduser().is_file()]
    return found, where


def _public_url(url: str) -> str:
    """The server URL without any user:password part."""
    return without_userinfo(url)


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _label_selector(selector: dict | None) -> str:
    """metav1.LabelSelectorAsSelector(...).String(), for matchLabels and matchExpressions."""
    selector = selector or {}
    terms = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        key, op = expr.get("key", ""), expr.get("operator", "")
        values = ",".join(sorted(expr.get("values") or []))
        if op == "In":
            terms.append(f"{key} in ({values})")
        elif op == "NotIn":
            terms.append(f"{key} notin ({values})")
        elif op == "Exists":
            terms.append(key)
        elif op == "DoesNotExist":
            terms.append(f"!{key}")
    return ",".join(terms)


def _env_value(env: dict) -> str:
    if "value" in env and env["value"] is not None:
        return str(env["value"])
    source = env.get("valueFrom") or {}
    if not source:
        return ""
    if ref := source.get("secretKeyRef"):
        return f"<from secret {ref.get('name', '?')}, key {ref.get('key', '?')}>"
    if ref := source.get("configMapKeyRef"):
        return f"<from configmap {ref.get('name', '?')}, key {ref.get('key', '?')}>"
    if ref := source.get("fieldRef"):
        return f"<from field path {ref.get('fieldPath', '?')}>"
    if ref := source.get("resourceFieldRef"):
        return f"<from resource {ref.get('resource', '?')}>"
    return f"<from {', '.join(sorted(source))}>"


def deployment_from(obj: dict) -> Deployment:
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    template = spec.get("template") or {}
    containers = tuple(
        Container(name=c.get("name", ""), image=c.get("image") or "",
                  env={e.get("name", ""): _env_value(e) for e in c.get("env") or []})
        for c in (template.get("spec") or {}).get("containers") or []
    )
    conditions = tuple(
        Condition(type=c.get("type", ""), status=c.get("status", ""),
                  reason=c.get("reason") or "", message=c.get("message") or "")
        for c in status.get("conditions") or []
    )
    return Deployment(
        namespace=meta.get("namespace", ""),
        name=meta.get("name", ""),
        replicas=spec.get("replicas", 1) if spec.get("replicas") is not None else 1,
        updated_replicas=status.get("updatedReplicas") or 0,
        ready_replicas=status.get("readyReplicas") or 0,
        available_replicas=status.get("availableReplicas") or 0,
        status_replicas=status.get("replicas") or 0,
        generation=meta.get("generation") or 0,
        # Absent: the controller has not looked at this deployment yet.
        observed_generation=status.get("observedGeneration") or 0,
        paused=bool(spec.get("paused")),
        selector=dict((spec.get("selector") or {}).get("matchLabels") or {}),
        template_annotations=dict((template.get("metadata") or {}).get("annotations") or {}),
        containers=containers,
        conditions=conditions,
    )


def history_from(deployment: dict, replicasets: list[dict]) -> list[Revision]:
    """`kubectl rollout history` (polymorphichelpers/history.go): the ReplicaSets
    controlled by the deployment, keyed by revision (a missing annotation is 0,
    an unparsable one is skipped, a later duplicate wins), oldest first."""
    uid = (deployment.get("metadata") or {}).get("uid")
    by_revision: dict[int, dict] = {}
    for rs in replicasets:
        meta = rs.get("metadata") or {}
        controller = next((o for o in meta.get("ownerReferences") or [] if o.get("controller")),
                          None)
        if not controller or not uid or controller.get("uid") != uid:
            continue
        raw = (meta.get("annotations") or {}).get(REVISION_ANNOTATION)
        if raw is None:
            revision = 0
        else:
            try:
                revision = int(raw)
            except ValueError:
                continue
        by_revision[revision] = rs
    out = []
    for revision in sorted(by_revision):
        meta = by_revision[revision].get("metadata") or {}
        cause = (meta.get("annotations") or {}).get(CHANGE_CAUSE_ANNOTATION) or None
        created = _time(meta.get("creationTimestamp")) or datetime.fromtimestamp(0, timezone.utc)
        out.append(Revision(revision=revision, replicaset=meta.get("name", ""),
                            change_cause=cause, created_at=created))
    return out


def pod_from(obj: dict) -> Pod:
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    statuses = status.get("containerStatuses") or []
    ready_cond = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"),
                      None)
    if ready_cond is not None:
        ready = ready_cond.get("status") == "True"
    else:
        ready = bool(statuses) and all(cs.get("ready") for cs in statuses)
    created = _time(meta.get("creationTimestamp")) or datetime.fromtimestamp(0, timezone.utc)
    return Pod(
        namespace=meta.get("namespace", ""),
        name=meta.get("name", ""),
        ready=ready,
        restarts=sum(int(cs.get("restartCount") or 0) for cs in statuses),
        phase=status.get("phase") or "Unknown",
        created_at=created,
        node=spec.get("nodeName") or "",
    )


class ContextNotFound(Unavailable):
    """--context names no context of the kubeconfig; says which exist."""

    def __init__(self, context: str, names: list[str], where: str) -> None:
        self.names = names
        known = ", ".join(names) if names else "none"
        super().__init__(f'context "{context}" not found in kubeconfig {where}; '
                         f"its contexts: {known}")


class KubernetesCluster:
    """A ClusterSource over the Kubernetes API (blocking; call from workers)."""

    def __init__(self, *, kubeconfig: str | None = None, context: str | None = None,
                 namespace: str | None = None, timeout: float = 5.0,
                 deadline: float | None = None,
                 clock: Callable[[], float] | None = None) -> None:
        self.timeout = timeout
        #: A request's total time (twice the timeout: a stall still says "no answer within").
        self.deadline = deadline or 2 * timeout
        self._secrets: list[str] = []
        paths, where = _kubeconfig_paths(kubeconfig)
        in_cluster = (not paths and not kubeconfig
                      and not os.environ.get("KUBECONFIG")
                      and bool(os.environ.get("KUBERNETES_SERVICE_HOST")))
        if not paths and not in_cluster:
            raise Unavailable(f"no kubeconfig found ({where}): cluster features unavailable")

        import kubernetes.client as kclient  # lazily: ~0.25 s
        import kubernetes.config as kconfig
        from kubernetes.config.config_exception import ConfigException

        cfg = kclient.Configuration()
        exec_spec, base_dir = None, ""
        if in_cluster:
            try:
                kconfig.load_incluster_config(client_configuration=cfg)
            except ConfigException as exc:
                raise Unavailable(f"in-cluster config unusable: {first_line(exc)}: "
                                  "cluster features unavailable") from None
            self.label = "in-cluster"
            default_ns = _read_text(_SA_NAMESPACE) or "default"
        else:
            config_file = os.pathsep.join(paths)
            try:
                contexts, current = kconfig.list_kube_config_contexts(config_file)
            except ConfigException as exc:
                log.warning("kubeconfig %s unusable", where, exc_info=True)
                raise Unavailable(f"kubeconfig {where} unusable: {first_line(exc)}") from None
            except Exception as exc:  # unreadable or not YAML
                log.warning("kubeconfig %s unreadable", where, exc_info=True)
                raise Unavailable(f"kubeconfig {where} unreadable: {type(exc).__name__}") \
                    from None
            chosen = None
            if context:
                chosen = next((c for c in contexts or [] if c.get("name") == context), None)
                if chosen is None:
                    raise ContextNotFound(context, [c.get("name") for c in contexts or []],
                                          where)
            else:
                chosen = current
                if not chosen:
                    raise Unavailable(f"kubeconfig {where} has no current context; "
                                      "pick one with --context")
            try:
                exec_spec, base_dir = self._load(kconfig, config_file, chosen["name"], cfg)
            except ConfigException as exc:
                log.warning("kube context unusable", exc_info=True)
                raise SourceError(f'cannot use context "{chosen["name"]}" of kubeconfig '
                                  f"{where}: {first_line(exc)}") from None
            except Exception as exc:  # e.g. an exec credential plugin failing
                log.warning("kube context unusable", exc_info=True)
                raise SourceError(f'cannot use context "{chosen["name"]}" of kubeconfig '
                                  f"{where}: {type(exc).__name__}") from None
            self.label = chosen["name"]
            default_ns = (chosen.get("context") or {}).get("namespace") or "default"
        self.namespace = namespace or default_ns
        self.server = _public_url(cfg.host or "")
        self._creds: ExecCredentials | None = None
        self._used = threading.local()  # the token this thread's request carried
        self._static_source = _static_source(cfg, in_cluster)
        if exec_spec is not None:
            self._creds = ExecCredentials(self.label, exec_spec, base_dir=base_dir,
                                          server=cfg.host or "", clock=clock or time.time)
            # The client asks for the token only when this key exists.
            cfg.api_key["BearerToken"] = "Bearer not-fetched-yet"
            cfg.refresh_api_key_hook = self._fill_token
        self.verify_tls = bool(cfg.verify_ssl)  # as the kubeconfig says
        self._remember_secrets(cfg)

        from urllib3.util.retry import Retry

        # One quick retry for a refused connection; never for reads (the
        # timeout would multiply) nor on answers.
        cfg.retries = Retry(total=1, connect=1, read=0, redirect=0, status=0, other=0)
        self._client = kclient.ApiClient(cfg)
        guard_pools(self._client.rest_client.pool_manager)
        self._apps = kclient.AppsV1Api(self._client)
        self._core = kclient.CoreV1Api(self._client)
        # The exec stream swaps its ApiClient's call_api for a WebSocket one
        # while it connects: on the shared client, other threads' requests
        # would go over WebSocket meanwhile (for good behind a hung
        # handshake). Each exec gets a client of its own.
        self._exec_api = lambda: kclient.CoreV1Api(kclient.ApiClient(cfg))
        self._api_exception = kclient.ApiException

    @staticmethod
    def _load(kconfig: Any, config_file: str, context: str, cfg: Any) -> tuple[dict | None, str]:
        """Load the context into `cfg` as the client would, except an exec
        plugin: that is taken out and run by ExecCredentials. Returns the
        plugin's spec (or None) and the directory of the file that named it."""
        from kubernetes.config.kube_config import KubeConfigLoader, KubeConfigMerger

        merger = KubeConfigMerger(config_file)
        merged = merger.config
        if merged is None:
            raise kconfig.config_exception.ConfigException("Invalid kube-config")
        contexts = {c.value.get("name"): c.value for c in merged.value.get("contexts") or []}
        user_name = ((contexts.get(context) or {}).get("context") or {}).get("user")
        spec, base_dir = None, ""
        for node in merged.value.get("users") or []:
            user = node.value.get("user") or {}
            # The client's order: an auth-provider or a token wins over exec.
            if (node.value.get("name") == user_name and isinstance(user, dict)
                    and "exec" in user and not ({"auth-provider", "token", "tokenFile"}
                                                & set(user))):
                spec = dict(user.pop("exec") or {})
                base_dir = os.path.dirname(os.path.abspath(node.path)) if node.path else ""
        loader = KubeConfigLoader(config_dict=merged, config_base_path=None,
                                  active_context=context)
        loader.load_and_set(cfg)
        return spec, base_dir

    def _fill_token(self, cfg: Any) -> None:
        """The client's hook before every request (HTTP and the exec
        WebSocket alike): put the current token in."""
        assert self._creds is not None
        token = self._creds.token()
        self._used.token = token
        cfg.api_key["BearerToken"] = f"Bearer {token}"

    def credential_state(self) -> CredentialState:
        """Where this context's credentials come from and how they stand."""
        if self._creds is not None:
            return self._creds.state()
        return CredentialState(self.label, self._static_source)

    def login(self) -> None:
        """Run the context's exec plugin on the terminal (ExecCredentials.login):
        before the screen, or with it suspended. Nothing to do for a token or
        a certificate from the kubeconfig."""
        if self._creds is not None:
            self._creds.login()

    @property
    def needs_login(self) -> bool:
        """The exec plugin needs the terminal (the header offers L)."""
        return self._creds is not None and self._creds.needs_login

    def credential_words(self) -> str:
        """The credential state in a few words, e.g. 'exec plugin "aws", expires in 14 m'."""
        state = self.credential_state()
        return state.words(self._creds.now() if self._creds else time.time())

    def _refused(self) -> bool:
        """A 401 came back: True when running the plugin again may cure it."""
        if self._creds is None:
            return False
        self._creds.rejected(getattr(self._used, "token", None))
        return True

    def _unauthorized(self, retried: bool) -> str:
        if self._creds is not None and retried:
            self._creds.failed("the cluster refused a new token")
            return (f'unauthorized: the cluster rejected the credentials of context '
                    f'"{self.label}" even with a new token from {self._creds.source}')
        return f'unauthorized: the cluster rejected the credentials of context "{self.label}"'

    def __repr__(self) -> str:
        return (f"KubernetesCluster(context={self.label!r}, namespace={self.namespace!r}, "
                f"server={self.server!r})")

    def close(self) -> None:
        self._client.close()

    # --- ClusterSource ---------------------------------------------------------------

    def deployment(self, namespace: str, name: str) -> Deployment:
        return deployment_from(self._get_deployment(namespace, name, "get"))

    def rollout_history(self, namespace: str, name: str) -> list[Revision]:
        return history_from(*self.rollout_objects(namespace, name))

    def pods(self, namespace: str, deployment: str) -> list[Pod]:
        dep = self._get_deployment(namespace, deployment, "get")
        selector = _label_selector((dep.get("spec") or {}).get("selector"))
        listing = self._json(
            lambda **kw: self._core.list_namespaced_pod(namespace, label_selector=selector, **kw),
            verb="list", resource=_PODS, namespace=namespace)
        return [pod_from(p) for p in listing.get("items") or []]

    def logs(self, namespace: str, pod: str, tail: int = 100) -> list[str]:
        if tail is not None and tail <= 0:
            return []
        data = self._call(
            lambda **kw: self._core.read_namespaced_pod_log(pod, namespace, tail_lines=tail,
                                                            **kw),
            verb="get", resource=_POD_LOG, namespace=namespace, name=pod)
        return data.decode("utf-8", errors="replace").splitlines()

    def patch_deployment(self, namespace: str, name: str, patch: dict,
                         field_manager: str) -> Deployment:
        obj = self._json(
            lambda **kw: self._apps.patch_namespaced_deployment(
                name, namespace, patch, field_manager=field_manager, **kw),
            verb="patch", resource=_DEPLOYMENTS, namespace=namespace, name=name)
        return deployment_from(obj)

    def rollout_objects(self, namespace: str, name: str) -> tuple[dict, list[dict]]:
        return kuberollback.rollout_objects(self, namespace, name, _label_selector)

    def json_patch_deployment(self, namespace: str, name: str,
                              operations: list[dict]) -> Deployment:
        return deployment_from(kuberollback.json_patch(self, namespace, name, operations))

    def exec_in_pod(self, namespace: str, pod: str, command: list[str],
                    timeout: float = 5.0) -> ExecResult:
        """`kubectl exec POD -- COMMAND` over the WebSocket channel protocol;
        the exit code comes from the error channel's Status. A missing
        executable is exit_code 127 (the runtime's words in stderr)."""
        outcome: list = []
        # The command's own time, plus a request's deadline for the handshake.
        total = timeout + self.deadline
        timed_out = TimedOut(self._timed_out(total, f"exec in pod {pod}: "), total)

        def run() -> None:
            try:
                with Deadline(total) as deadline:
                    try:
                        result = self._exec(namespace, pod, list(command), timeout)
                    except SourceError:
                        if not deadline.expired:
                            raise
                    # The stream was cut off by the deadline: what came is not all.
                    outcome.append(timed_out if deadline.expired else result)
            except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread
                outcome.append(exc)

        # The websocket client has no connect or handshake timeout: bound the
        # whole call; a hung handshake leaves only a daemon thread behind
        # (once connected, the deadline shuts its socket down).
        worker = threading.Thread(target=run, name="kube-exec", daemon=True)
        worker.start()
        worker.join(total)
        if not outcome:
            raise timed_out
        if isinstance(outcome[0], BaseException):
            raise outcome[0]
        return outcome[0]

    def _exec(self, namespace: str, pod: str, command: list[str], timeout: float) -> ExecResult:
        from kubernetes.stream import stream

        for retried in (False, True):
            try:
                ws = stream(self._exec_api().connect_get_namespaced_pod_exec, pod, namespace,
                            command=command, stdin=False, stdout=True, stderr=True, tty=False,
                            _preload_content=False, _request_timeout=timeout)
                watch(getattr(getattr(ws, "sock", None), "sock", None))  # the deadline's
                break
            except self._api_exception as exc:
                # Refused at the handshake: the command never ran, so once more.
                unauthorized = _handshake_status(exc) == 401
                if unauthorized and not retried and self._refused():
                    continue
                words = (self._unauthorized(retried) if unauthorized
                         else self._exec_refused(exc, namespace, pod))
                raise SourceError(self._scrub(words)) from None
        try:
            ws.run_forever(timeout=timeout)
            finished = not ws.is_open()
            stdout, stderr = ws.read_channel(1), ws.read_channel(2)
            status = ws.read_channel(3) if finished else ""
        except Exception as exc:  # noqa: BLE001 - the websocket broke off midway
            log.warning("exec in pod %s: the stream broke off", pod, exc_info=True)
            raise SourceError(self._scrub(f"exec in pod {pod}: the stream broke off: "
                                          f"{type(exc).__name__}")) from None
        finally:
            ws.close()
        if not finished:
            return ExecResult(exit_code=None, stdout=stdout, stderr=stderr)
        return self._exec_result(pod, status, stdout, stderr)

    def _exec_result(self, pod: str, status_text: str, stdout: str, stderr: str) -> ExecResult:
        """Read the exit code from the error channel's Status."""
        try:
            status = json.loads(status_text) if status_text.strip() else {}
        except ValueError:
            status = {}
        if not isinstance(status, dict) or not status:
            # Closed without a status: the stream ended early, exit unknown.
            return ExecResult(exit_code=None, stdout=stdout, stderr=stderr)
        if status.get("status") == "Success":
            return ExecResult(exit_code=0, stdout=stdout, stderr=stderr)
        message = str(status.get("message") or "")
        code = None
        if status.get("reason") == "NonZeroExitCode":
            for cause in (status.get("details") or {}).get("causes") or []:
                if cause.get("reason") == "ExitCode":
                    try:
                        code = int(cause.get("message"))
                    except (TypeError, ValueError):
                        pass
        said = f"{message}\n{stderr}".lower()
        if code != 0 and any(w in said for w in _NOT_FOUND_WORDS):
            detail = stderr.strip() or message
            return ExecResult(exit_code=EXIT_NOT_FOUND, stdout=stdout, stderr=detail)
        if code is not None:
            return ExecResult(exit_code=code, stdout=stdout, stderr=stderr)
        raise SourceError(self._scrub(f"exec in pod {pod} failed: "
                                      f"{first_line(message) or 'no reason given'}"))

    def _exec_refused(self, exc: Any, namespace: str, pod: str) -> str:
        """The handshake's failure: an HTTP answer in place of 101 Switching
        Protocols, or no answer at all, in the words of the other calls."""
        from types import SimpleNamespace

        from websocket import WebSocketBadStatusException, WebSocketTimeoutException

        chain: list[BaseException] = []
        node: BaseException | None = exc
        while node is not None and len(chain) < 10:
            chain.append(node)
            node = node.__cause__ or node.__context__
        bad = next((e for e in chain if isinstance(e, WebSocketBadStatusException)), None)
        if bad is not None:
            answer = SimpleNamespace(status=bad.status_code, body=bad.resp_body,
                                     reason=getattr(bad, "status_message", "") or "")
            return self._api_message(answer, "create", _POD_EXEC, namespace, pod)
        if any(isinstance(e, WebSocketTimeoutException) for e in chain):
            return f"API server at {self.server} unreachable: no answer within {self.timeout:g} s"
        if len(chain) > 1:  # the client wraps what the socket raised
            return f"API server at {self.server} unreachable: {self._network_words(chain[1])}"
        return f"exec in pod {pod} failed: {first_line(getattr(exc, 'reason', exc))}"

    # --- calls and errors ------------------------------------------------------------

    def _get_deployment(self, namespace: str, name: str, verb: str) -> dict:
        return self._json(
            lambda **kw: self._apps.read_namespaced_deployment(name, namespace, **kw),
            verb=verb, resource=_DEPLOYMENTS, namespace=namespace, name=name)

    def _json(self, call: Callable[..., Any], **where: Any) -> dict:
        data = self._call(call, **where)
        try:
            return json.loads(data)
        except ValueError:
            raise SourceError(f"the API server at {self.server} answered something that is "
                              "not JSON") from None

    def _call(self, call: Callable[..., Any], *, verb: str, resource: tuple[str, str],
              namespace: str, name: str | None = None) -> bytes:
        """Run one API call for its raw body; every failure becomes a SourceError."""
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
            except self._api_exception as exc:
                # A 401 is answered before admission or storage: the API server
                # applied nothing, so sending the same request again once with
                # a new token is safe, for a PATCH too.
                if exc.status == 401 and not retried and self._refused():
                    continue
                message = (self._unauthorized(retried) if exc.status == 401 else
                           self._api_message(exc, verb, resource, namespace, name))
                kind = (Unauthorized if exc.status == 401 else
                        SourceError if exc.status else Unreachable)  # 0: the client's TLS error
            except (u3.HTTPError, OSError) as exc:
                log.warning("API server %s unreachable", self.server, exc_info=True)
                message = f"API server at {self.server} unreachable: {self._network_words(exc)}"
                kind = Unreachable
            if deadline.expired:
                # Cut off by the deadline, whatever broke: a PATCH may have
                # been acted on, and the caller reads back whether it landed.
                raise TimedOut(self._scrub(self._timed_out(self.deadline)), self.deadline)
            raise kind(self._scrub(message)) from None
        raise AssertionError("unreachable")

    def _timed_out(self, seconds: float, what: str = "") -> str:
        return f"{what}API server at {self.server} timed out after {seconds:g} s"

    def _api_message(self, exc: Any, verb: str, resource: tuple[str, str], namespace: str,
                     name: str | None) -> str:
        code = exc.status or 0
        status_message, reason = _status_of(exc)
        plural, group = resource
        qualified = f"{plural}.{group}" if group else plural
        if code == 0:  # the client's own wrapping of a TLS failure
            return f"API server at {self.server} unreachable: {first_line(exc.reason or '')}"
        if code == 401:
            return f'unauthorized: the cluster rejected the credentials of context "{self.label}"'
        if code == 403:
            text = status_message or "access denied"
            return (f"forbidden: {text} (RBAC: needs verb {verb} on resource {plural} "
                    f'in namespace "{namespace}")')
        if code == 404:
            if name is not None:
                base = qualified.split("/")[0]
                return f'{base} "{name}" not found in namespace "{namespace}"'
            return f"not found: {status_message or reason or 'no such resource'}"
        if code == 409:
            return f"conflict: {status_message or reason or 'the object changed meanwhile'}"
        if code == 422:
            return f"invalid: {status_message or reason or 'the API server refused the change'}"
        if 500 <= code <= 599:
            return f"the API server answered {code}: {status_message or reason or 'server error'}"
        return f"the API server answered {code}: {status_message or reason or 'request refused'}"

    def _network_words(self, exc: BaseException) -> str:
        import urllib3.exceptions as u3

        seen = exc
        if isinstance(seen, u3.MaxRetryError) and seen.reason is not None:
            seen = seen.reason
        chain: list[BaseException] = []
        node: BaseException | None = seen
        while node is not None and len(chain) < 10:
            chain.append(node)
            node = node.__cause__ or node.__context__
        if any(isinstance(e, ConnectionRefusedError) for e in chain):
            return "connection refused"
        # (NewConnectionError is a ConnectTimeoutError in urllib3 2: refusals first.)
        if any(isinstance(e, (u3.ReadTimeoutError, TimeoutError, socket.timeout))
               or type(e) is u3.ConnectTimeoutError for e in chain):
            return f"no answer within {self.timeout:g} s"
        if any(isinstance(e, socket.gaierror) for e in chain) or isinstance(
                seen, u3.NameResolutionError):
            return "the host name does not resolve"
        if any(isinstance(e, ConnectionResetError) for e in chain):
            return "connection reset"
        if isinstance(seen, u3.SSLError):
            return f"TLS failed: {first_line(seen)}"
        if isinstance(seen, u3.ProtocolError):
            if any(type(e).__name__ == "BadStatusLine" for e in (*chain, *seen.args)):
                return "it answered something that is not HTTP"
            return "the connection broke off"
        if isinstance(seen, u3.NewConnectionError):
            return "cannot connect"
        return type(seen).__name__

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

    def _scrub(self, message: str) -> str:
        # Its own secrets, and the tokens the plugin gave, refreshed ones too.
        return _secrets.redact(message, self._secrets)


def _handshake_status(exc: BaseException) -> int | None:
    """The HTTP status a refused WebSocket handshake answered, if any."""
    node: BaseException | None = exc
    for _ in range(10):
        if node is None:
            return None
        code = getattr(node, "status_code", None)
        if isinstance(code, int):
            return code
        node = node.__cause__ or node.__context__
    return None


def _static_source(cfg: Any, in_cluster: bool) -> str:
    if in_cluster:
        return "service account token"
    if (getattr(cfg, "api_key", None) or {}).get("BearerToken"):
        return "token"
    if getattr(cfg, "cert_file", None):
        return "client certificate"
    if getattr(cfg, "username", None):
        return "password"
    return "none"


def _status_of(exc: Any) -> tuple[str, str]:
    """The Status message and reason of an API error answer, where it sent one."""
    body = exc.body
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    try:
        status = json.loads(body) if body else {}
    except ValueError:
        status = {}
    if not isinstance(status, dict):
        status = {}
    message = str(status.get("message") or "").strip()
    reason = str(status.get("reason") or exc.reason or "").strip()
    if not message and body and not status:
        message = shorten(first_line(body), 200)
    return message, reason




def _read_text(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""
