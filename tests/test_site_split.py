"""The global source's queries keep the cluster label (issue 18): every
built-in profile's `by (...)` and `on (...)` carries it, so eu-west's and
us-east's breakers are never summed together; series are placed by its value."""

import re

import pytest

from console.sources.prometheus.profiles import BUILTIN, custom_profile
from console.sources.prometheus.split import Splitter, keep_label, with_site_label

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_every_grouping_of_every_builtin_query_keeps_the_label(name):
    profile = with_site_label(BUILTIN[name](), "cluster")
    queries = [*profile.queries.values(), profile.backfill_query()]
    for query in queries:
        groups = re.findall(r"\b(?:by|on)\s*\(([^)]*)\)", query)
        assert groups and all("cluster" in g.split(", ") for g in groups), query


def test_a_custom_profile_runs_as_written():
    profile = custom_profile({"state": "max by (svc, state) (cb_state)", "service_label": "svc"})
    assert with_site_label(profile, "cluster").state_query == "max by (svc, state) (cb_state)"


def test_keep_label_touches_groupings_only():
    assert keep_label('sum by (service) (rate(x{on="by"}[1m])) == bool on(service) y',
                      "region") == ('sum by (region, service) (rate(x{on="by"}[1m])) '
                                    "== bool on (region, service) y")


def test_series_go_to_their_site_the_rest_is_told():
    splitter = Splitter("cluster", {"eu-west": "eu", "us-east": "us"})
    parts = splitter.split([{"metric": {"cluster": "eu-west", "service": "a"}},
                            {"metric": {"cluster": "ap-south", "service": "a"}},
                            {"metric": {"service": "a"}}])
    assert parts == {"eu": [{"metric": {"cluster": "eu-west", "service": "a"}}], "us": []}
    assert splitter.notice() == (
        "series of cluster=ap-south (no such site: add [sites.NAME] with label_value) were "
        "ignored; 1 series without a cluster label were ignored (a custom profile's queries "
        "must keep it in by (...))")
    assert splitter.notice() is None  # per poll


def test_series_of_a_site_with_its_own_source_are_left_quietly():
    splitter = Splitter("cluster", {"eu-west": "eu-west", "us-east": None})
    parts = splitter.split([{"metric": {"cluster": "us-east", "service": "a"}}])
    assert parts == {"eu-west": []} and splitter.notice() is None
