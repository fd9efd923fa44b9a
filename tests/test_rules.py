"""One copy of each rule, tested where its former copies differed: control
characters, secret masks, URL userinfo, shortening, latency, profile names."""

from __future__ import annotations

import pytest

from console import arguments, cli, profilenames, secrets
from console.incident import postmortem
from console.sources.prometheus import profiles
from console.sources.flags import curl_equivalent
from console.incident.store import scrub_text
from console.text import literal, millis, shorten
from console.urls import check_url, without_userinfo
from widgets import text as fmt

pytestmark = pytest.mark.unit


# --- control characters -------------------------------------------------------------

@pytest.mark.parametrize("raw, shown", [
    ("a\x1b]0;pwned\x07b", "a\\x1b]0;pwned\\x07b"),  # C0: retitles the terminal
    ("x\x7fy\x85z", "x\\x7fy\\x85z"),                 # DEL and C1
    ("pay\u202eipa", "pay\\u202eipa"),                # RLO reorders the line
    ("\u061c\u2066\u2069", "\\u061c\\u2066\\u2069"),   # the other bidi controls
    ("שלום", "שלום"),                                  # RTL letters stay letters
])
def test_the_screen_and_the_postmortem_escape_controls_alike(raw, shown):
    assert fmt.literal(raw) == literal(raw) == shown
    assert postmortem.visible(raw) == shown


def test_a_backslash_is_doubled_on_screen_and_left_to_markdown_in_the_postmortem():
    assert literal("C:\\x1b") == "C:\\\\x1b"  # never reads as ESC written out
    assert postmortem.visible("C:\\x1b") == "C:\\x1b"  # md_name / md_text escape it
    assert postmortem.visible(postmortem.md_text("C:\\x1b")) == "C:\\\\x1b"


def test_json_export_escapes_what_json_leaves():
    assert postmortem.json_text({"s": "a\x85\u202eb\x1b"}) == (
        '{\n  "s": "a\\u0085\\u202eb\\u001b"\n}\n')


# --- secret masks -------------------------------------------------------------------

def test_one_mask_everywhere():
    secrets.remember("tok-1234567890")
    assert secrets.redact("said tok-1234567890") == f"said {secrets.MASK}"
    assert scrub_text("Authorization: Bearer abc.def") == f"Authorization: Bearer {secrets.MASK}"
    assert f"Bearer {secrets.MASK}" in curl_equivalent("http://flags:8080", "f", False)


def test_the_longest_secret_is_masked_first():
    """A source's secrets in the order it learnt them: the shorter one first
    left the longer one's tail on show."""
    text = secrets.redact("saw abc123 and abc123xyz", ["abc123", "abc123xyz"])
    assert text == f"saw {secrets.MASK} and {secrets.MASK}"


def test_a_sources_own_short_secret_is_masked_but_not_remembered_everywhere():
    assert secrets.redact("password hunter2", also=["hunter2"]) == f"password {secrets.MASK}"
    secrets.remember("prom")  # too short to take out of every note
    assert secrets.redact("prometheus") == "prometheus"


# --- URL userinfo -------------------------------------------------------------------

@pytest.mark.parametrize("url, shown", [
    ("https://u:p@prom.example:9090/x?y=1", "https://prom.example:9090/x?y=1"),
    ("https://u:p@[::1]:6443/api", "https://[::1]:6443/api"),      # brackets kept
    ("https://u:p@[::1/", "https://[::1/"),                       # unparsable: still stripped
    ("http://u:p@ss@Host:1/", "http://Host:1/"),                  # last @, case kept
    ("u:p@prom:9090/x", "prom:9090/x"),                           # no scheme
    ("http://prom/p?next=a@b", "http://prom/p?next=a@b"),         # an @ in the query is no userinfo
    ("http://prom:9090", "http://prom:9090"),
])
def test_userinfo_is_stripped_the_same_way_everywhere(url, shown):
    assert without_userinfo(url) == shown
    assert cli._public(url) == shown


def test_a_bad_url_never_echoes_its_password():
    for bad in ("ftp://u:s3cret@host/", "u:s3cret@host:9090", "http://u:s3cret@host:x/"):
        with pytest.raises(ValueError) as raised:
            check_url(bad)
        assert "s3cret" not in str(raised.value)


def test_the_kube_server_url_keeps_an_ipv6_host(tmp_path):
    import json

    from console.sources.kube import KubernetesCluster

    kubeconfig = tmp_path / "kc"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": "https://admin:pw@[fd00::1]:6443"}}],
        "users": [{"name": "u", "user": {}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}))
    cluster = KubernetesCluster(kubeconfig=str(kubeconfig))
    assert cluster.server == "https://[fd00::1]:6443" and "pw" not in repr(cluster)
    cluster.close()
    # The client refuses a malformed one; the rule alone still drops the password.
    assert "pw" not in without_userinfo("https://admin:pw@[fd00::1")


def test_the_flag_service_says_a_bad_url_without_its_password():
    from console.sources.base import SourceError
    from console.sources.flags import HttpFlagService

    with pytest.raises(SourceError) as raised:
        HttpFlagService("ftp://admin:s3cret@flags:8080")
    assert "s3cret" not in str(raised.value)


# --- shortening ---------------------------------------------------------------------

def test_shortened_text_is_one_line_and_says_it_was_cut():
    assert shorten("a\n  b\tc", 10) == "a b c"
    cut = shorten("x" * 500, 200)
    assert len(cut) == 200 and cut.endswith("…")
    assert shorten("x" * 200, 200) == "x" * 200


def test_the_cluster_and_the_plugin_say_where_they_cut():
    """The API server's error body and the plugin's stderr were cut at 200
    with no mark: the operator could not tell the message went on."""
    from types import SimpleNamespace

    from console.sources.kube.errors import status_of

    message, _ = status_of(SimpleNamespace(body="<html>" + "e" * 500, reason=""))
    assert len(message) == 200 and message.endswith("…")


# --- latency ------------------------------------------------------------------------

@pytest.mark.parametrize("ms, shown", [
    (None, "—"), (12.4, "12 ms"), (999.4, "999 ms"), (999.6, "1.0 s"), (2500, "2.5 s"),
])
def test_latency(ms, shown):
    assert millis(ms) == fmt.millis(ms) == shown


# --- profile names ------------------------------------------------------------------

def test_the_command_line_offers_every_built_in_profile():
    assert set(profiles.BUILTIN) == set(profilenames.BUILTIN)
    assert arguments.PROFILES == (*profilenames.BUILTIN, profilenames.CUSTOM)
    for name in profilenames.BUILTIN:
        assert arguments.build_parser().parse_args(["--profile", name]).profile == name
