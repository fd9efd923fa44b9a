"""Shared fixtures. Every test runs with its own config and state dirs and no
CBCONSOLE_* variables, so a developer's own setup never leaks in."""

from __future__ import annotations

import gc
import os
import shutil

import pytest


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("home")
    for name in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(name, str(home / name.lower()))
    for name in list(os.environ):
        if name.startswith("CBCONSOLE_"):
            monkeypatch.delenv(name)
    from widgets.text import set_zone

    set_zone("UTC")  # a test that showed another zone leaves none behind
    # cli.main sets the collector up for a long session (long_session_gc) and
    # cbconsole sets PYDANTIC_DISABLE_PLUGINS: neither outlives the test.
    monkeypatch.setenv("PYDANTIC_DISABLE_PLUGINS", "-")  # recorded, so undone after the test
    monkeypatch.delenv("PYDANTIC_DISABLE_PLUGINS")
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.fixture
def kubectl_bin() -> str:
    path = shutil.which("kubectl")
    if path is None:
        pytest.fail("kubectl is not on PATH: these tests check the Kubernetes test server "
                    "against the real kubectl (install kubectl, e.g. google-cloud-sdk's)")
    return path
