"""Hand freed memory back to the system after a poll. glibc keeps what a
poll's answers took (megabytes at 5,000 breakers, in each thread's arena)
for the next one, so RSS stays at the peak of every poll at once."""

from __future__ import annotations

import ctypes
import ctypes.util


def _libc_trim():
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to hand back
        return None


_malloc_trim = _libc_trim()


def trim() -> None:
    """malloc_trim(0): through ctypes.CDLL, so without the GIL."""
    if _malloc_trim is not None:
        _malloc_trim(0)
