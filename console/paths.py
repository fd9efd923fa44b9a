"""Where cbconsole keeps its files. The demo fleet gets a directory of its own,
so a demo incident can never be mistaken for, or mixed into, a real one."""

from __future__ import annotations

from pathlib import Path

import platformdirs

APP = "cbconsole"


def state_dir(*, demo: bool, override: Path | None = None) -> Path:
    """The incident journal's directory: `override` (--state-dir) or the user
    state dir, with the demo's journal in a `demo` subdirectory of either."""
    base = override if override is not None else Path(platformdirs.user_state_dir(APP))
    return base / "demo" if demo else base


def config_file() -> Path:
    return Path(platformdirs.user_config_dir(APP)) / "config.toml"
