"""Issue 15: the postmortem's words for a mitigation come from the registry,
by the name the journal recorded: a mitigation added (one module, one
registry line) is described in the postmortem with no postmortem edit."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from console.incident import postmortem
from console.mitigations.base import Mitigation
from console.mitigations.recorder import ActionEvent, Stage
from console.mitigations.registry import BY_NAME, MITIGATIONS
from tests.incidents import IMPACT, at, record_incident

pytestmark = pytest.mark.unit

INCIDENT = Path(__file__).resolve().parent.parent / "console" / "incident"


class Drain(Mitigation):
    """A throwaway mitigation, as a later issue would add one."""

    name = "drain"
    key = "x"
    label = "Drain"
    tooltip = "Drain the zone"
    words = "drain"
    waiting_for = "the drain"
    prevention = "Give {svc} a second zone to drain to (it had to be drained)"

    def carried_out(self, target: str) -> str:
        return f"traffic drained from {target}"


def test_a_new_mitigation_is_described_by_its_own_words(tmp_path, monkeypatch):
    monkeypatch.setitem(BY_NAME, "drain", Drain())
    journal = record_incident(tmp_path, resolve=False)
    drain = dict(action="drain", service="payment-api", target="zone-b")
    for minute, stage in ((13, Stage.ASKED), (13.1, Stage.CONFIRMED), (13.2, Stage.SENT),
                          (13.5, Stage.SUCCEEDED)):
        journal.record(ActionEvent(at=at(minute), stage=stage, **drain))

    text = postmortem.render(journal.events, IMPACT, now=at(20))
    doc = postmortem.render_json(journal.events, IMPACT, now=at(20))

    assert "traffic drained from zone-b (payment-api): **succeeded**" in text  # Resolution
    assert "Action traffic drained from zone-b: sent (alice)" in text  # the event list
    assert "- [ ] Give payment-api a second zone to drain to (it had to be drained)" in text
    assert "Give payment-api a second zone to drain to (it had to be drained)" in doc["prevention"]
    # The restart's words are the registry's too, as they read before.
    assert "Mitigation applied (restart on shop/deployment/payment-api)" in text


def test_a_name_the_registry_does_not_know_is_shown_as_recorded(tmp_path):
    journal = record_incident(tmp_path, resolve=False)
    gone = dict(action="drain", service="payment-api", target="zone-b")
    for minute, stage in ((13, Stage.ASKED), (13.2, Stage.SENT), (13.5, Stage.SUCCEEDED)):
        journal.record(ActionEvent(at=at(minute), stage=stage, **gone))

    text = postmortem.render(journal.events, IMPACT, now=at(20))

    assert "drain on zone-b (payment-api): **succeeded**" in text
    assert "second zone" not in text


def test_the_incident_package_names_no_mitigation():
    """No mitigation's name as a string in console/incident/: what the
    postmortem says about one is asked of the registry."""
    names = {m.name for m in MITIGATIONS}
    found = [f"{path.name}:{node.lineno}: {node.value!r}"
             for path in sorted(INCIDENT.glob("*.py"))
             for node in ast.walk(ast.parse(path.read_text()))
             if isinstance(node, ast.Constant) and node.value in names]
    assert found == []
