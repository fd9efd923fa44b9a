"""What curl or wget said when a fetch failed, in plain words: certificate
expired / unknown authority / hostname mismatch, connection refused, timed
out, DNS failure. Read from the tools' own messages (curl 7.x-8.x with
OpenSSL, GNU wget with GnuTLS or OpenSSL, BusyBox wget), their exit codes
where the message says nothing (`wget -q`)."""

from __future__ import annotations

EXPIRED = "TLS: certificate expired"
UNKNOWN_AUTHORITY = "TLS: certificate from an unknown authority (not trusted)"
HOSTNAME_MISMATCH = "TLS: certificate hostname mismatch (issued for another name)"
REFUSED = "connection refused (nothing listens, or a policy rejects it)"
TIMED_OUT = "timed out"
DNS = "DNS failure: the host name does not resolve in the pod"

# (words, phrases any of which names it), checked in this order: wget says
# "not trusted" before "has expired" for an expired certificate.
_PHRASES = (
    (EXPIRED, ("certificate has expired", "has expired", "certificate expired")),
    (HOSTNAME_MISMATCH, ("subject name matches", "does not match target host",
                         "does not match hostname", "doesn't match", "hostname mismatch",
                         "not match the host")),
    (UNKNOWN_AUTHORITY, ("self-signed", "self signed", "unable to get local issuer",
                         "known issuer", "not trusted", "unknown authority", "unknown ca",
                         "verify the issuer")),
    (DNS, ("could not resolve host", "unable to resolve host", "name or service not known",
           "bad address", "temporary failure in name resolution")),
    (REFUSED, ("connection refused", "couldn't connect to server")),
    (TIMED_OUT, ("timed out", "timeout")),
)
CURL_CODES = {6: DNS, 7: REFUSED, 28: TIMED_OUT, 35: "TLS handshake failed",
              51: HOSTNAME_MISMATCH, 60: "TLS: certificate not verified"}
WGET_CODES = {4: "network failure", 5: "TLS: certificate not verified"}


def plain_words(tool: str, exit_code: int | None, said: str) -> str | None:
    """The plain words for what `tool` said (its whole stderr), or None
    when neither its message nor its exit code names a known failure."""
    lowered = said.lower()
    for words, phrases in _PHRASES:
        if any(p in lowered for p in phrases):
            return words
    codes = CURL_CODES if tool == "curl" else WGET_CODES
    return codes.get(exit_code) if exit_code is not None else None


def first_line(said: str) -> str:
    return next((line.strip() for line in said.splitlines() if line.strip()), "")
