"""The incident journal on a real filesystem: durable appends, resume after a
crash, torn and bad lines, the directory lock, and a disk that refuses writes
(through the injectable writer: no small filesystem needed, root or not)."""

from __future__ import annotations

import errno
import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from console.clock import FakeClock
from console.incident.journal import (
    EventKind,
    Journal,
    JournalLocked,
    NoOpenIncident,
    append_durably,
    list_incidents,
    load_incident,
)
from console.incident.store import JournalEvent, read_events, scrub, scrub_text
from console.mitigations.recorder import ActionEvent, ActionRecorder, Stage

pytestmark = pytest.mark.unit

T0 = datetime(2025, 1, 2, 10, 15, tzinfo=timezone.utc)


def journal(tmp_path: Path, **kw) -> Journal:
    return Journal.open_or_resume(tmp_path, actor="alice", clock=FakeClock(T0), **kw)


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_bytes().splitlines() if line]


def test_append_is_on_disk_and_fsynced_before_it_returns(tmp_path, monkeypatch):
    synced: list[int] = []  # file sizes at each fsync of a journal file
    real_fsync = os.fsync

    def fsync(fd):
        real_fsync(fd)
        target = os.readlink(f"/proc/self/fd/{fd}")
        if target.endswith(".jsonl"):
            synced.append(os.fstat(fd).st_size)

    monkeypatch.setattr(os, "fsync", fsync)
    j = journal(tmp_path)
    opened = j.open_incident("payment-api", details={"severity": "P0"})
    assert j.is_written(opened)
    assert j.append(EventKind.NOTE, details={"text": "looking"}) is True
    path = j.path
    # Every append was fsynced with its whole line in the file.
    assert synced == [len(line) + 1 for line in [path.read_bytes().split(b"\n")[0]]] + [
        path.stat().st_size]
    events = lines(path)
    assert [e["id"] for e in events] == [1, 2]
    assert events[0]["kind"] == "incident_opened" and events[0]["actor"] == "alice"
    assert events[0]["details"]["services"] == "payment-api"
    assert events[1]["at"] == "2025-01-02T10:15:00Z"
    assert j.problem is None and j.pending == ()
    j.close()


def test_resume_continues_the_open_incident(tmp_path):
    j = journal(tmp_path)
    j.open_incident("payment-api")
    j.append(EventKind.NOTE, details={"text": "one"})
    incident = j.incident_id
    j.close()

    again = journal(tmp_path)
    assert again.incident_id == incident and again.is_open
    assert again.append(EventKind.NOTE, details={"text": "two"})
    assert [e.id for e in again.events] == [1, 2, 3]
    # The first event of each kind, read back from the file and kept as they come.
    assert again.first(EventKind.NOTE).details["text"] == "one"
    assert again.first(EventKind.INCIDENT_OPENED).id == 1
    assert again.first(EventKind.ACKNOWLEDGED) is None
    again.append(EventKind.RESOLVED)
    again.close()

    # A resolved incident is not resumed: the next one gets its own file.
    third = journal(tmp_path)
    assert third.incident_id is None and not third.is_open
    with pytest.raises(NoOpenIncident):
        third.append(EventKind.NOTE, details={"text": "no incident"})
    third.open_incident("orders-api", at=T0 + timedelta(hours=1))
    assert third.incident_id != incident
    assert third.first(EventKind.NOTE) is None  # a new incident, its own events
    third.close()
    listed = list_incidents(tmp_path)
    assert [(i.services, i.resolved) for i in listed] == [
        (("payment-api",), True), (("orders-api",), False)]
    assert listed[0].title == "Circuit Breaker Open - payment-api"


def test_torn_tail_is_reported_skipped_and_cut_before_the_next_write(tmp_path):
    j = journal(tmp_path)
    j.open_incident("payment-api")
    j.append(EventKind.NOTE, details={"text": "kept"})
    path = j.path
    j.close()
    with open(path, "ab") as f:
        f.write(b'{"id": 3, "at": "2025-01-02T10:1')  # a crash mid-write

    loaded = read_events(path)
    assert [e.id for e in loaded.events] == [1, 2]
    assert len(loaded.problems) == 1 and "torn last line" in loaded.problems[0]

    again = journal(tmp_path)
    assert any("torn last line" in p for p in again.problems)
    assert again.append(EventKind.NOTE, details={"text": "after the crash"})
    events = lines(path)  # every line parses: nothing glued onto the torn bytes
    assert [e["id"] for e in events] == [1, 2, 3]
    assert events[-1]["details"]["text"] == "after the crash"
    assert read_events(path).problems == ()
    again.close()


def test_torn_tail_that_cannot_be_cut_gets_a_fresh_line(tmp_path, monkeypatch):
    j = journal(tmp_path)
    j.open_incident("payment-api")
    path = j.path
    j.close()
    with open(path, "ab") as f:
        f.write(b'{"id": 2, "kin')

    def no_truncate(*args):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(os, "truncate", no_truncate)
    again = journal(tmp_path)
    assert again.append(EventKind.NOTE, details={"text": "fresh line"})
    raw = path.read_bytes().split(b"\n")
    assert raw[1] == b'{"id": 2, "kin' and json.loads(raw[2])["id"] == 2
    loaded = read_events(path)  # the torn bytes are now a bad middle line
    assert [e.id for e in loaded.events] == [1, 2]
    assert "line 2: not a journal event" in loaded.problems[0]
    again.close()


def test_garbage_in_the_middle_is_reported_and_skipped(tmp_path):
    j = journal(tmp_path)
    j.open_incident("payment-api")
    j.close()
    with open(j.path, "ab") as f:
        f.write(b"\x00\x00garbage\n")
        f.write(b'{"id": 9, "kind": "not-a-kind"}\n')
    again = journal(tmp_path)
    again.append(EventKind.NOTE, details={"text": "still works"})
    again.close()
    loaded = load_incident(tmp_path, j.incident_id)
    assert [e.id for e in loaded.events] == [1, 2]
    assert len(loaded.problems) == 2
    assert all("not a journal event" in p for p in loaded.problems)


def test_a_second_journal_on_the_same_directory_is_refused(tmp_path):
    first = journal(tmp_path)
    with pytest.raises(JournalLocked) as caught:
        journal(tmp_path)
    assert str(caught.value) == f"another cbconsole (pid {os.getpid()}) is using {tmp_path}"
    first.close()
    journal(tmp_path).close()  # released with the first


class FullDisk:
    """A writer that fails like a full disk until told otherwise."""

    def __init__(self, error: int = errno.ENOSPC) -> None:
        self.error: int | None = error
        self.calls = 0

    def __call__(self, path: Path, data: bytes) -> None:
        self.calls += 1
        if self.error is not None:
            raise OSError(self.error, os.strerror(self.error), str(path))
        append_durably(path, data)


def test_full_disk_keeps_events_pending_in_order_and_retries(tmp_path):
    disk = FullDisk()
    j = journal(tmp_path, writer=disk)
    opened = j.open_incident("payment-api")
    assert not j.is_written(opened)
    assert j.append(EventKind.NOTE, details={"text": "one"}) is False
    assert j.problem == f"journal not writable: No space left on device ({j.path})"
    assert [e.id for e in j.pending] == [1, 2]
    assert not j.path.exists()  # nothing claimed, nothing half-written

    disk.error = None  # space freed: the next append writes everything in order
    assert j.append(EventKind.NOTE, details={"text": "two"}) is True
    assert j.problem is None and j.pending == ()
    assert [e["id"] for e in lines(j.path)] == [1, 2, 3]

    disk.error = errno.EIO
    assert j.append(EventKind.NOTE, details={"text": "three"}) is False
    assert "Input/output error" in j.problem
    disk.error = None
    assert j.flush_pending() is True
    assert [e["details"].get("text") for e in lines(j.path)] == [None, "one", "two", "three"]
    j.close()


def test_default_writer_leaves_no_half_line_when_a_write_fails(tmp_path, monkeypatch):
    path = tmp_path / "incident-x.jsonl"
    append_durably(path, b'{"a": 1}\n')
    real_write = os.write

    def half_then_full(fd, data):
        real_write(fd, bytes(data[:5]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", half_then_full)
    with pytest.raises(OSError):
        append_durably(path, b'{"b": 2}\n')
    monkeypatch.undo()
    assert path.read_bytes() == b'{"a": 1}\n'


def test_unusable_directory_is_not_fatal_and_recovers(tmp_path):
    # Root ignores permission bits, so the directory is blocked by a file in
    # its place instead: mkdir fails for any user.
    blocked = tmp_path / "state"
    blocked.write_text("not a directory")
    j = journal(blocked)
    assert j.problem and j.problem.startswith("journal not writable:")
    j.open_incident("payment-api")
    assert j.append(EventKind.NOTE, details={"text": "kept in memory"}) is False
    assert [e.id for e in j.pending] == [1, 2]

    blocked.unlink()
    blocked.mkdir()
    assert j.flush_pending() is True
    assert j.problem is None
    assert [e["id"] for e in lines(j.path)] == [1, 2]
    j.close()


def test_read_only_journal_file(tmp_path):
    j = journal(tmp_path)
    j.open_incident("payment-api")
    path = j.path
    if os.geteuid() != 0:
        path.chmod(0o400)
    else:  # root writes through permission bits: a directory in the file's place
        path.rename(tmp_path / "moved")
        path.mkdir()
    assert j.append(EventKind.NOTE, details={"text": "x"}) is False
    assert j.problem.startswith("journal not writable: ")
    assert ("Permission denied" in j.problem) or ("Is a directory" in j.problem)
    if os.geteuid() != 0:
        path.chmod(0o600)
    else:
        path.rmdir()
        (tmp_path / "moved").rename(path)
    assert j.flush_pending()
    assert [e["id"] for e in lines(path)] == [1, 2]
    j.close()


def test_journal_is_an_action_recorder(tmp_path):
    j = journal(tmp_path)
    recorder: ActionRecorder = j
    recorder.record(ActionEvent(at=T0, action="restart", stage=Stage.ASKED,
                                service="payment-api", target="x"))  # no incident: dropped
    j.open_incident("payment-api")
    recorder.record(ActionEvent(
        at=T0, action="restart", stage=Stage.SUCCEEDED, service="payment-api",
        target="shop/deployment/payment-api",
        details={"response": "HTTP 200", "header": "Authorization: Bearer abc.def"},
    ))
    event = j.events[-1]
    assert event.kind == EventKind.ACTION and event.service == "payment-api"
    assert event.details == {"response": "HTTP 200", "header": "Authorization: Bearer ***",
                             "action": "restart", "stage": "succeeded",
                             "target": "shop/deployment/payment-api"}
    j.close()


def test_secrets_are_scrubbed_from_details():
    assert scrub_text("curl -H 'Authorization: Bearer eyJ.abc-def' x") == (
        "curl -H 'Authorization: Bearer ***' x")
    assert scrub_text("Authorization: Token s3cr3t") == "Authorization: ***"
    assert scrub_text("GET /flags?token=abc123&x=1") == "GET /flags?token=***&x=1"
    assert scrub_text("https://h/p?access_token=zz") == "https://h/p?access_token=***"
    assert scrub_text("bearer xyz") == "bearer ***"
    assert scrub({"admin_token": "abc", "n": 3, "ok": True, "text": "fine"}) == {
        "admin_token": "***", "n": 3, "ok": True, "text": "fine"}


def test_events_sharing_their_set_of_fields_given_stay_apart(tmp_path):
    """Events given the same fields share pydantic's set of them (memory,
    store.py): a copy given another field never adds it to the others'."""
    one, two = (JournalEvent(id=n, at=T0, kind=EventKind.NOTE) for n in (1, 2))
    moved = two.model_copy(update={"site": "eu-west"})
    assert moved.site == "eu-west" and two.site == ""
    assert one.model_fields_set == two.model_fields_set == {"id", "at", "kind"}
    assert moved.model_fields_set == {"id", "at", "kind", "site"}
    # Written and read back, each event is the one written.
    j = journal(tmp_path)
    j.open_incident("payment-api")
    j.add(EventKind.NOTE, service="payment-api", details={"text": "one"})
    j.add(EventKind.NOTE, service="payment-api", details={"text": "two"}, site="eu-west")
    j.close()
    read = read_events(j.path).events
    assert [(e.id, e.service, e.site, e.details.get("text")) for e in read] == [
        (1, "payment-api", "", None), (2, "payment-api", "", "one"),
        (3, "payment-api", "eu-west", "two")]
