from pathlib import Path

import pytest

from console.paths import state_dir

pytestmark = pytest.mark.unit


def test_demo_state_is_kept_apart_from_real_incidents(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    real, demo = state_dir(demo=False), state_dir(demo=True)
    assert real != demo and not real.is_relative_to(demo)
    assert real.is_relative_to(tmp_path)
    override = Path(tmp_path / "x")
    assert state_dir(demo=True, override=override) == override / "demo"
    assert state_dir(demo=False, override=override) == override
