"""Appending to a journal file so that it is on disk when the call returns:
fsync'd, a new file's directory too, and no half line left behind."""

from __future__ import annotations

import os
from contextlib import suppress
from pathlib import Path
from typing import Callable

#: Appends bytes to a file, durably, or raises OSError. Injectable, so tests
#: can run out of disk space without a small filesystem.
Writer = Callable[[Path, bytes], None]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def append_durably(path: Path, data: bytes) -> None:
    """Append `data`, then fsync (and the directory, for a new file). On a
    failure the file is cut back to its old size: no half line stays behind
    for the next event to be glued onto."""
    new = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        size = os.fstat(fd).st_size
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        except OSError:
            with suppress(OSError):
                os.ftruncate(fd, size)
            raise
    finally:
        os.close(fd)
    if new:
        _fsync_dir(path.parent)
