"""`kubectl exec POD -- COMMAND` over the WebSocket channel protocol (the
exit code from the error channel's Status), bounded in time as a whole."""

from __future__ import annotations

import json
import logging
import threading
from types import SimpleNamespace
from typing import Any

from console.errors import TimedOut, first_line
from console.model.fleet import EXIT_NOT_FOUND, ExecResult
from console.sources.base import SourceError
from console.sources.deadline import Deadline, watch
from console.sources.kube.errors import cause_chain, handshake_status
from console.sources.kube.session import POD_EXEC, KubeApi

log = logging.getLogger(__name__)

# The kubelet's words (runc, crun, docker) for an executable not in the image.
_NOT_FOUND_WORDS = ("executable file not found", "no such file or directory")


def exec_in_pod(api: KubeApi, namespace: str, pod: str, command: list[str],
                timeout: float = 5.0) -> ExecResult:
    """`kubectl exec POD -- COMMAND` over the WebSocket channel protocol;
    the exit code comes from the error channel's Status. A missing
    executable is exit_code 127 (the runtime's words in stderr)."""
    outcome: list = []
    # The command's own time, plus a request's deadline for the handshake.
    total = timeout + api.deadline
    timed_out = TimedOut(api.timed_out(total, f"exec in pod {pod}: "), total)

    def run() -> None:
        try:
            with Deadline(total) as deadline:
                try:
                    result = _exec(api, namespace, pod, list(command), timeout)
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


def _exec(api: KubeApi, namespace: str, pod: str, command: list[str],
          timeout: float) -> ExecResult:
    from kubernetes.stream import stream

    for retried in (False, True):
        try:
            ws = stream(api.exec_api().connect_get_namespaced_pod_exec, pod, namespace,
                        command=command, stdin=False, stdout=True, stderr=True, tty=False,
                        _preload_content=False, _request_timeout=timeout)
            watch(getattr(getattr(ws, "sock", None), "sock", None))  # the deadline's
            break
        except api.api_exception as exc:
            # Refused at the handshake: the command never ran, so once more.
            unauthorized = handshake_status(exc) == 401
            if unauthorized and not retried and api.refused():
                continue
            words = (api.unauthorized(retried) if unauthorized
                     else _refused_words(api, exc, namespace, pod))
            raise SourceError(api.scrub(words)) from None
    try:
        ws.run_forever(timeout=timeout)
        finished = not ws.is_open()
        stdout, stderr = ws.read_channel(1), ws.read_channel(2)
        status = ws.read_channel(3) if finished else ""
    except Exception as exc:  # noqa: BLE001 - the websocket broke off midway
        log.warning("exec in pod %s: the stream broke off", pod, exc_info=True)
        raise SourceError(api.scrub(f"exec in pod {pod}: the stream broke off: "
                                    f"{type(exc).__name__}")) from None
    finally:
        ws.close()
    if not finished:
        return ExecResult(exit_code=None, stdout=stdout, stderr=stderr)
    return _exec_result(api, pod, status, stdout, stderr)


def _exec_result(api: KubeApi, pod: str, status_text: str, stdout: str,
                 stderr: str) -> ExecResult:
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
    raise SourceError(api.scrub(f"exec in pod {pod} failed: "
                                f"{first_line(message) or 'no reason given'}"))


def _refused_words(api: KubeApi, exc: Any, namespace: str, pod: str) -> str:
    """The handshake's failure: an HTTP answer in place of 101 Switching
    Protocols, or no answer at all, in the words of the other calls."""
    from websocket import WebSocketBadStatusException, WebSocketTimeoutException

    chain = cause_chain(exc)
    bad = next((e for e in chain if isinstance(e, WebSocketBadStatusException)), None)
    if bad is not None:
        answer = SimpleNamespace(status=bad.status_code, body=bad.resp_body,
                                 reason=getattr(bad, "status_message", "") or "")
        return api.api_message(answer, "create", POD_EXEC, namespace, pod)
    if any(isinstance(e, WebSocketTimeoutException) for e in chain):
        return f"API server at {api.server} unreachable: no answer within {api.timeout:g} s"
    if len(chain) > 1:  # the client wraps what the socket raised
        return f"API server at {api.server} unreachable: {api.network_words(chain[1])}"
    return f"exec in pod {pod} failed: {first_line(getattr(exc, 'reason', exc))}"
