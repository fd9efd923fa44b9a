"""The interfaces the screens read and act through live in console.ports;
the names stay importable from here for the adapters."""

from __future__ import annotations

from console.errors import SourceError, Unavailable
from console.ports import BreakerSource, ClusterSource, FlagSource

__all__ = ["BreakerSource", "ClusterSource", "FlagSource", "SourceError", "Unavailable"]
