from pathlib import Path

import pytest

from console.cli import main
from console.config import TOKEN_ENV, ConfigFileError, load_config

pytestmark = pytest.mark.integration

FILE = """
poll_interval_s = 5
[prometheus]
url = "http://file:9090"
profile = "resilience4j"
[services.payment-api]
recovery_timeout_s = 30
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_file_then_env_then_flags(tmp_path):
    path = write(tmp_path, FILE)
    config = load_config(path, env={})
    assert (config.poll_interval_s, config.prometheus.url) == (5, "http://file:9090")
    assert config.recovery_timeouts() == {"payment-api": 30}
    config = load_config(path, env={"CBCONSOLE_PROMETHEUS_URL": "http://env:9090"})
    assert config.prometheus.url == "http://env:9090"
    assert config.prometheus.profile == "resilience4j"
    config = load_config(
        path,
        env={"CBCONSOLE_PROMETHEUS_URL": "http://env:9090"},
        overrides={"prometheus": {"url": "http://flag:9090", "profile": None}},
    )
    assert config.prometheus.url == "http://flag:9090"
    assert config.prometheus.profile == "resilience4j"  # an unset flag overrides nothing


def test_default_file_may_be_absent_a_named_one_may_not(tmp_path):
    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    assert load_config(env=env).prometheus.profile == "runbook"
    with pytest.raises(ConfigFileError, match="not found"):
        load_config(tmp_path / "missing.toml", env={})


@pytest.mark.parametrize(
    "text, message",
    [
        ("poll_interval_s = [", "config file"),
        ('poll_interval_s = "often"', "poll_interval_s"),
        ("[prometheus]\nurl = 'x'\ntoken = 'secret'\n", "prometheus.token"),
        # [alertmanager]: each typo names its key and the line.
        ('[alertmanager]\nack_silence = "1hr"\n',
         "line 2: alertmanager.ack_silence: '1hr' is not a duration: write it like 1h"),
        ('[alertmanager]\nack_silenc = "1h"\n',
         "did you mean alertmanager.ack_silence"),
        ('[alertmanager]\nack_silence = "10s"\n', "a silence from 1m to 7 days"),
        ('[alertmanager]\nurl = "alertmanager:9093"\n', "alertmanager.url"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path, text, message):
    with pytest.raises(ConfigFileError, match=message):
        load_config(write(tmp_path, text), env={})


def test_token_comes_from_the_environment_by_name_only(tmp_path):
    config = load_config(write(tmp_path, ""), env={TOKEN_ENV: "s3cr3t-token"})
    assert config.prometheus.auth.bearer_token_env == TOKEN_ENV
    assert "s3cr3t-token" not in repr(config)


def test_custom_profile_needs_its_table(tmp_path):
    config = load_config(write(tmp_path, "[prometheus]\nprofile = 'custom'\n"), env={})
    with pytest.raises(ConfigFileError, match="custom_profile"):
        config.profile_spec()


def test_cli_without_a_source_says_what_to_do(capsys):
    assert main(["--config", "/nonexistent/cbconsole.toml", "--demo"]) == 2
    assert "not found" in capsys.readouterr().err
    assert main([]) == 2
    assert "--demo" in capsys.readouterr().err


def test_without_a_kubeconfig_the_board_says_why_cluster_features_are_off(monkeypatch, tmp_path):
    from console.ui.app import CBConsoleApp

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing-kubeconfig"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    started = []
    monkeypatch.setattr(CBConsoleApp, "run", lambda self: started.append(self))
    assert main(["--prometheus", "http://127.0.0.1:9", "--config", str(write(tmp_path, ""))]) == 0
    [app] = started
    assert app.diagnosis.cluster is None
    assert "no kubeconfig found" in app.diagnosis.cluster_unavailable


def test_with_a_kubeconfig_the_board_names_its_context(monkeypatch, tmp_path):
    from console.ui.app import CBConsoleApp
    from tests.kubeserver import KubeServer

    server = KubeServer(auto_step=False)
    server.start()
    try:
        kubeconfig = server.write_kubeconfig(tmp_path / "kc", context="prod-eu", namespace="shop")
        monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
        started = []
        monkeypatch.setattr(CBConsoleApp, "run", lambda self: started.append(self))
        assert main(["--prometheus", "http://127.0.0.1:9", "--config", str(write(tmp_path, ""))]) == 0
        [app] = started
        assert app.diagnosis.cluster.label == "prod-eu" and app.diagnosis.cluster.namespace == "shop"
    finally:
        server.stop()


def test_cbconsole_export_is_a_subcommand(tmp_path, capsys):
    assert main(["export", "--state-dir", str(tmp_path)]) == 1
    assert "no incident in" in capsys.readouterr().err


def test_time_zone_for_the_screen_and_the_export(tmp_path):
    assert load_config(env={}).incident.timezone == "UTC"
    config = load_config(overrides={"incident": {"timezone": "Europe/Paris"}}, env={})
    assert config.incident.timezone == "Europe/Paris"
    with pytest.raises(ConfigFileError, match="unknown time zone"):
        load_config(write(tmp_path, '[incident]\ntimezone = "Mars/Olympus"\n'), env={})
