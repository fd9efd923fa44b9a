#!/usr/bin/env python3
"""A kubeconfig exec credential plugin for the tests (stdlib only).

It asks the Kubernetes API test server for a token (POST $KS_URL/_test/token)
and prints a client.authentication.k8s.io/v1 ExecCredential, as
`aws eks get-token` does. Each run appends a line to $KS_LOG: the
KUBERNETES_EXEC_INFO it was given and whether stdin was a terminal.
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
    sys.exit(main())
