"""HttpFlagService against a real (tiny) flag service over loopback HTTP."""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from urllib.parse import unquote

import pytest

from console.sources.base import FlagSource, SourceError
from console.sources.flags import HttpFlagService
from tests.flagserver import PREFIX, FlagServer

pytestmark = pytest.mark.integration

TOKEN = "admin-secret-token"
FLAG = "payment-api-integration"


@pytest.fixture
def server():
    srv = FlagServer(token=TOKEN)
    srv.put(FLAG, True, updated_at="2026-11-27T03:00:00Z")
    yield srv
    srv.close()


@pytest.fixture
def svc(server, monkeypatch):
    monkeypatch.setenv("ADMIN_TOKEN", TOKEN)
    service = HttpFlagService(server.url, token_env="ADMIN_TOKEN", timeout=2.0)
    yield service
    service.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def error_of(call) -> str:
    with pytest.raises(SourceError) as info:
        call()
    return str(info.value)


# --- Reading ------------------------------------------------------------------------


def test_is_a_flag_source(svc, server):
    assert isinstance(svc, FlagSource)
    assert svc.label == f"flags {server.url}"


def test_get_flag(svc, server):
    flag = svc.get_flag(FLAG)
    assert flag.name == FLAG and flag.enabled is True
    assert flag.updated_at == datetime(2026, 11, 27, 3, 0, tzinfo=timezone.utc)
    (req,) = server.requests
    assert (req.method, req.path) == ("GET", PREFIX + FLAG)
    assert "Authorization" not in req.headers  # reads are open: no token sent


def test_get_flag_without_updated_at_is_unknown(svc, server):
    server.put("bare", False)
    flag = svc.get_flag("bare")
    assert flag.enabled is False and flag.updated_at is None


# --- Changing -----------------------------------------------------------------------


def test_set_false_then_read_back(svc, server):
    flag = svc.set_flag(FLAG, False)
    assert flag.enabled is False and flag.updated_at is not None
    assert server.flags[FLAG]["enabled"] is False
    assert svc.get_flag(FLAG).enabled is False


def test_exactly_one_post_with_body_and_headers_then_a_get(svc, server):
    svc.set_flag(FLAG, False)
    assert [r.method for r in server.requests] == ["POST", "GET"]
    (post,) = server.of("POST")
    assert post.path == PREFIX + FLAG
    assert post.json() == {"enabled": False}
    assert post.headers["Authorization"] == f"Bearer {TOKEN}"
    assert post.headers["Content-Type"] == "application/json"
    # One reused client: both requests rode one kept-alive connection.
    assert len({r.client_port for r in server.requests}) == 1


def test_set_true(svc, server):
    server.put("other", False)
    assert svc.set_flag("other", True).enabled is True
    assert server.of("POST")[0].json() == {"enabled": True}


def test_read_back_disagreeing_is_an_error(svc, server):
    server.ignore_posts = True
    msg = error_of(lambda: svc.set_flag(FLAG, False))
    assert msg == f"flag {FLAG} still enabled after the change"


def test_concurrent_calls_from_threads(svc, server):
    with ThreadPoolExecutor(8) as pool:
        flags = list(pool.map(lambda _: svc.get_flag(FLAG), range(16)))
    assert all(f.enabled for f in flags) and len(server.requests) == 16


# --- Errors, in plain words -----------------------------------------------------------


def test_wrong_token_is_401(server, monkeypatch):
    monkeypatch.setenv("ADMIN_TOKEN", "not-the-token")
    with HttpFlagService(server.url, token_env="ADMIN_TOKEN") as svc:
        msg = error_of(lambda: svc.set_flag(FLAG, False))
    assert msg == "the flag service rejected the token (401)"
    assert "not-the-token" not in msg
    assert server.flags[FLAG]["enabled"] is True


def test_403(svc, server):
    server.fail(403, "forbidden")
    assert "(403)" in error_of(lambda: svc.set_flag(FLAG, False))


def test_unknown_flag_is_404(svc):
    assert error_of(lambda: svc.get_flag("nope")) == 'flag "nope" not found'
    assert error_of(lambda: svc.set_flag("nope", False)) == 'flag "nope" not found'


@pytest.mark.parametrize("status", [500, 503])
def test_5xx_gives_status_and_short_body(svc, server, status):
    server.fail(status, "upstream database down\n" + "x" * 1000)
    msg = error_of(lambda: svc.get_flag(FLAG))
    assert msg.startswith(f"the flag service answered {status}: upstream database down")
    assert len(msg) < 300 and "\n" not in msg
    assert svc.get_flag(FLAG).enabled is True  # only the next request failed


def test_malformed_json(svc, server):
    server.fail(200, "{not json", content_type="application/json")
    msg = error_of(lambda: svc.get_flag(FLAG))
    assert "not JSON" in msg and FLAG in msg


@pytest.mark.parametrize("body", ['{"name": "x"}', '{"enabled": "false"}', "[true]", "null"])
def test_json_without_a_boolean_enabled(svc, server, body):
    server.fail(200, body, content_type="application/json")
    assert "enabled true/false" in error_of(lambda: svc.get_flag(FLAG))


def test_connection_refused_on_a_closed_port():
    url = f"http://127.0.0.1:{closed_port()}"
    with HttpFlagService(url) as svc:
        msg = error_of(lambda: svc.get_flag(FLAG))
    assert msg == f"flag service at {url} unreachable: connection refused"


def test_timeout():
    with socket.socket() as listener:  # accepts the connection, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        with HttpFlagService(url, timeout=0.3) as svc:
            msg = error_of(lambda: svc.get_flag(FLAG))
    assert msg == f"flag service at {url} unreachable: no answer within 0.3s"


# --- The token ------------------------------------------------------------------------


def test_token_from_env_read_at_call_time(server, monkeypatch):
    monkeypatch.delenv("ADMIN_TOKEN", raising=False)
    with HttpFlagService(server.url, token_env="ADMIN_TOKEN") as svc:
        msg = error_of(lambda: svc.set_flag(FLAG, False))
        assert msg == "flag service token: environment variable ADMIN_TOKEN is not set"
        monkeypatch.setenv("ADMIN_TOKEN", "   ")
        assert "is not set" in error_of(lambda: svc.set_flag(FLAG, False))
        assert server.of("POST") == []  # nothing sent without a token
        monkeypatch.setenv("ADMIN_TOKEN", f"  {TOKEN}\n")
        assert svc.set_flag(FLAG, False).enabled is False
    assert server.of("POST")[0].headers["Authorization"] == f"Bearer {TOKEN}"


def test_token_from_file(server, tmp_path):
    path = tmp_path / "token"
    with HttpFlagService(server.url, token_file=path) as svc:
        assert error_of(lambda: svc.set_flag(FLAG, False)).startswith(
            f"flag service token: cannot read {path}"
        )
        path.write_text("\n")
        assert "is empty" in error_of(lambda: svc.set_flag(FLAG, False))
        path.write_text(TOKEN + "\n")
        assert svc.set_flag(FLAG, False).enabled is False
        path.write_text("rotated")  # re-read per change
        assert "(401)" in error_of(lambda: svc.set_flag(FLAG, True))


def test_token_appears_nowhere(server, monkeypatch, tmp_path):
    monkeypatch.setenv("ADMIN_TOKEN", TOKEN)
    svc = HttpFlagService(server.url, token_env="ADMIN_TOKEN")
    messages = []
    # A service that echoes the request's Authorization header in its errors.
    for status in (400, 401, 403, 404, 500, 502, 503):
        server.fail(status, f"bad request with Authorization: Bearer {TOKEN} " + "y" * 400)
        messages.append(error_of(lambda: svc.set_flag(FLAG, False)))
    server.ignore_posts = True
    messages.append(error_of(lambda: svc.set_flag(FLAG, False)))
    closed = HttpFlagService(f"http://127.0.0.1:{closed_port()}", token_env="ADMIN_TOKEN")
    messages.append(error_of(lambda: closed.set_flag(FLAG, False)))
    texts = messages + [
        repr(svc), str(svc), svc.label, svc.curl_equivalent(FLAG, False), repr(closed),
    ]
    for text in texts:
        assert TOKEN not in text and TOKEN[:12] not in text, text
    assert "$ADMIN_TOKEN" in repr(svc)
    path = tmp_path / "tok"
    path.write_text(TOKEN)
    assert TOKEN not in repr(HttpFlagService(server.url, token_file=path))
    svc.close()
    closed.close()


def test_curl_equivalent_is_the_runbook_command_masked(svc, server):
    assert svc.curl_equivalent(FLAG, False) == (
        f"curl -X POST {server.url}/api/v1/flags/{FLAG}"
        " -H 'Authorization: Bearer ***' -H 'Content-Type: application/json'"
        " -d '{\"enabled\": false}'"
    )
    assert "'{\"enabled\": true}'" in svc.curl_equivalent(FLAG, True)
    assert "it%27s" in svc.curl_equivalent("it's", True)


def test_label_drops_userinfo(server):
    url = server.url.replace("http://", "http://ops:hunter2@")
    with HttpFlagService(url + "/") as svc:
        assert svc.label == f"flags {server.url}"
        assert "hunter2" not in repr(svc) + svc.curl_equivalent(FLAG, False)
        assert svc.get_flag(FLAG).enabled is True


# --- Hostile names ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["../../admin", "..", ".", "a/b", "../flags/other", "x?y=1#z", "sp ace%2F", "é"]
)
def test_hostile_name_stays_inside_the_flags_path(svc, server, name):
    server.put(name, True)
    assert svc.set_flag(name, False).enabled is False
    for req in server.requests:
        assert req.path.startswith(PREFIX), req.path
        rest = req.path[len(PREFIX):]
        assert "/" not in rest and "?" not in rest and "#" not in rest
        assert unquote(rest) == name
    assert server.flags[name]["enabled"] is False


def test_empty_name_is_refused(svc, server):
    assert error_of(lambda: svc.get_flag("")) == "a flag needs a name"
    assert server.requests == []


def test_a_token_file_rotated_while_a_post_was_in_flight_is_read_again_once(tmp_path):
    """The service answers 401 to the old token (it changed nothing): the
    console reads the file again and sends once more, with the new token."""
    from tests.flagserver import FlagServer

    token_file = tmp_path / "token"
    token_file.write_text("old-projected-token-1111")
    server = FlagServer(token="old-projected-token-1111")
    server.put("payment-api-integration", True)
    handle = server._handle

    def rotate_then_handle(h):
        if h.command == "POST" and token_file.read_text() == "old-projected-token-1111":
            token_file.write_text("new-projected-token-2222")  # as the kubelet rotates it
            server.token = "new-projected-token-2222"
        handle(h)

    server._handle = rotate_then_handle
    service = HttpFlagService(server.url, token_file=token_file, timeout=5)
    try:
        assert service.set_flag("payment-api-integration", False).enabled is False
    finally:
        service.close()
        server.close()
    posts = server.of("POST")
    assert [p.headers.get("Authorization") for p in posts] == [
        "Bearer old-projected-token-1111", "Bearer new-projected-token-2222"]


def test_a_token_swapped_in_by_symlink_is_the_one_the_next_change_carries(tmp_path):
    """A projected token (the kubelet swaps the `..data` symlink): the change
    after a rotation carries the new token at once, no 401 first."""
    from tests.tokenfiles import ProjectedToken

    sa = ProjectedToken(tmp_path / "sa")
    server = FlagServer(token=sa.tokens[0])
    server.put(FLAG, True)
    service = HttpFlagService(server.url, token_file=sa.path, timeout=5)
    try:
        assert service.set_flag(FLAG, False).enabled is False
        sa.rotate()
        server.token = sa.tokens[-1]
        assert service.set_flag(FLAG, True).enabled is True
    finally:
        service.close()
        server.close()
    assert [p.headers.get("Authorization") for p in server.of("POST")] == [
        f"Bearer {sa.tokens[0]}", f"Bearer {sa.tokens[1]}"]


def test_a_token_file_refused_after_reading_it_again_is_an_error_naming_the_file(
        server, tmp_path):
    token_file = tmp_path / "flag-token"
    token_file.write_text("stale-flag-token-0123456789\n")
    with HttpFlagService(server.url, token_file=token_file, timeout=5) as service:
        msg = error_of(lambda: service.set_flag(FLAG, False))
    assert msg == (f"the flag service rejected the token from {token_file} (401), "
                   "also after reading the file again")
    assert len(server.of("POST")) == 1  # the file had not changed: nothing to send again
