#!/usr/bin/env python3
"""A kubeconfig exec credential plugin for the tests (stdlib only).

It asks the Kubernetes API test server for a token (POST $KS_URL/_test/token)
and prints a client.authentication.k8s.io/v1 ExecCredential, as
`aws eks get-token` does. Each run appends a line to $KS_LOG: the
KUBERNETES_EXEC_INFO it was given and whether stdin was a terminal.

With $KS_PROMPT set it is a plugin that asks for input, as kubelogin's device
code or an MFA prompt does: when run interactively (`spec.interactive` and a
terminal on stdin) it writes "$KS_PROMPT: " on stderr and reads a line, which
must be $KS_CODE; without a terminal it fails asking to be run interactively.
"""

import json
import os
import sys
import urllib.error
import urllib.request


def main() -> int:
    info = json.loads(os.environ.get("KUBERNETES_EXEC_INFO") or "{}")
    with open(os.environ["KS_LOG"], "a") as log:
        log.write(json.dumps({"info": info, "stdin_tty": os.isatty(0),
                              "stdin_open": _stdin_open()}) + "\n")
    prompt = os.environ.get("KS_PROMPT")
    if prompt:
        if not (info.get("spec") or {}).get("interactive") or not os.isatty(0):
            print(f"error: {prompt} needed: run me interactively", file=sys.stderr)
            return 1
        sys.stderr.write(f"{prompt}: ")
        sys.stderr.flush()
        answer = sys.stdin.readline().strip()
        if answer != os.environ.get("KS_CODE", ""):
            print("error: wrong code", file=sys.stderr)
            return 1
    try:
        with urllib.request.urlopen(urllib.request.Request(
                os.environ["KS_URL"] + "/_test/token", method="POST", data=b""), timeout=10) as r:
            status = json.loads(r.read())
    except urllib.error.HTTPError as exc:
        print(f"error: login failed: {json.loads(exc.read()).get('error')}", file=sys.stderr)
        return 1
    print(json.dumps({"apiVersion": "client.authentication.k8s.io/v1",
                      "kind": "ExecCredential", "status": status}))
    return 0


def _stdin_open() -> bool:
    """Whether stdin gives anything but EOF at once (/dev/null gives EOF)."""
    try:
        return os.fstat(0) is not None and not os.path.samefile("/dev/null", "/proc/self/fd/0")
    except OSError:
        return False


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # Ctrl-C at the prompt: quiet, as a Go plugin dies
        sys.exit(130)
