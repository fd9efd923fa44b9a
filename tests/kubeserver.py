"""A small Kubernetes API server for the tests, checked against real kubectl.

It speaks plain http on a free loopback port (stdlib ThreadingHTTPServer in a
thread) and holds Deployments, ReplicaSets and Pods in memory as plain dicts
shaped like the real API objects. It answers what `kubectl rollout restart`,
`set env`, `rollout status`, `rollout history` and the Python `kubernetes`
client ask for: discovery, GET/LIST (label and field selectors), WATCH
(chunked JSON events), PATCH (strategic merge, merge, JSON patch) and pod
logs, and pod exec over WebSocket (the v4/v5.channel.k8s.io protocols the
Python client and kubectl >= 1.30 speak; no SPDY, so kubectl <= 1.29 cannot
exec here). A deterministic deployment-controller simulation rolls a changed
pod template out one step per `step()` (ticked automatically every `tick`
seconds unless `auto_step=False`).

Every request is recorded (`server.requests`, `server.clear()`), and a test
can make any method + path fail with a Status body (`server.fail(...)`).
`server.set_exec(namespace, pod or None, handler)` scripts what exec answers.

    with KubeServer() as kube:
        kube.add_deployment("api", "shop", replicas=3, env={"A": "1"})
        cfg = kube.write_kubeconfig(tmp_path / "kubeconfig", namespace="shop")
"""

from __future__ import annotations

import base64
import copy
import fnmatch
import hashlib
import json
import os
import re
import subprocess
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlparse

from tests import kubeobjects

__all__ = ["KubeServer", "Recorded", "TokenAuthority", "strategic_merge", "merge_patch", "json_patch"]

SERVER_VERSION = "v1.32.4"

RESOURCES = {
    # plural: (group, version, kind, list kind)
    "deployments": ("apps", "v1", "Deployment", "DeploymentList"),
    "replicasets": ("apps", "v1", "ReplicaSet", "ReplicaSetList"),
    "pods": ("", "v1", "Pod", "PodList"),
    **kubeobjects.RESOURCES,  # services, endpoints, events, endpointslices, networkpolicies
}

_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


def _res(name, kind, short=(), verbs=_VERBS, namespaced=True, singular=None, cats=("all",)):
    r = {"name": name, "singularName": singular if singular is not None else "",
         "namespaced": namespaced, "kind": kind, "verbs": list(verbs)}
    if "/" not in name:
        r["singularName"] = singular or kind.lower()
        if short:
            r["shortNames"] = list(short)
        if cats:
            r["categories"] = list(cats)
    return r


CORE_V1 = {
    "kind": "APIResourceList", "groupVersion": "v1",
    "resources": [
        _res("namespaces", "Namespace", ("ns",), ["create", "delete", "get", "list", "patch",
                                                  "update", "watch"], namespaced=False, cats=()),
        _res("pods", "Pod", ("po",)),
        _res("pods/exec", "PodExecOptions", verbs=["create", "get"]),
        _res("pods/log", "Pod", verbs=["get"]),
        _res("pods/status", "Pod", verbs=["get", "patch", "update"]),
        *kubeobjects.CORE_RESOURCES,
    ],
}
APPS_V1 = {
    "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "apps/v1",
    "resources": [
        _res("deployments", "Deployment", ("deploy",)),
        _res("deployments/scale", "Scale", verbs=["get", "patch", "update"]),
        _res("deployments/status", "Deployment", verbs=["get", "patch", "update"]),
        _res("replicasets", "ReplicaSet", ("rs",)),
        _res("replicasets/scale", "Scale", verbs=["get", "patch", "update"]),
        _res("replicasets/status", "ReplicaSet", verbs=["get", "patch", "update"]),
    ],
}


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _status(code: int, reason: str, message: str, details: dict | None = None) -> dict:
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}
    if details:
        body["details"] = details
    return body


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.code = code
        self.body = _status(code, reason, message, details)


# --- patches ------------------------------------------------------------------------

# patchMergeKey of the lists the strategic merge needs (k8s.io/api struct tags).
MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name",
    "env": "name", "ports": "containerPort", "volumes": "name", "volumeMounts": "mountPath",
    "volumeDevices": "devicePath", "imagePullSecrets": "name", "conditions": "type",
    "ownerReferences": "uid", "hostAliases": "ip", "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name", "readinessGates": "conditionType",
}
# Primitive lists with patchStrategy "merge".
MERGE_PRIMITIVE_LISTS = {"finalizers"}


def strategic_merge(original: Any, patch: Any) -> Any:
    """Apply a strategic merge patch: maps merge, `null` deletes a key, lists
    with a known merge key merge item by item (`$patch: delete|replace`),
    `$setElementOrder/<list>` orders the result, other lists replace."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(original, dict):
        original = {}
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if directive == "delete":
        return None
    result = copy.deepcopy(original)
    orders: dict[str, list] = {}
    for key, value in patch.items():
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = value
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            name = key.split("/", 1)[1]
            if isinstance(result.get(name), list):
                result[name] = [x for x in result[name] if x not in value]
            continue
        if key.startswith("$"):  # $retainKeys, $patch: nothing more to do here
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            merged = strategic_merge(result.get(key), value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list) and key in MERGE_KEYS:
            result[key] = _merge_list(result.get(key) or [], value, MERGE_KEYS[key])
        elif isinstance(value, list) and key in MERGE_PRIMITIVE_LISTS:
            old = list(result.get(key) or [])
            result[key] = old + [x for x in value if x not in old]
        else:
            result[key] = copy.deepcopy(value)
    for key, order in orders.items():
        if isinstance(result.get(key), list) and key in MERGE_KEYS:
            result[key] = _reorder(result[key], order, MERGE_KEYS[key])
    return result


def _merge_list(original: list, patch: list, key: str) -> list:
    if any(isinstance(i, dict) and i.get("$patch") == "replace" for i in patch):
        return [copy.deepcopy(i) for i in patch if not (isinstance(i, dict) and "$patch" in i)]
    out = copy.deepcopy(original)
    for item in patch:
        if not isinstance(item, dict):
            out.append(copy.deepcopy(item))
            continue
        index = next((n for n, o in enumerate(out)
                      if isinstance(o, dict) and o.get(key) == item.get(key)), None)
        if item.get("$patch") == "delete":
            if index is not None:
                del out[index]
            continue
        if index is None:
            out.append(strategic_merge({}, item))
        else:
            out[index] = strategic_merge(out[index], item)
    return out


def _reorder(items: list, order: list, key: str) -> list:
    rank = {o.get(key): n for n, o in enumerate(order) if isinstance(o, dict)}
    listed = sorted((i for i in items if i.get(key) in rank), key=lambda i: rank[i.get(key)])
    return listed + [i for i in items if i.get(key) not in rank]


def merge_patch(original: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(original) if isinstance(original, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def json_patch(document: Any, operations: list) -> Any:
    """RFC 6902 JSON patch: add, remove, replace, test, move, copy."""
    doc = copy.deepcopy(document)

    def parts(pointer: str) -> list[str]:
        if pointer == "":
            return []
        return [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]

    def parent(pointer: str):
        *head, last = parts(pointer)
        node = doc
        for p in head:
            node = node[int(p)] if isinstance(node, list) else node[p]
        return node, last

    def get(pointer: str):
        node = doc
        for p in parts(pointer):
            node = node[int(p)] if isinstance(node, list) else node[p]
        return node

    def add(pointer, value):
        node, last = parent(pointer)
        if isinstance(node, list):
            node.insert(len(node) if last == "-" else int(last), value)
        else:
            node[last] = value

    def remove(pointer):
        node, last = parent(pointer)
        if isinstance(node, list):
            return node.pop(int(last))
        return node.pop(last)

    for op in operations:
        kind, path = op["op"], op["path"]
        try:
            if kind == "add":
                add(path, copy.deepcopy(op["value"]))
            elif kind == "remove":
                remove(path)
            elif kind == "replace":
                remove(path)
                add(path, copy.deepcopy(op["value"]))
            elif kind == "test":
                if get(path) != op["value"]:
                    raise ApiError(422, "Invalid", f"testing value {path} failed")
            elif kind == "move":
                add(path, remove(op["from"]))
            elif kind == "copy":
                add(path, copy.deepcopy(get(op["from"])))
            else:
                raise ApiError(400, "BadRequest", f"unknown JSON patch op {kind!r}")
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            raise ApiError(422, "Invalid", f"the JSON patch {op} does not apply: {exc!r}")
    return doc


# --- selectors ----------------------------------------------------------------------

def _split_selector(text: str) -> list[str]:
    terms, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            terms.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        terms.append(cur.strip())
    return terms


def label_selector_matches(selector: str, labels: dict) -> bool:
    labels = labels or {}
    for term in _split_selector(selector or ""):
        m = re.fullmatch(r"(\S+)\s+(in|notin)\s+\((.*)\)", term)
        if m:
            key, op, values = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",")}
            if op == "in" and labels.get(key) not in values:
                return False
            if op == "notin" and labels.get(key) in values:
                return False
            continue
        if "!=" in term:
            key, value = (s.strip() for s in term.split("!=", 1))
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = (s.strip() for s in re.split(r"==?", term, 1))
            if labels.get(key) != value:
                return False
        elif term.startswith("!"):
            if term[1:].strip() in labels:
                return False
        elif term not in labels:
            return False
    return True


def field_selector_matches(selector: str, obj: dict) -> bool:
    for term in _split_selector(selector or ""):
        negate = "!=" in term
        key, value = (s.strip() for s in re.split(r"!=|==?", term, 1))
        node: Any = obj
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        actual = "" if node is None else str(node)
        if (actual == value) == negate:
            return False
    return True


def _selector_string(match_labels: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted((match_labels or {}).items()))


# --- recorded requests --------------------------------------------------------------

@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    status: int | None = None
    raw_path: str = ""
    token: str | None = None  # the bearer token it carried
    token_live: bool | None = None  # whether the token authority accepted it

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def __repr__(self) -> str:  # short, for assertion messages
        return f"<{self.method} {self.raw_path} -> {self.status}>"


@dataclass
class _Failure:
    method: str
    pattern: str
    code: int
    body: dict
    times: int | None = None


@dataclass
class _Event:
    rv: int
    type: str
    plural: str
    namespace: str
    obj: dict = field(repr=False)


class TokenAuthority:
    """Short-lived bearer tokens, as an exec plugin gets them from a cloud.

    `POST /_test/token` (what tests/execplugin.py calls) issues one that lives
    `ttl` seconds; with `expiry` the answer states its expirationTimestamp,
    without it the token simply stops working after `revoke_after` seconds.
    Time is the wall clock plus `offset`: `advance(s)` moves it on, and the
    console under test is given `now` as its clock, so a test can live
    through token lifetimes without waiting for them.
    """

    def __init__(self, ttl: float = 20.0, *, expiry: bool = True,
                 revoke_after: float | None = None) -> None:
        self.ttl = ttl
        self.expiry = expiry
        self.revoke_after = revoke_after
        self.offset = 0.0
        self.fail_plugin = ""  # when set, the plugin fails with this on stderr
        self.issued: dict[str, float] = {}  # token -> when it stops working
        self._n = 0
        self._lock = threading.Lock()

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    @staticmethod
    def token_name(n: int) -> str:
        """The n-th token issued (from 1): tests can plant it where it must not leak."""
        return f"plugin-token-{n:04d}-{hashlib.sha1(str(n).encode()).hexdigest()[:16]}"

    def issue(self) -> dict:
        with self._lock:
            self._n += 1
            token = self.token_name(self._n)
            now = self.now()
            life = self.ttl if self.expiry else (self.revoke_after or self.ttl)
            self.issued[token] = now + life
        answer = {"token": token}
        if self.expiry:
            answer["expirationTimestamp"] = datetime.fromtimestamp(
                now + self.ttl, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return answer

    def revoke_all(self) -> None:
        with self._lock:
            self.issued = {t: 0.0 for t in self.issued}

    def live(self, token: str | None) -> bool:
        with self._lock:
            return token is not None and self.issued.get(token, 0.0) > self.now()


# --- the server ---------------------------------------------------------------------

class KubeServer:
    """An in-memory Kubernetes API on http://127.0.0.1:PORT.

    `tick` is the interval of the automatic controller step (when
    `auto_step` is true); `step()` advances every deployment one step by
    hand, `settle()` steps until nothing changes.
    """

    def __init__(self, *, version: str = SERVER_VERSION, auto_step: bool = True,
                 tick: float = 0.15, host: str = "127.0.0.1", port: int = 0) -> None:
        self.version = version
        self.auto_step = auto_step
        self.tick = tick
        self.requests: list[Recorded] = []
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._objects: dict[str, dict[tuple[str, str], dict]] = {p: {} for p in RESOURCES}
        self._logs: dict[tuple[str, str], str] = {}
        self._exec: dict[tuple[str, str | None], ExecHandler] = {}
        self._events: list[_Event] = []
        self._failures: list[_Failure] = []
        self._rv = 1000
        self._uid = 0
        self._stopped = threading.Event()
        self._httpd = ThreadingHTTPServer((host, port), _handler_for(self))
        self._httpd.daemon_threads = True
        self.host, self.port = self._httpd.server_address[:2]
        self.url = f"http://{self.host}:{self.port}"
        self._threads: list[threading.Thread] = []
        self.auth: TokenAuthority | None = None

    def require_tokens(self, ttl: float = 20.0, *, expiry: bool = True,
                       revoke_after: float | None = None) -> TokenAuthority:
        """From now on accept only tokens the authority issued and still honours."""
        self.auth = TokenAuthority(ttl, expiry=expiry, revoke_after=revoke_after)
        return self.auth

    # lifecycle
    def start(self) -> "KubeServer":
        serve = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                 name="kubeserver", daemon=True)
        ticker = threading.Thread(target=self._tick_loop, name="kubeserver-controller",
                                  daemon=True)
        self._threads = [serve, ticker]
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        with self._changed:
            self._changed.notify_all()
        self._httpd.shutdown()
        self._httpd.server_close()
        for t in self._threads:
            t.join(timeout=2)

    def __enter__(self) -> "KubeServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _tick_loop(self) -> None:
        while not self._stopped.wait(self.tick):
            if self.auto_step:
                self.step()

    # requests and failures
    def clear(self) -> None:
        """Forget the recorded requests."""
        with self._lock:
            self.requests.clear()

    def requests_for(self, method: str | None = None, path: str | None = None) -> list[Recorded]:
        """Recorded requests filtered by method and by path (a glob)."""
        with self._lock:
            return [r for r in self.requests
                    if (method is None or r.method == method.upper())
                    and (path is None or fnmatch.fnmatchcase(r.path, path))]

    def fail(self, method: str, path: str, code: int, *, reason: str | None = None,
             message: str | None = None, details: dict | None = None,
             times: int | None = None) -> None:
        """Answer `method` on `path` (exact, or a glob) with `code` and a
        Status body, `times` times (forever when None)."""
        reason = reason or {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden",
                            404: "NotFound", 409: "Conflict", 422: "Invalid",
                            429: "TooManyRequests", 500: "InternalError",
                            503: "ServiceUnavailable", 504: "Timeout"}.get(code, "Unknown")
        message = message or f"injected {code} {reason}"
        with self._lock:
            self._failures.append(_Failure(method.upper(), path, code,
                                           _status(code, reason, message, details), times))

    def clear_failures(self) -> None:
        with self._lock:
            self._failures.clear()

    def _injected(self, method: str, path: str) -> _Failure | None:
        with self._lock:
            for f in self._failures:
                if f.method in (method, "*") and fnmatch.fnmatchcase(path, f.pattern):
                    if f.times is not None:
                        f.times -= 1
                        if f.times <= 0:
                            self._failures.remove(f)
                    return f
        return None

    # kubeconfig
    def write_kubeconfig(self, path: str | Path, *, context: str = "test-ctx",
                         namespace: str = "default", user: str = "test-user",
                         exec_plugin: dict | None = None) -> Path:
        """Write a kubeconfig (JSON, which is YAML) for this server; return its
        path. `exec_plugin` is the user's `exec` stanza."""
        path = Path(path)
        config = {
            "apiVersion": "v1", "kind": "Config", "preferences": {},
            "clusters": [{"name": "test-cluster", "cluster": {"server": self.url}}],
            "users": [{"name": user, "user": {"exec": exec_plugin} if exec_plugin else {}}],
            "contexts": [{"name": context, "context": {"cluster": "test-cluster",
                                                       "user": user, "namespace": namespace}}],
            "current-context": context,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(config, indent=2))
        return path

    # object store
    def _next_uid(self) -> str:
        self._uid += 1
        return f"00000000-0000-4000-8000-{self._uid:012d}"

    def _save(self, plural: str, obj: dict, event: str | None = None) -> dict:
        """Store `obj`; bump resourceVersion and publish an event only when it changed."""
        meta = obj["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        old = self._objects[plural].get(key)
        if old is not None and event is None:
            a = {**old, "metadata": {k: v for k, v in old["metadata"].items()
                                     if k != "resourceVersion"}}
            b = {**obj, "metadata": {k: v for k, v in meta.items() if k != "resourceVersion"}}
            if a == b:
                return old
        self._rv += 1
        meta["resourceVersion"] = str(self._rv)
        self._objects[plural][key] = obj
        self._events.append(_Event(self._rv, event or ("MODIFIED" if old else "ADDED"),
                                   plural, key[0], copy.deepcopy(obj)))
        del self._events[:-2000]
        self._changed.notify_all()
        return obj

    def _delete(self, plural: str, namespace: str, name: str) -> None:
        obj = self._objects[plural].pop((namespace, name), None)
        if obj is not None:
            self._rv += 1
            obj["metadata"]["resourceVersion"] = str(self._rv)
            self._events.append(_Event(self._rv, "DELETED", plural, namespace,
                                       copy.deepcopy(obj)))
            self._changed.notify_all()

    def get(self, plural: str, namespace: str, name: str) -> dict | None:
        """A deep copy of one stored object (plural: deployments, replicasets, pods)."""
        with self._lock:
            obj = self._objects[plural].get((namespace, name))
            return copy.deepcopy(obj) if obj else None

    def deployment(self, namespace: str, name: str) -> dict | None:
        return self.get("deployments", namespace, name)

    def list(self, plural: str, namespace: str | None = None,
             label_selector: str = "") -> list[dict]:
        with self._lock:
            return [copy.deepcopy(o) for (ns, _), o in sorted(self._objects[plural].items())
                    if (namespace is None or ns == namespace)
                    and label_selector_matches(label_selector, o["metadata"].get("labels"))]

    def replicasets(self, namespace: str, deployment: str) -> list[dict]:
        """The deployment's ReplicaSets, oldest revision first."""
        with self._lock:
            rss = self._owned_rs(namespace, deployment)
            return [copy.deepcopy(r) for r in rss]

    def pods(self, namespace: str, deployment: str | None = None) -> list[dict]:
        with self._lock:
            if deployment is None:
                return self.list("pods", namespace)
            return [copy.deepcopy(p) for rs in self._owned_rs(namespace, deployment)
                    for p in self._owned_pods(rs)]

    def revisions(self, namespace: str, deployment: str) -> list[int]:
        return [_revision(rs) for rs in self.replicasets(namespace, deployment)]

    def set_log(self, namespace: str, pod: str, text: str) -> None:
        with self._lock:
            self._logs[(namespace, pod)] = text

    def set_exec(self, namespace: str, pod: str | None, handler: ExecHandler) -> None:
        """What `exec` runs in `pod` (None: every pod of the namespace):
        handler(command) -> (exit code, stdout, stderr). It may raise ApiError
        to refuse the exec (an HTTP answer, no upgrade) or ExecFailure for a
        kubelet error on the status channel. Without a handler only `echo`,
        `true` and `false` exist; anything else is not found, as in a slim image."""
        with self._lock:
            self._exec[(namespace, pod)] = handler

    def exec_handler(self, namespace: str, pod: str) -> ExecHandler:
        with self._lock:
            return (self._exec.get((namespace, pod)) or self._exec.get((namespace, None))
                    or default_exec)

    # building a cluster
    def add_deployment(self, name: str, namespace: str = "default", *, replicas: int = 3,
                       image: str = "registry.example/app:1.0", container: str = "app",
                       env: dict[str, str] | None = None, labels: dict[str, str] | None = None,
                       containers: list[dict] | None = None, paused: bool = False,
                       change_cause: str | None = None, revisions: int = 1) -> dict:
        """A Deployment fully rolled out: `revisions` ReplicaSets (the older
        ones scaled to 0, each with a different image tag) and `replicas`
        ready pods of the newest."""
        labels = labels or {"app": name}
        if containers is None:
            containers = [{"name": container, "image": image,
                           "env": [{"name": k, "value": v} for k, v in (env or {}).items()],
                           "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                           "resources": {}, "imagePullPolicy": "IfNotPresent",
                           "terminationMessagePath": "/dev/termination-log",
                           "terminationMessagePolicy": "File"}]
        with self._lock:
            dep = {
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": name, "namespace": namespace, "uid": self._next_uid(),
                             "generation": 1, "creationTimestamp": _now(),
                             "labels": dict(labels), "annotations": {}},
                "spec": {
                    "replicas": replicas,
                    "selector": {"matchLabels": dict(labels)},
                    "template": {"metadata": {"labels": dict(labels)},
                                 "spec": {"containers": copy.deepcopy(containers),
                                          "restartPolicy": "Always",
                                          "terminationGracePeriodSeconds": 30,
                                          "dnsPolicy": "ClusterFirst",
                                          "schedulerName": "default-scheduler",
                                          "securityContext": {}}},
                    "strategy": {"type": "RollingUpdate",
                                 "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
                    "revisionHistoryLimit": 10,
                    "progressDeadlineSeconds": 600,
                },
                "status": {},
            }
            if change_cause:
                dep["metadata"]["annotations"]["kubernetes.io/change-cause"] = change_cause
            self._save("deployments", dep)
            dep = copy.deepcopy(dep)
            for n in range(revisions - 1, -1, -1):  # older revisions: other image tags
                tmpl = copy.deepcopy(dep["spec"]["template"])
                if n:
                    for c in tmpl["spec"]["containers"]:
                        c["image"] = f"{c['image']}-old{n}"
                rs = self._new_rs(dep, tmpl)
                if n == 0:
                    rs["spec"]["replicas"] = replicas
                    for _ in range(replicas):
                        self._new_pod(rs, ready=True)
                self._update_rs_status(rs)
            self._save("deployments", dep)
            self._update_deployment_status(dep)
            dep["status"]["observedGeneration"] = 1
            self._save("deployments", dep)
            if paused:
                self.set_paused(namespace, name, True)
            return copy.deepcopy(self._objects["deployments"][(namespace, name)])

    def set_paused(self, namespace: str, name: str, paused: bool = True) -> None:
        """`kubectl rollout pause/resume`, as the API server and controller see it."""
        with self._lock:
            dep = copy.deepcopy(self._objects["deployments"][(namespace, name)])
            if bool(dep["spec"].get("paused")) == paused:
                return
            if paused:
                dep["spec"]["paused"] = True
            else:
                dep["spec"].pop("paused", None)
            dep["metadata"]["generation"] += 1
            self._save("deployments", dep)
        self.step()

    def set_progress_deadline_exceeded(self, namespace: str, name: str,
                                       exceeded: bool = True) -> None:
        """Set (or clear) the Progressing=False/ProgressDeadlineExceeded condition;
        while set, the controller makes no progress on this deployment."""
        with self._lock:
            dep = copy.deepcopy(self._objects["deployments"][(namespace, name)])
            dep["status"]["observedGeneration"] = dep["metadata"]["generation"]
            new = self._newest_rs(dep)
            rs_name = new["metadata"]["name"] if new else name
            if exceeded:
                _set_condition(dep, "Progressing", "False", "ProgressDeadlineExceeded",
                               f'ReplicaSet "{rs_name}" has timed out progressing.')
            else:
                _set_condition(dep, "Progressing", "True", "ReplicaSetUpdated",
                               f'ReplicaSet "{rs_name}" is progressing.')
            self._save("deployments", dep)

    def annotate(self, plural: str, namespace: str, name: str,
                 annotations: dict[str, str | None]) -> None:
        """Set (None: remove) annotations on a stored object, as another client would."""
        with self._lock:
            obj = copy.deepcopy(self._objects[plural][(namespace, name)])
            ann = obj["metadata"].setdefault("annotations", {})
            for k, v in annotations.items():
                if v is None:
                    ann.pop(k, None)
                else:
                    ann[k] = v
            self._save(plural, obj)

    def scale_pod_ready(self, namespace: str, pod: str, ready: bool,
                        restart_count: int | None = None) -> None:
        """Mark a pod ready / not ready (and set its restartCount)."""
        with self._lock:
            p = copy.deepcopy(self._objects["pods"][(namespace, pod)])
            _pod_set_ready(p, ready)
            if restart_count is not None:
                for cs in p["status"]["containerStatuses"]:
                    cs["restartCount"] = restart_count
            self._save("pods", p)

    # the deployment controller
    def step(self) -> bool:
        """Advance every deployment's rollout one step; True when anything changed."""
        with self._lock:
            rv = self._rv
            for key in sorted(self._objects["deployments"]):
                self._advance(key)
            return self._rv != rv

    def settle(self, max_steps: int = 100) -> int:
        """Step until nothing changes; return the number of steps that changed something."""
        n = 0
        while n < max_steps and self.step():
            n += 1
        return n

    def _owned_rs(self, namespace: str, deployment: str) -> list[dict]:
        dep = self._objects["deployments"].get((namespace, deployment))
        if not dep:
            return []
        uid = dep["metadata"]["uid"]
        rss = [rs for (ns, _), rs in self._objects["replicasets"].items()
               if ns == namespace and any(o.get("uid") == uid
                                          for o in rs["metadata"].get("ownerReferences", []))]
        return sorted(rss, key=_revision)

    def _owned_pods(self, rs: dict) -> list[dict]:
        uid = rs["metadata"]["uid"]
        ns = rs["metadata"]["namespace"]
        return [p for (pns, _), p in sorted(self._objects["pods"].items())
                if pns == ns and any(o.get("uid") == uid
                                     for o in p["metadata"].get("ownerReferences", []))]

    def _newest_rs(self, dep: dict) -> dict | None:
        rss = self._owned_rs(dep["metadata"]["namespace"], dep["metadata"]["name"])
        return rss[-1] if rss else None

    def _new_rs(self, dep: dict, template: dict) -> dict:
        ns, name = dep["metadata"]["namespace"], dep["metadata"]["name"]
        existing = self._owned_rs(ns, name)
        revision = max((_revision(r) for r in existing), default=0) + 1
        h = _template_hash(template)
        tmpl = copy.deepcopy(template)
        tmpl.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = h
        annotations = {"deployment.kubernetes.io/revision": str(revision),
                       "deployment.kubernetes.io/desired-replicas": str(dep["spec"]["replicas"]),
                       "deployment.kubernetes.io/max-replicas": str(dep["spec"]["replicas"] + 1)}
        cause = dep["metadata"].get("annotations", {}).get("kubernetes.io/change-cause")
        if cause:
            annotations["kubernetes.io/change-cause"] = cause
        rs = {
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {
                "name": f"{name}-{h}", "namespace": ns, "uid": self._next_uid(),
                "generation": 1, "creationTimestamp": _now(),
                "labels": dict(tmpl["metadata"]["labels"]), "annotations": annotations,
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                                     "name": name, "uid": dep["metadata"]["uid"],
                                     "controller": True, "blockOwnerDeletion": True}],
            },
            "spec": {"replicas": 0,
                     "selector": {"matchLabels": {**dep["spec"]["selector"].get("matchLabels", {}),
                                                  "pod-template-hash": h}},
                     "template": tmpl},
            "status": {"replicas": 0, "observedGeneration": 1},
        }
        return self._save("replicasets", rs)

    def _new_pod(self, rs: dict, ready: bool) -> dict:
        ns = rs["metadata"]["namespace"]
        n = self._uid + 1
        suffix = "".join(_SAFE[int(c, 16) % len(_SAFE)]
                         for c in hashlib.sha1(f"{rs['metadata']['name']}{n}".encode())
                         .hexdigest()[:5])
        tmpl = rs["spec"]["template"]
        pod = {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"{rs['metadata']['name']}-{suffix}", "namespace": ns,
                         "uid": self._next_uid(), "creationTimestamp": _now(),
                         "labels": dict(tmpl["metadata"].get("labels", {})),
                         "annotations": dict(tmpl["metadata"].get("annotations", {})),
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                              "name": rs["metadata"]["name"],
                                              "uid": rs["metadata"]["uid"], "controller": True,
                                              "blockOwnerDeletion": True}]},
            "spec": {**copy.deepcopy(tmpl["spec"]), "nodeName": "node-1"},
            "status": {"phase": "Running", "hostIP": "10.0.0.1",
                       "podIP": f"10.1.{n // 250 % 250}.{n % 250 + 1}",
                       "startTime": _now(), "qosClass": "BestEffort"},
        }
        _pod_set_ready(pod, ready)
        self._logs.setdefault((ns, pod["metadata"]["name"]), "".join(
            f"{_now()} INFO {pod['metadata']['name']} line {i}\n" for i in range(1, 21)))
        return self._save("pods", pod)

    def _update_rs_status(self, rs: dict) -> None:
        rs = copy.deepcopy(rs)
        pods = self._owned_pods(rs)
        ready = sum(1 for p in pods if _pod_ready(p))
        rs["status"] = {"replicas": len(pods), "fullyLabeledReplicas": len(pods),
                        "readyReplicas": ready, "availableReplicas": ready,
                        "observedGeneration": rs["metadata"].get("generation", 1)}
        if not ready:
            rs["status"].pop("readyReplicas")
            rs["status"].pop("availableReplicas")
        if not pods:
            rs["status"].pop("fullyLabeledReplicas")
        self._save("replicasets", rs)

    def _update_deployment_status(self, dep: dict) -> None:
        ns, name = dep["metadata"]["namespace"], dep["metadata"]["name"]
        rss = self._owned_rs(ns, name)
        new = rss[-1] if rss else None
        all_pods = [p for rs in rss for p in self._owned_pods(rs)]
        new_pods = self._owned_pods(new) if new else []
        ready = sum(1 for p in all_pods if _pod_ready(p))
        desired = dep["spec"].get("replicas", 1)
        st = dep.setdefault("status", {})
        st.update({"replicas": len(all_pods), "updatedReplicas": len(new_pods),
                   "readyReplicas": ready, "availableReplicas": ready,
                   "unavailableReplicas": max(0, len(all_pods) - ready)})
        for k in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas",
                  "unavailableReplicas"):
            if not st[k]:
                del st[k]
        # maxUnavailable 25% of 3 rounds down to 0: Available needs all replicas.
        min_available = desired - (desired * 25 // 100)
        if ready >= min_available:
            _set_condition(dep, "Available", "True", "MinimumReplicasAvailable",
                           "Deployment has minimum availability.")
        else:
            _set_condition(dep, "Available", "False", "MinimumReplicasUnavailable",
                           "Deployment does not have minimum availability.")
        progressing = _condition(dep, "Progressing")
        rs_name = new["metadata"]["name"] if new else name
        if dep["spec"].get("paused"):
            _set_condition(dep, "Progressing", "Unknown", "DeploymentPaused",
                           "Deployment is paused")
        elif progressing and progressing.get("reason") == "ProgressDeadlineExceeded":
            pass
        elif (len(new_pods) == desired and len(all_pods) == desired
              and ready == desired):
            _set_condition(dep, "Progressing", "True", "NewReplicaSetAvailable",
                           f'ReplicaSet "{rs_name}" has successfully progressed.')
        else:
            _set_condition(dep, "Progressing", "True", "ReplicaSetUpdated",
                           f'ReplicaSet "{rs_name}" is progressing.')

    def _advance(self, key: tuple[str, str]) -> None:
        dep = copy.deepcopy(self._objects["deployments"][key])
        ns, name = key
        st = dep.setdefault("status", {})
        st["observedGeneration"] = dep["metadata"]["generation"]
        stuck = (_condition(dep, "Progressing") or {}).get("reason") == "ProgressDeadlineExceeded"
        if dep["spec"].get("paused") or stuck:
            self._update_deployment_status(dep)
            self._save("deployments", dep)
            return
        template = dep["spec"]["template"]
        rss = self._owned_rs(ns, name)
        new = next((rs for rs in rss if _same_template(rs["spec"]["template"], template)), None)
        if new is None:
            new = self._new_rs(dep, template)
        elif new is not rss[-1]:  # a rollback: the old ReplicaSet gets the next revision
            new = copy.deepcopy(new)
            new["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = str(
                _revision(rss[-1]) + 1)
            new = self._save("replicasets", new)
        desired = dep["spec"].get("replicas", 1)
        new_pods = self._owned_pods(new)
        for p in new_pods:  # pods created last step are ready now
            if not _pod_ready(p):
                p = copy.deepcopy(p)
                _pod_set_ready(p, True)
                self._save("pods", p)
        new_pods = self._owned_pods(new)
        if len(new_pods) < desired:
            self._new_pod(new, ready=False)
        elif len(new_pods) > desired:
            self._delete("pods", ns, new_pods[-1]["metadata"]["name"])
        ready_new = sum(1 for p in new_pods if _pod_ready(p))
        old_rss = [rs for rs in self._owned_rs(ns, name)
                   if rs["metadata"]["uid"] != new["metadata"]["uid"]]
        old_pods = [p for rs in old_rss for p in self._owned_pods(rs)]
        if old_pods and len(old_pods) > desired - ready_new:
            self._delete("pods", ns, old_pods[-1]["metadata"]["name"])
        for rs in self._owned_rs(ns, name):
            rs = copy.deepcopy(rs)
            count = len(self._owned_pods(rs))
            rs["spec"]["replicas"] = (min(desired, count + (1 if count < desired else 0))
                                      if rs["metadata"]["uid"] == new["metadata"]["uid"]
                                      else count)
            self._save("replicasets", rs)
            self._update_rs_status(self._objects["replicasets"][(ns, rs["metadata"]["name"])])
        self._update_deployment_status(dep)
        self._save("deployments", dep)

    # the API
    def handle(self, method: str, path: str, query: dict[str, list[str]], headers: dict,
               body: bytes) -> tuple[int, Any, str]:
        """Answer one (non-watch) request: (status, body, content type)."""
        q = {k: v[0] for k, v in query.items()}
        if path == "/version":
            major, minor = self.version.lstrip("v").split(".")[:2]
            return 200, {"major": major, "minor": minor, "gitVersion": self.version,
                         "gitCommit": "0" * 40, "gitTreeState": "clean",
                         "buildDate": "2025-04-22T16:03:20Z", "goVersion": "go1.23.8",
                         "compiler": "gc", "platform": "linux/amd64"}, "application/json"
        if path == "/api":
            return 200, {"kind": "APIVersions", "versions": ["v1"],
                         "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                                         "serverAddress": f"{self.host}:{self.port}"}]
                         }, "application/json"
        if path == "/apis":
            group = {"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
                     "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}}
            groups = [group] + [{"name": g, "versions": [{"groupVersion": f"{g}/v1",
                                                          "version": "v1"}],
                                 "preferredVersion": {"groupVersion": f"{g}/v1", "version": "v1"}}
                                for g in kubeobjects.GROUPS]
            return 200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}, \
                "application/json"
        if path.removeprefix("/apis/") in kubeobjects.GROUPS:
            g = path.removeprefix("/apis/")
            return 200, {"kind": "APIGroup", "apiVersion": "v1", "name": g,
                         "versions": [{"groupVersion": f"{g}/v1", "version": "v1"}],
                         "preferredVersion": {"groupVersion": f"{g}/v1", "version": "v1"}}, \
                "application/json"
        if path.removeprefix("/apis/").removesuffix("/v1") in kubeobjects.GROUPS:
            return 200, kubeobjects.GROUPS[path[len("/apis/"):-len("/v1")]], "application/json"
        if path == "/apis/apps":
            return 200, {"kind": "APIGroup", "apiVersion": "v1", "name": "apps",
                         "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
                         "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}}, \
                "application/json"
        if path == "/api/v1":
            return 200, CORE_V1, "application/json"
        if path == "/apis/apps/v1":
            return 200, APPS_V1, "application/json"

        m = re.fullmatch(r"/(?:api/v1|apis/(?:apps|discovery\.k8s\.io|networking\.k8s\.io)/v1)"
                         r"(?:/namespaces/([^/]+))?/([a-z]+)(?:/([^/]+))?(?:/([a-z]+))?", path)
        if not m or m.group(2) not in RESOURCES:
            if re.fullmatch(r"/api/v1/namespaces/[^/]+", path) and method == "GET":
                ns = path.rsplit("/", 1)[1]
                return 200, {"apiVersion": "v1", "kind": "Namespace",
                             "metadata": {"name": ns}, "status": {"phase": "Active"}}, \
                    "application/json"
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        ns, plural, name, sub = m.groups()
        group, version, kind, list_kind = RESOURCES[plural]
        api_version = f"{group}/{version}" if group else version
        if path.startswith("/api/v1") == bool(group) or (
                group and not path.startswith(f"/apis/{group}/")):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        gr = f"{plural}.{group}" if group else plural

        def not_found():
            raise ApiError(404, "NotFound", f'{gr} "{name}" not found',
                           {"name": name, "group": group, "kind": plural})

        with self._lock:
            if plural in ("endpoints", "endpointslices"):
                kubeobjects.sync_endpoints(self)  # the controllers, as of this read
            if name is None:
                if method != "GET":
                    raise ApiError(405, "MethodNotAllowed",
                                   f"{method} is not supported on {plural} here")
                items = [copy.deepcopy(o) for (ons, _), o in sorted(self._objects[plural].items())
                         if (ns is None or ons == ns)
                         and label_selector_matches(q.get("labelSelector", ""),
                                                    o["metadata"].get("labels"))
                         and field_selector_matches(q.get("fieldSelector", ""), o)]
                return 200, {"kind": list_kind, "apiVersion": api_version,
                             "metadata": {"resourceVersion": str(self._rv)},
                             "items": items}, "application/json"
            obj = self._objects[plural].get((ns, name))
            if obj is None:
                not_found()
            if sub == "log" and plural == "pods" and method == "GET":
                text = self._logs.get((ns, name), "")
                if "tailLines" in q:
                    n = int(q["tailLines"])
                    lines = text.splitlines(keepends=True)
                    text = "".join(lines[-n:]) if n > 0 else ""
                return 200, text, "text/plain"
            if sub not in (None, "status"):
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            if method == "GET":
                return 200, copy.deepcopy(obj), "application/json"
            if method == "PATCH":
                return 200, self._patch(plural, obj, sub, q, headers, body), "application/json"
            raise ApiError(405, "MethodNotAllowed", f"{method} is not supported here")

    def _patch(self, plural: str, obj: dict, sub: str | None, q: dict, headers: dict,
               body: bytes) -> dict:
        ctype = (headers.get("Content-Type") or "").split(";")[0].strip()
        try:
            patch = json.loads(body or b"null")
        except ValueError as exc:
            raise ApiError(400, "BadRequest", f"the patch is not JSON: {exc}")
        if ctype == "application/strategic-merge-patch+json":
            if plural not in RESOURCES:
                raise ApiError(415, "UnsupportedMediaType", "strategic merge not supported")
            new = strategic_merge(obj, patch)
        elif ctype == "application/merge-patch+json":
            new = merge_patch(obj, patch)
        elif ctype == "application/json-patch+json":
            new = json_patch(obj, patch if isinstance(patch, list) else [])
        else:
            raise ApiError(415, "UnsupportedMediaType",
                           'the body of the request was in an unknown format - accepted media '
                           'types include: application/json-patch+json, application/merge-patch'
                           '+json, application/apply-patch+yaml, application/strategic-merge-'
                           'patch+json')
        # Fields the server owns.
        for k in ("name", "namespace", "uid", "generation", "creationTimestamp"):
            if k in obj["metadata"]:
                new.setdefault("metadata", {})[k] = obj["metadata"][k]
        new["kind"], new["apiVersion"] = obj["kind"], obj["apiVersion"]
        if sub == "status":
            new = {**obj, "status": new.get("status", {})}
        else:
            new["status"] = copy.deepcopy(obj.get("status", {}))
        rv = q.get("resourceVersion") or (patch.get("metadata", {}).get("resourceVersion")
                                          if isinstance(patch, dict) else None)
        if rv and rv != obj["metadata"].get("resourceVersion"):
            raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on {plural} '
                           f'"{obj["metadata"]["name"]}": the object has been modified; please '
                           f'apply your changes to the latest version and try again')
        if new.get("spec") != obj.get("spec") and "generation" in obj["metadata"]:
            new["metadata"]["generation"] = obj["metadata"]["generation"] + 1
        if q.get("dryRun") == "All":
            return new
        manager = q.get("fieldManager") or _default_manager(headers.get("User-Agent", ""))
        if new != obj:
            fields = [e for e in new["metadata"].get("managedFields", [])
                      if not (e.get("manager") == manager and e.get("operation") == "Update"
                              and e.get("subresource") == sub)]
            entry = {"manager": manager, "operation": "Update",
                     "apiVersion": obj["apiVersion"], "time": _now(), "fieldsType": "FieldsV1",
                     "fieldsV1": _fields_v1(patch) if isinstance(patch, dict) else {}}
            if sub:
                entry["subresource"] = sub
            new["metadata"]["managedFields"] = fields + [entry]
        return copy.deepcopy(self._save(plural, new))

    def watch_events(self, path: str, q: dict[str, str], since: int):
        """Matching events newer than `since` (called with the lock held)."""
        m = re.fullmatch(r"/(?:api/v1|apis/apps/v1)(?:/watch)?(?:/namespaces/([^/]+))?/([a-z]+)"
                         r"(?:/([^/]+))?", path)
        ns, plural, name = m.groups() if m else (None, None, None)
        for e in self._events:
            if e.rv <= since or e.plural != plural or (ns and e.namespace != ns):
                continue
            if name and e.obj["metadata"]["name"] != name:
                continue
            if not label_selector_matches(q.get("labelSelector", ""),
                                          e.obj["metadata"].get("labels")):
                continue
            if not field_selector_matches(q.get("fieldSelector", ""), e.obj):
                continue
            yield e


def _default_manager(user_agent: str) -> str:
    return user_agent.split("/")[0] or "unknown"


def _fields_v1(patch: dict) -> dict:
    out = {}
    for k, v in patch.items():
        if k.startswith("$"):
            continue
        out[f"f:{k}"] = _fields_v1(v) if isinstance(v, dict) else {}
    return out


_SAFE = "bcdfghjklmnpqrstvwxz2456789"


def _template_hash(template: dict) -> str:
    digest = hashlib.sha256(json.dumps(_strip_hash(template), sort_keys=True).encode()).digest()
    return "".join(_SAFE[b % len(_SAFE)] for b in digest[:10])


def _strip_hash(template: dict) -> dict:
    t = copy.deepcopy(template)
    t.get("metadata", {}).get("labels", {}).pop("pod-template-hash", None)
    return t


def _same_template(a: dict, b: dict) -> bool:
    # Decoded into typed objects, as the API server does, a null field is an
    # absent one (`kubectl rollout undo` sends metadata.creationTimestamp null).
    return _without_nulls(_strip_hash(a)) == _without_nulls(_strip_hash(b))


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _revision(rs: dict) -> int:
    try:
        return int(rs["metadata"].get("annotations", {}).get("deployment.kubernetes.io/revision"))
    except (TypeError, ValueError):
        return 0


def _condition(obj: dict, type_: str) -> dict | None:
    return next((c for c in obj.get("status", {}).get("conditions", [])
                 if c.get("type") == type_), None)


def _set_condition(obj: dict, type_: str, status: str, reason: str, message: str) -> None:
    conds = obj.setdefault("status", {}).setdefault("conditions", [])
    now = _now()
    for c in conds:
        if c["type"] == type_:
            if (c["status"], c["reason"], c["message"]) != (status, reason, message):
                if c["status"] != status:
                    c["lastTransitionTime"] = now
                c.update(status=status, reason=reason, message=message, lastUpdateTime=now)
            return
    conds.append({"type": type_, "status": status, "reason": reason, "message": message,
                  "lastUpdateTime": now, "lastTransitionTime": now})


def _pod_ready(pod: dict) -> bool:
    c = _condition(pod, "Ready")
    return bool(c and c["status"] == "True")


def _pod_set_ready(pod: dict, ready: bool) -> None:
    now = _now()
    flag = "True" if ready else "False"
    st = pod["status"]
    old = {cs["name"]: cs for cs in st.get("containerStatuses", [])}
    st["conditions"] = [
        {"type": "Initialized", "status": "True", "lastTransitionTime": now},
        {"type": "Ready", "status": flag, "lastTransitionTime": now},
        {"type": "ContainersReady", "status": flag, "lastTransitionTime": now},
        {"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
    ]
    st["containerStatuses"] = [{
        "name": c["name"], "image": c.get("image", ""),
        "imageID": f"{c.get('image', '')}@sha256:{'0' * 64}",
        "containerID": f"containerd://{hashlib.sha1((pod['metadata']['name'] + c['name']).encode()).hexdigest()}",
        "ready": ready, "started": ready,
        "restartCount": old.get(c["name"], {}).get("restartCount", 0),
        "state": ({"running": {"startedAt": now}} if ready
                  else {"waiting": {"reason": "ContainerCreating"}}),
    } for c in pod["spec"]["containers"]]


# --- the real kubectl against it ---------------------------------------------------

PLUGIN = Path(__file__).with_name("execplugin.py")


def kubectl_runner(kube: KubeServer, kubectl_bin: str, tmp_path: Path, namespace: str = "shop"):
    """run(*args): kubectl against `kube` with a cold, private discovery cache."""
    config = kube.write_kubeconfig(tmp_path / "kubeconfig", namespace=namespace)
    env = {**os.environ, "HOME": str(tmp_path / "home"),
           "KUBECACHEDIR": str(tmp_path / "kubecache")}
    env.pop("KUBECONFIG", None)

    def run(*args: str, timeout: float = 25, popen: bool = False):
        cmd = [kubectl_bin, "--kubeconfig", str(config), *args]
        if popen:
            return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)

    return run


class Plugin:
    """The exec plugin's kubeconfig stanza and the log of its runs."""

    def __init__(self, server: KubeServer, tmp_path: Path) -> None:
        self.log = tmp_path / "plugin-runs.jsonl"
        self.log.touch()
        self.spec = {
            "apiVersion": "client.authentication.k8s.io/v1", "command": str(PLUGIN),
            "args": ["--region", "test"], "interactiveMode": "IfAvailable",
            "env": [{"name": "KS_URL", "value": server.url},
                    {"name": "KS_LOG", "value": str(self.log)}],
        }

    def runs(self) -> list[dict]:
        return [json.loads(line) for line in self.log.read_text().splitlines() if line]


# --- HTTP ---------------------------------------------------------------------------

def _handler_for(server: KubeServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # keep-alive + delayed ACK would cost 40 ms a request
        server_version = "kubeserver"

        def log_message(self, *args) -> None:
            pass

        def _dispatch(self) -> None:
            url = urlparse(self.path)
            query = parse_qs(url.query, keep_blank_values=True)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            rec = Recorded(self.command, url.path, query, dict(self.headers.items()), body,
                           raw_path=self.path)
            if url.path == "/_test/token" and server.auth is not None:
                if server.auth.fail_plugin:
                    return self._send(403, {"error": server.auth.fail_plugin}, "application/json")
                return self._send(200, server.auth.issue(), "application/json")
            auth = self.headers.get("Authorization") or ""
            if auth.startswith("Bearer "):
                rec.token = auth[len("Bearer "):]
            with server._lock:
                server.requests.append(rec)
            if server.auth is not None:
                rec.token_live = server.auth.live(rec.token)
                if not rec.token_live:
                    rec.status = 401
                    return self._send(401, _status(401, "Unauthorized", "Unauthorized"),
                                      "application/json")
            failure = server._injected(self.command, url.path)
            if failure is not None:
                rec.status = failure.code
                return self._send(failure.code, failure.body, "application/json")
            q = {k: v[0] for k, v in query.items()}
            if _EXEC_PATH.fullmatch(url.path) and self.command in ("GET", "POST"):
                return self._exec(rec, url.path, query)
            if self.command == "GET" and (q.get("watch") in ("true", "1")
                                          or "/watch/" in url.path):
                rec.status = 200
                return self._watch(url.path.replace("/watch/", "/", 1), q)
            try:
                code, payload, ctype = server.handle(self.command, url.path, query,
                                                     rec.headers, body)
            except ApiError as exc:
                code, payload, ctype = exc.code, exc.body, "application/json"
            except Exception as exc:  # a bug in the fixture: say so loudly
                code, payload, ctype = 500, _status(500, "InternalError",
                                                    f"kubeserver: {exc!r}"), "application/json"
            rec.status = code
            self._send(code, payload, ctype)

        do_GET = do_PATCH = do_POST = do_PUT = do_DELETE = _dispatch

        def _send(self, code: int, payload: Any, ctype: str) -> None:
            data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-cache, private")
            self.end_headers()
            self.wfile.write(data)

        def _exec(self, rec: Recorded, path: str, query: dict[str, list[str]]) -> None:
            ns, pod = _EXEC_PATH.fullmatch(path).groups()
            try:
                plan = _exec_plan(server, ns, pod, query, self.headers)
            except ApiError as exc:
                rec.status = exc.code
                return self._send(exc.code, exc.body, "application/json")
            protocol, frames = plan
            key = self.headers.get("Sec-WebSocket-Key", "")
            accept = base64.b64encode(hashlib.sha1((key + _WS_GUID).encode()).digest()).decode()
            rec.status = 101
            self.close_connection = True
            self.send_response(101)
            self.send_header("Upgrade", "websocket")
            self.send_header("Connection", "Upgrade")
            self.send_header("Sec-WebSocket-Accept", accept)
            self.send_header("Sec-WebSocket-Protocol", protocol)
            self.end_headers()
            try:
                # As a kubelet: the process answers after the upgrade, not in
                # the same packet (kubectl drops output for a stream it has not
                # set up yet: "Unknown stream id").
                self.wfile.flush()
                time.sleep(0.05)
                for channel, data in frames:
                    self.wfile.write(_ws_frame(0x2, bytes([channel]) + data))
                self.wfile.write(_ws_frame(0x8, (1000).to_bytes(2, "big")))
                self.wfile.flush()
                _ws_drain(self.connection, self.rfile)
            except OSError:
                pass

        def _watch(self, path: str, q: dict[str, str]) -> None:
            self.close_connection = True
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            timeout = min(float(q.get("timeoutSeconds") or 1800), 1800)
            deadline = time.monotonic() + timeout
            rv = q.get("resourceVersion", "")
            initial = q.get("sendInitialEvents") == "true"

            def chunk(event: dict) -> None:
                data = json.dumps(event).encode() + b"\n"
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()

            try:
                with server._lock:
                    last = server._rv
                    start: list[dict] = []
                    if rv in ("", "0") or initial:
                        status, listing, _ = server.handle("GET", path, {k: [v] for k, v in
                                                                         q.items()}, {}, b"")
                        start = [{"type": "ADDED", "object": o} for o in listing.get("items", [])]
                        if initial:
                            start.append({"type": "BOOKMARK", "object": {
                                "kind": listing["kind"][:-4], "apiVersion": listing["apiVersion"],
                                "metadata": {"resourceVersion": str(last), "annotations": {
                                    "k8s.io/initial-events-end": "true"}}}})
                    else:
                        last = int(rv)
                for e in start:
                    chunk(e)
                while not server._stopped.is_set() and time.monotonic() < deadline:
                    with server._changed:
                        events = list(server.watch_events(path, q, last))
                        if not events:
                            server._changed.wait(0.5)
                            continue
                        last = events[-1].rv
                    for e in events:
                        chunk({"type": e.type, "object": e.obj})
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError, OSError):
                pass

    return Handler


# --- pod exec over WebSocket (RFC 6455, the Kubernetes channel protocol) ----------

ExecHandler = Callable[[list[str]], tuple[int, str, str]]
_EXEC_PATH = re.compile(r"/api/v1/namespaces/([^/]+)/pods/([^/]+)/exec")
_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
# Server preference does not matter: like the API server, the first protocol
# the client offers that is known here wins.
_WS_PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")


class ExecFailure(Exception):
    """A kubelet error running the command: an InternalError Status on the
    error channel, as `error executing command in container: ...`."""


def not_found(command: list[str]) -> ExecFailure:
    """What containerd + runc say for an executable not in the image."""
    return ExecFailure(
        'failed to exec in container: failed to start exec "0f3c9a": OCI runtime exec failed: '
        "exec failed: unable to start container process: exec: "
        f'"{command[0]}": executable file not found in $PATH: unknown')


def default_exec(command: list[str]) -> tuple[int, str, str]:
    if command[0] == "echo":
        return 0, " ".join(command[1:]) + "\n", ""
    if command[0] in ("true", "false"):
        return (0 if command[0] == "true" else 1), "", ""
    raise not_found(command)


def exec_status(exit_code: int) -> dict:
    """The error channel's Status for an exit code (kubelet's remotecommand)."""
    if exit_code == 0:
        return {"metadata": {}, "status": "Success"}
    return {"metadata": {}, "status": "Failure",
            "message": f"command terminated with non-zero exit code: exit status {exit_code}",
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": str(exit_code)}]}}


def _exec_plan(server: KubeServer, ns: str, pod: str, query: dict[str, list[str]],
               headers: Any) -> tuple[str, list[tuple[int, bytes]]]:
    """Check an exec request as the API server would and run the handler:
    (negotiated protocol, the frames to send), or ApiError for an HTTP answer."""
    if server.get("pods", ns, pod) is None:
        raise ApiError(404, "NotFound", f'pods "{pod}" not found',
                       {"name": pod, "kind": "pods"})
    command = query.get("command") or []
    if not command:
        raise ApiError(400, "BadRequest", "you must specify at least 1 command")
    if "websocket" not in (headers.get("Upgrade") or "").lower():
        raise ApiError(400, "BadRequest", "kubeserver speaks exec over WebSocket only "
                       f"(not {headers.get('Upgrade') or 'plain HTTP'})")
    offered = [p.strip() for p in (headers.get("Sec-WebSocket-Protocol") or "").split(",")]
    protocol = next((p for p in offered if p in _WS_PROTOCOLS), None)
    if protocol is None:
        raise ApiError(400, "BadRequest", f"requested protocol(s) are not supported: "
                       f"{offered}; supports {list(_WS_PROTOCOLS)}")
    flag = {k: (v or [""])[0] in ("true", "1") for k, v in query.items()}
    try:
        code, out, err = server.exec_handler(ns, pod)(list(command))
        status = exec_status(code)
    except ExecFailure as exc:
        out = err = ""
        message = f"error executing command in container: {exc}"
        status = {"metadata": {}, "status": "Failure", "code": 500, "reason": "InternalError",
                  "message": f"Internal error occurred: {message}",
                  "details": {"causes": [{"message": message}]}}
    frames = []
    if out and flag.get("stdout"):
        frames.append((1, out.encode()))
    if err and flag.get("stderr"):
        frames.append((2, err.encode()))
    frames.append((3, json.dumps(status).encode()))
    return protocol, frames


def _ws_frame(opcode: int, payload: bytes) -> bytes:
    """One final, unmasked server frame."""
    n = len(payload)
    if n < 126:
        head = bytes([0x80 | opcode, n])
    elif n < 1 << 16:
        head = bytes([0x80 | opcode, 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([0x80 | opcode, 127]) + n.to_bytes(8, "big")
    return head + payload


def _ws_read(rfile: Any) -> tuple[int, bytes] | None:
    """One client frame (masked, as RFC 6455 requires): (opcode, payload)."""
    head = rfile.read(2)
    if len(head) < 2:
        return None
    n = head[1] & 0x7F
    if n == 126:
        n = int.from_bytes(rfile.read(2), "big")
    elif n == 127:
        n = int.from_bytes(rfile.read(8), "big")
    mask = rfile.read(4) if head[1] & 0x80 else b"\0\0\0\0"
    data = rfile.read(n)
    return head[0] & 0x0F, bytes(b ^ mask[i % 4] for i, b in enumerate(data))


def _ws_drain(sock: Any, rfile: Any, timeout: float = 2.0) -> None:
    """After our close frame: read until the client's close (or EOF)."""
    sock.settimeout(timeout)
    while (frame := _ws_read(rfile)) is not None:
        if frame[0] == 0x8:
            return
