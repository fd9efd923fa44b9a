"""A secret kept in a file that is replaced while the console runs: a projected
service-account token (the kubelet rotates it hourly by writing a new
`..2024_…` directory and swapping the `..data` symlink), or a token a sidecar
renews. Shared by the Prometheus client and the flag service.

The file is read again whenever it changed, checked per use by a stat of the
path (symlinks followed) and of where it resolves to: cheap, and a symlink
swap changes both. `reread()` reads it regardless, for a 401. Every value
read is handed to console.secrets at once, so it is masked before anything
could print it.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from console import secrets
from console.sources.base import SourceError


class TokenFile:
    """The current content of one secret file, re-read when it changes."""

    def __init__(self, path: str | Path, what: str, *, error: type[SourceError] = SourceError,
                 header_safe: bool = True) -> None:
        self.path = Path(path)
        self.what = what  # "bearer token", "flag service token": for messages
        self._error = error
        self._header_safe = header_safe  # sent as-is in a header (a password is encoded)
        self._lock = threading.Lock()
        self._seen: tuple | None = None
        self._value: str | None = None

    def read(self) -> str:
        """The token, read again only when the file changed since last time."""
        with self._lock:
            seen = self._stat()
            if self._value is None or seen != self._seen:
                self._value, self._seen = self._load(), seen
            return self._value

    def reread(self) -> str:
        """The token read now, whatever the stat says (the server refused the
        cached one: a change within the stat's granularity, or a race)."""
        with self._lock:
            seen = self._stat()
            self._value, self._seen = self._load(), seen
            return self._value

    def _stat(self) -> tuple:
        try:
            st = os.stat(self.path)
            target = os.path.realpath(self.path)
        except OSError as exc:
            raise self._error(self._cannot(exc)) from None
        return target, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns

    def _load(self) -> str:
        try:
            value = self.path.read_text().strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise self._error(self._cannot(exc)) from None
        if not value:
            raise self._error(f"{self.what}: {self.path} is empty")
        secrets.remember(value)  # masked in errors, the journal and exports from now on
        if self._header_safe and not all(33 <= ord(c) < 127 for c in value):
            raise self._error(
                f"{self.what} from {self.path} has characters an HTTP header cannot carry")
        return value

    def _cannot(self, exc: Exception) -> str:
        why = getattr(exc, "strerror", None) or "not text"
        return f"{self.what}: cannot read {self.path}: {why}"

    def __repr__(self) -> str:
        return f"TokenFile({str(self.path)!r})"
