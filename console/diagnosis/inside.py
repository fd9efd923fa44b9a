"""The health check from inside a caller pod (runbook Diagnosis 2:
`kubectl exec -it api-pod -- curl http://payment-api:8080/health`), through
the same exec call as the dependency checks, with whatever the image has:
curl, else wget, else it says so. One argv word each, never a shell."""

from __future__ import annotations

import logging

from console.diagnosis.clusterview import InsideCheck
from console.diagnosis.findings import EXEC_TIMEOUT, WorkloadView
from console.diagnosis.networds import first_line, plain_words
from console.errors import SourceError
from console.model.servicemap import ServiceTarget

log = logging.getLogger(__name__)

MAX_TIME_S = 3  # curl --max-time / wget -T: under EXEC_TIMEOUT
# curl's exit codes (man curl, EXIT CODES) in plain words.
CURL_WORDS = {
    6: "the host name does not resolve in the pod",
    7: "connection refused (nothing listens, or a policy rejects it)",
    28: f"no answer within {MAX_TIME_S} s",
    35: "TLS handshake failed",
    51: "TLS: the server's certificate does not match its name",
    52: "the server closed the connection without answering",
    56: "the connection broke off while reading the answer",
    60: "TLS: the server's certificate is not trusted (unknown issuer or expired)",
}


def curl_command(url: str) -> list[str]:
    return ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{time_total}",
            "--max-time", str(MAX_TIME_S), url]


def wget_command(url: str) -> list[str]:
    """BusyBox and GNU wget alike: -S prints the status line on stderr."""
    return ["wget", "-q", "-S", "-O", "/dev/null", "-T", str(MAX_TIME_S), url]


def _curl(url: str, pod: str, result) -> InsideCheck:
    if result.exit_code == 0:
        parts = result.stdout.split()
        try:
            status, seconds = int(parts[0]), float(parts[1])
        except (IndexError, ValueError):
            return InsideCheck(url, pod, "curl", error=f"curl said {result.stdout.strip()!r}")
        if status == 0:
            return InsideCheck(url, pod, "curl", error="no HTTP answer")
        return InsideCheck(url, pod, "curl", status=status, latency_ms=seconds * 1000)
    said = first_line(result.stderr)
    words = (plain_words("curl", result.exit_code, result.stderr)
             or CURL_WORDS.get(result.exit_code) or said or f"curl exited {result.exit_code}")
    if said and words != said:
        words += f" ({said})"
    return InsideCheck(url, pod, "curl", error=words)


def _wget(url: str, pod: str, result) -> InsideCheck:
    status = None
    for line in (result.stderr + "\n" + result.stdout).splitlines():
        words = line.split()
        if len(words) >= 2 and words[0].startswith("HTTP/") and words[1].isdigit():
            status = int(words[1])  # the last one, after redirects
    if status is not None:
        return InsideCheck(url, pod, "wget", status=status,
                           error=None if result.exit_code in (0, 1, 8) else
                           f"wget exited {result.exit_code}")
    said = first_line(result.stderr) or f"wget exited {result.exit_code}"
    words = plain_words("wget", result.exit_code, result.stderr)
    if words is None and any(w in said.lower() for w in ("certificate", "ssl", "tls")):
        words = "TLS failed"
    return InsideCheck(url, pod, "wget", error=f"{words} ({said})" if words else said)


def check_inside(cluster, target: ServiceTarget, caller: WorkloadView,
                 unavailable: str = "no cluster") -> InsideCheck | None:
    """curl (else wget) of the health URL from the first ready caller pod."""
    url = target.health_url
    if not url:
        return None
    if cluster is None:
        return InsideCheck(url, None, None, error=unavailable)
    pod = next((p.name for p in caller.pods if p.ready), None)
    if pod is None:
        return InsideCheck(url, None, None, error=caller.why_unread("pods")
                           or f"no ready {caller.name} pod to check from")
    return fetch(cluster, target.namespace, pod, url)


def fetch(cluster, namespace: str, pod: str, url: str, wget=wget_command) -> InsideCheck:
    """`url` fetched in `pod` with curl, else wget (`wget` makes its argv)."""
    for tool, command, read in (("curl", curl_command(url), _curl),
                                ("wget", wget(url), _wget)):
        try:
            result = cluster.exec_in_pod(namespace, pod, command, timeout=EXEC_TIMEOUT)
        except SourceError as exc:
            return InsideCheck(url, pod, None, error=str(exc))
        if result.missing_executable:
            continue
        if result.exit_code is None:
            return InsideCheck(url, pod, tool,
                               error=f"{tool} gave no answer within {EXEC_TIMEOUT:g} s")
        return read(url, pod, result)
    return InsideCheck(url, pod, None, error=f"neither curl nor wget is in the image of {pod}")
