"""Real HTTPS servers for the URL-dependency checks: certificates made by the
real openssl (a test CA; a good, an expired and a wrong-name certificate it
signs; a self-signed one), servers that answer on them, one that accepts and
never answers, and a pod's exec handler that runs the console's argv with the
real curl / wget of this host, trusting the test CA as a company image would
(curl: CURL_CA_BUNDLE; wget: ca_certificate in its WGETRC)."""

from __future__ import annotations

import http.server
import os
import socket
import ssl
import subprocess
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.kubeserver import not_found

CA_CONFIG = """[ca]
default_ca = test
[test]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = names
unique_subject = no
[names]
commonName = supplied
"""


def _openssl(directory: Path, *args: str) -> None:
    subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)


@dataclass(frozen=True)
class Certs:
    directory: Path

    @property
    def ca(self) -> Path:
        return self.directory / "ca.pem"

    def pair(self, name: str) -> tuple[Path, Path]:
        return self.directory / f"{name}.pem", self.directory / f"{name}.key"


def make_certs(directory: Path) -> Certs:
    """ca; good (localhost, valid); expired (localhost, January 2020);
    other (other.example only); self (self-signed localhost)."""
    directory.mkdir(parents=True, exist_ok=True)
    d = directory
    _openssl(d, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
             "-out", "ca.pem", "-days", "30", "-subj", "/CN=cbconsole test CA")
    (d / "localhost.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    (d / "other.ext").write_text("subjectAltName=DNS:other.example\n")
    for name, cn in (("good", "localhost"), ("expired", "localhost"),
                     ("other", "other.example")):
        _openssl(d, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
                 "-out", f"{name}.csr", "-subj", f"/CN={cn}")
    for name, ext in (("good", "localhost.ext"), ("other", "other.ext")):
        _openssl(d, "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", f"{name}.pem", "-days", "30", "-extfile", ext)
    # x509 -req cannot date a certificate in the past; `openssl ca` can.
    (d / "ca.cnf").write_text(CA_CONFIG)
    (d / "index.txt").write_text("")
    (d / "serial").write_text("01\n")
    _openssl(d, "ca", "-config", "ca.cnf", "-batch", "-notext", "-cert", "ca.pem",
             "-keyfile", "ca.key", "-in", "expired.csr", "-out", "expired.pem",
             "-startdate", "20200101000000Z", "-enddate", "20200201000000Z",
             "-extfile", "localhost.ext")
    _openssl(d, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "self.key",
             "-out", "self.pem", "-days", "30", "-subj", "/CN=localhost",
             "-addext", "subjectAltName=DNS:localhost")
    return Certs(d)


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = b'{"status":"ok"}' if self.status < 400 else b'{"status":"down"}'
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@contextmanager
def https_server(cert: Path, key: str | Path, status: int = 200):
    """An HTTPS server on 127.0.0.1 answering GET with `status`; yields its port."""
    handler = type("Health", (_Health,), {"status": status})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@contextmanager
def silent_server():
    """Accepts TCP connections and never says a word (a hung upstream)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pod_exec(certs: Certs, present: tuple[str, ...] = ("curl", "wget")):
    """An exec handler for tests/kubeserver.py: the argv run for real (no
    shell) with this host's curl / wget, as in an image holding `present`."""
    wgetrc = certs.directory / "wgetrc"
    wgetrc.write_text(f"ca_certificate = {certs.ca}\n")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(certs.directory),
           "CURL_CA_BUNDLE": str(certs.ca), "WGETRC": str(wgetrc)}

    def run(command: list[str]) -> tuple[int, str, str]:
        if not command or command[0] not in present:
            raise not_found(command)
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=30)
        return done.returncode, done.stdout, done.stderr
    return run
