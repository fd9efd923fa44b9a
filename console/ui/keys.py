"""The console's keys: one table for the footer, the help screen and the
command palette (widgets.commands); the mitigations' come from the registry."""

from __future__ import annotations

from textual.binding import Binding

from console.mitigations.registry import MITIGATIONS

BINDINGS = [
    Binding("q", "quit", "Quit", id="quit"),
    Binding("question_mark", "help", "Help", key_display="?", id="help"),
    *(Binding(m.key, f"act('{m.name}')", m.label, id=m.name, tooltip=m.tooltip)
      for m in MITIGATIONS),
    Binding("g", "diagnose", "Diagnose", id="diagnose",
            tooltip="Diagnose the selected service again (health, rollouts, pods, logs)"),
    Binding("a", "acknowledge", "Ack", id="acknowledge",
            tooltip="Acknowledge the incident (stops the response clock)"),
    Binding("n", "note", "Note", id="note", tooltip="Add a note to the incident timeline"),
    Binding("N", "amend_note", "Amend last note", show=False, id="amend-note"),
    Binding("c", "root_cause", "Cause", id="root-cause",
            tooltip="Root cause identified: a sentence and one of the runbook's causes"),
    Binding("R", "resolve", "Resolve", key_display="R", id="resolve",
            tooltip="Resolve the incident (asks first)"),
    Binding("e", "export", "Export", id="export",
            tooltip="Export the postmortem (runbook template) under the state dir"),
    Binding("S", "split", "Split service off the incident", show=False, id="split"),
    Binding("x", "escalation", "Escalate", id="escalation",
            tooltip="Escalation contacts: on-call, team leads, incident channel"),
    # Shown only with more than one site (the app's check_action).
    Binding("space", "sites", "Sites", key_display="space", id="sites",
            tooltip="The selected service's clusters one row each, or folded into one line"),
    Binding("1", "pane('breaker')", "Breaker", show=False, id="pane-breaker"),
    Binding("2", "pane('diagnosis')", "Diagnosis", show=False, id="pane-diagnosis"),
    Binding("3", "pane('actions')", "Actions", show=False, id="pane-actions"),
    Binding("4", "pane('timeline')", "Timeline", show=False, id="pane-timeline"),
    Binding("slash", "filter", "Filter", key_display="/", show=False, id="filter"),
    Binding("escape", "clear_filter", "Clear filter", show=False, id="clear-filter"),
    Binding("p", "poll_now", "Poll now", show=False, id="poll-now"),
    # Not in the footer: the header says "press L" when a login is needed.
    Binding("L", "login", "Log in", key_display="L", show=False, id="login",
            tooltip="Log in to the cluster again: the screen is suspended while the "
                    "credential plugin runs on the terminal"),
]

#: The keys the diagnosis pane names (its next step), as BINDINGS binds them.
MITIGATION_KEYS = {m.name: m.key for m in MITIGATIONS}
