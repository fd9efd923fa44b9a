"""Snapshots of the board and the detail pane on the demo fleet at a fixed
clock and seed (screenshots/scenes.py). Review any changed SVG by eye."""

from __future__ import annotations

import pytest

from screenshots.scenes import SCENES, SIZE, build

pytestmark = [pytest.mark.ui, pytest.mark.slow]


@pytest.mark.parametrize("name", sorted(SCENES))
def test_scene(snap_compare, name):
    app, run_before = build(SCENES[name])
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
