"""Bad input on the command line or in the config file: one clear message on
stderr naming what to change (the flag, or the file and line), exit 2, and
never a Python traceback. Run through the real entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from console.cli import main

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent


def cbconsole(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """`python -m console ARGS` as a user runs it, in this test's isolated
    environment (conftest), with no terminal: it must answer before any UI."""
    return subprocess.run(
        [sys.executable, "-m", "console", *args], cwd=ROOT, env=dict(os.environ),
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
    )


def refused(result: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2, (result.returncode, result.stderr)
    return result.stderr


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


# --- 1. URLs -------------------------------------------------------------------


def test_prometheus_url_without_a_scheme_says_what_to_write():
    err = refused(cbconsole("--prometheus", "prometheus:9090"))
    assert "--prometheus" in err
    assert "use http://prometheus:9090" in err


def test_flags_url_without_a_scheme_blames_the_flag():
    err = refused(cbconsole("--demo", "--flags-url", "feature-flags:8080"))
    assert "--flags-url" in err and "use http://feature-flags:8080" in err


def test_a_service_map_url_names_the_file_and_line(tmp_path):
    path = write(tmp_path, '[prometheus]\nurl = "http://prom:9090"\n\n'
                           '[services.payment-api]\nsmoke_url = "http://api:8080/x"\n'
                           'health_url = "payment-api:8080/health"\n')
    err = refused(cbconsole("--config", str(path)))
    assert f"{path}, line 6" in err
    assert "services.payment-api.health_url" in err
    assert "use http://payment-api:8080/health" in err


def test_a_url_from_the_environment_names_the_variable(monkeypatch):
    monkeypatch.setenv("CBCONSOLE_PROMETHEUS_URL", "prom:9090")
    err = refused(cbconsole())
    assert "CBCONSOLE_PROMETHEUS_URL" in err and "use http://prom:9090" in err


def test_a_password_in_a_url_without_a_scheme_is_not_echoed():
    err = refused(cbconsole("--prometheus", "admin:s3cr3t@prometheus:9090"))
    assert "s3cr3t" not in err
    assert "use http://prometheus:9090" in err


# --- 2. time zone ----------------------------------------------------------------


def test_unknown_time_zone_on_the_command_line_blames_the_flag():
    err = refused(cbconsole("--demo", "--tz", "Mars/Olympus"))
    assert "--tz" in err and "Mars/Olympus" in err
    assert "config" not in err  # there is no config file to blame


def test_unknown_time_zone_in_the_file_names_the_file_and_line(tmp_path):
    path = write(tmp_path, 'poll_interval_s = 2\n[incident]\nseverity = "P0"\n'
                           'timezone = "Mars/Olympus"\n')
    err = refused(cbconsole("--demo", "--config", str(path)))
    assert f"{path}, line 4" in err
    assert "incident.timezone" in err and "Mars/Olympus" in err
    assert "--tz" not in err


# --- 3. kube context ---------------------------------------------------------------


def kubeconfig(tmp_path: Path, *names: str) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:9"}}],
        "users": [{"name": "u", "user": {}}],
        "contexts": [{"name": n, "context": {"cluster": "c", "user": "u"}} for n in names],
        "current-context": names[0],
    }))
    return path


def test_unknown_context_names_the_contexts_that_exist(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig(tmp_path, "prod-eu", "staging")))
    err = refused(cbconsole("--prometheus", "http://127.0.0.1:9", "--context", "nope"))
    assert '"nope"' in err
    assert "prod-eu" in err and "staging" in err


def test_context_with_the_demo_is_refused(capsys, monkeypatch):
    from console.ui.app import CBConsoleApp

    started = []
    monkeypatch.setattr(CBConsoleApp, "run", lambda self: started.append(self))
    assert main(["--demo", "--context", "prod-eu"]) == 2
    assert not started
    err = capsys.readouterr().err
    assert "--context" in err and "--demo" in err


# --- 4. config file typos and --no-config --------------------------------------------


def test_a_typo_in_the_config_names_key_nearest_key_file_and_line(tmp_path):
    path = write(tmp_path, '[prometheus]\nurl = "http://prom:9090"\nprofil = "envoy"\n')
    err = refused(cbconsole("--config", str(path)))
    assert "Extra inputs" not in err
    assert "prometheus.profil" in err
    assert "did you mean prometheus.profile" in err
    assert f"{path}, line 3" in err
    assert "--no-config" in err


def test_a_typo_in_a_service_table_suggests_the_service_key(tmp_path):
    path = write(tmp_path, '[services."payment-api"]\nhelth_url = "http://p:8080/health"\n')
    err = refused(cbconsole("--demo", "--config", str(path)))
    assert f"{path}, line 2" in err
    assert "did you mean services.payment-api.health_url" in err


def test_a_key_in_the_wrong_table_says_where_it_belongs(tmp_path):
    path = write(tmp_path, 'poll_interval_s = 2\ntimezone = "UTC"\n')
    err = refused(cbconsole("--demo", "--config", str(path)))
    assert f"{path}, line 2" in err and "did you mean incident.timezone" in err


def test_no_config_starts_without_the_broken_default_file(monkeypatch, tmp_path):
    from console.ui.app import CBConsoleApp
    from console.paths import config_file

    config_file().parent.mkdir(parents=True, exist_ok=True)
    config_file().write_text("[prometheus]\nprofil = 'envoy'\n")
    err = refused(cbconsole("--demo"))
    assert str(config_file()) in err and "--no-config" in err
    started = []
    monkeypatch.setattr(CBConsoleApp, "run", lambda self: started.append(self))
    assert main(["--demo", "--no-config", "--state-dir", str(tmp_path)]) == 0
    assert started


def test_no_config_and_config_together_are_refused(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--demo", "--no-config", "--config", "x.toml"])
    assert exit_.value.code == 2
    assert "not allowed with" in capsys.readouterr().err
