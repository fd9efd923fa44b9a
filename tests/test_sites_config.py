"""Sites (issue 18): [sites.NAME] tables, a global source's cluster label and
the command line's --context / --site, as the operator writes them, to the
SiteSpecs the console runs; every mistake a clear message."""

from pathlib import Path

import pytest

from console.cli import main
from console.config import ConfigFileError, load_config
from console.sites import SiteSpec
from console.sites_setup import site_specs

pytestmark = pytest.mark.unit

TWO_SITES = """
[prometheus]
profile = "runbook"
[flags]
url = "http://flags.global:8080"
[contexts.prod-eu]
read_only = true
[sites.eu-west]
context = "prod-eu"
namespace = "shop"
production = true
[sites.eu-west.prometheus]
url = "http://prom-eu:9090"
tenant = "team-eu"
params = { partial_response = "true", dedup = "true" }
[sites.us-east]
context = "prod-us"
[sites.us-east.prometheus]
url = "http://prom-us:9090"
profile = "resilience4j"
[sites.us-east.flags]
url = "http://flags.us:8080"
token_file = "/run/us-flags-token"
"""


def config_of(tmp_path: Path, text: str, **overrides):
    path = tmp_path / "config.toml"
    path.write_text(text)
    return load_config(path, env={}, overrides=overrides)


def test_no_sites_is_the_one_implicit_site_as_before(tmp_path):
    config = config_of(tmp_path, '[prometheus]\nurl = "http://p:9090"\n')
    assert site_specs(config, contexts=["kind-a"], namespace="shop") == (
        SiteSpec(name="", context="kind-a", namespace="shop", flags=config.flags),)
    assert site_specs(config)[0].context is None


def test_two_sites_each_with_its_own_source_context_and_flags(tmp_path):
    eu, us = site_specs(config_of(tmp_path, TWO_SITES))
    assert (eu.name, eu.context, eu.namespace, eu.production) == ("eu-west", "prod-eu", "shop", True)
    assert eu.read_only  # [contexts.prod-eu] read_only holds for the site too
    assert (eu.metrics.url, eu.metrics.tenant) == ("http://prom-eu:9090", "team-eu")
    assert eu.metrics.params == {"partial_response": "true", "dedup": "true"}
    assert eu.flags.url == "http://flags.global:8080" and eu.label_value is None
    assert (us.read_only, us.metrics.profile, us.flags.url) == (
        False, "resilience4j", "http://flags.us:8080")
    assert str(us.flags.token_file) == "/run/us-flags-token" and us.flags.token_env is None


def test_site_limits_to_some_and_an_unknown_one_lists_the_known(tmp_path):
    config = config_of(tmp_path, TWO_SITES)
    assert [s.name for s in site_specs(config, only=["us-east"])] == ["us-east"]
    with pytest.raises(ConfigFileError, match=r"--site ap-south: no such site "
                       r"\(the sites are eu-west, us-east\)"):
        site_specs(config, only=["ap-south"])


@pytest.mark.parametrize("text, message", [
    ('[sites.eu-west]\ncontxt = "a"\n', "did you mean sites.eu-west.context?"),
    ('[sites.eu-west.prometheus]\nurl = "http://x:1"\ntennant = "a"\n',
     "did you mean sites.eu-west.prometheus.tenant?"),
    ('[sites.eu-west]\ncontext = "a"\n',
     "sites.eu-west has no metrics source: give it [sites.eu-west.prometheus] url, "
     "or set [prometheus] cluster_label"),
    ('[prometheus]\ncluster_label = "cluster"\n[sites.eu-west]\n',
     "prometheus.cluster_label needs [prometheus] url (--prometheus)"),
    ('[sites.eu-west.prometheus]\nurl = "http://x:1"\nprofile = "envy"\n',
     "sites.eu-west.prometheus.profile: unknown metric profile 'envy'"),
    ('[prometheus]\nurl = "http://g:1"\ncluster_label = "cluster"\n'
     '[sites.a]\nlabel_value = "x"\n[sites.b]\nlabel_value = "x"\n',
     "sites.a and sites.b both read the cluster label value 'x'"),
])
def test_mistakes_say_what_to_fix(tmp_path, text, message):
    with pytest.raises(ConfigFileError) as caught:
        site_specs(config_of(tmp_path, text))
    assert message in str(caught.value)


def test_contexts_with_a_global_source_need_no_config_file():
    config = load_config(no_file=True, env={}, overrides={
        "prometheus": {"url": "http://global:9090", "cluster_label": "cluster"}})
    a, b = site_specs(config, contexts=["eu-west", "us-east"])
    assert (a.name, a.context, a.label_value, a.metrics) == ("eu-west", "eu-west", "eu-west", None)
    assert (b.name, b.context, b.label_value) == ("us-east", "us-east", "us-east")


def test_a_context_mapped_by_a_site_table_is_that_site(tmp_path):
    config = config_of(tmp_path, '[prometheus]\nurl = "http://g:1"\ncluster_label = "cluster"\n'
                       '[sites.eu-west]\ncontext = "gke_prod_europe-west1"\n')
    found = site_specs(config, contexts=["gke_prod_europe-west1", "kind-us"])
    assert [(s.name, s.context, s.label_value) for s in found] == [
        ("eu-west", "gke_prod_europe-west1", "eu-west"), ("kind-us", "kind-us", "kind-us")]


def test_several_contexts_without_a_cluster_label_say_what_is_missing():
    config = load_config(no_file=True, env={}, overrides={"prometheus": {"url": "http://g:1"}})
    with pytest.raises(ConfigFileError, match="several --context need .*--cluster-label"):
        site_specs(config, contexts=["a", "b"])
    with pytest.raises(ConfigFileError, match="--site x: no sites configured"):
        site_specs(config, only=["x"])


def test_the_command_line_names_the_sites_it_knows(tmp_path, capsys):
    path = tmp_path / "config.toml"
    path.write_text(TWO_SITES)
    assert main(["--config", str(path), "--site", "ap-south"]) == 2
    err = capsys.readouterr().err
    assert err == ("cbconsole: --site ap-south: no such site (the sites are eu-west, "
                   "us-east)\n")


def test_several_contexts_on_the_command_line_need_the_cluster_label(capsys):
    assert main(["--no-config", "--prometheus", "http://127.0.0.1:9", "--context", "a",
                 "--context", "b"]) == 2
    assert "several --context need a global source" in capsys.readouterr().err


def test_a_sites_missing_token_names_the_site(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("EU_PROM_TOKEN", raising=False)
    path = tmp_path / "config.toml"
    path.write_text('[sites.eu-west.prometheus]\nurl = "http://127.0.0.1:9"\n'
                    '[sites.eu-west.prometheus.auth]\nbearer_token_env = "EU_PROM_TOKEN"\n'
                    '[sites.us-east.prometheus]\nurl = "http://127.0.0.1:9"\n')
    assert main(["--config", str(path), "--state-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cbconsole: sites.eu-west.prometheus: ") and "EU_PROM_TOKEN" in err
