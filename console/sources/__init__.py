"""Data sources behind the three interfaces in `base`."""

from console.sources.base import (
    BreakerSource,
    ClusterSource,
    FlagSource,
    SourceError,
    Unavailable,
)

__all__ = ["BreakerSource", "ClusterSource", "FlagSource", "SourceError", "Unavailable"]
