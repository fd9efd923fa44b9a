"""The diagnosis pane's CLUSTER block: what the cluster sees of the path
(the Service's endpoints, Warning events folded by reason, the
NetworkPolicies on the caller -> downstream path), read from inside the
cluster's API with the console's credentials."""

from __future__ import annotations

from datetime import datetime

from rich.console import Group
from rich.text import Text

from console.diagnosis.clusterview import ClusterView, InsideCheck
from widgets import text as fmt

MESSAGE_MAX = 300  # characters of one event message shown
REASONS_SHOWN = 6


def _not_read(what: str, why: str) -> Text:
    return Text.assemble("  ", (f"{what} not read: ", "bold yellow"), (fmt.literal(why), "yellow"))


def endpoints_text(view: ClusterView, service: str) -> Text:
    if view.endpoints is None:
        return _not_read("endpoints", view.endpoints_error or "unknown")
    e = view.endpoints
    text = Text.assemble("  endpoints of ", fmt.label(f"service/{service}"), "  ")
    text.append(f"{e.ready}/{e.total} ready", style="bold red" if e.ready == 0 else "green")
    if e.not_ready:
        text.append(f" ({e.not_ready} not ready)", style="yellow")
    text.append(f"  from {e.source}", style="dim")
    if e.ready == 0:
        text.append("  ")
        text.append(" PROBABLE CAUSE ", style="bold white on red")
    return text


def warnings_group(view: ClusterView, deployment: str, now: datetime) -> Group:
    head = Text.assemble("  warnings of ", fmt.label(f"deployment/{deployment}"),
                         (", its ReplicaSets and pods, newest first", "dim"))
    if view.warnings_error is not None:
        return Group(_not_read("warning events", view.warnings_error))
    if not view.warnings:
        return Group(head, Text("    no Warning event", style="dim"))
    lines: list = [head]
    for w in view.warnings[:REASONS_SHOWN]:
        line = Text("    ")
        line.append(fmt.literal(w.reason), style="bold red")
        line.append(f" ×{w.count}", style="bold")
        first = w.objects[0] if w.objects else ""
        more = f" +{len(w.objects) - 1}" if len(w.objects) > 1 else ""
        line.append(f"  {fmt.literal(first)}{more}", style="dim")
        if w.last_seen is not None:
            line.append(f", last {fmt.since(w.last_seen, now)} ago", style="dim")
        message = w.message[:MESSAGE_MAX] + ("…" if len(w.message) > MESSAGE_MAX else "")
        line.append(": ")
        line.append(fmt.literal(message))
        lines.append(line)
    if len(view.warnings) > REASONS_SHOWN:
        lines.append(Text(f"    +{len(view.warnings) - REASONS_SHOWN} more reasons",
                          style="dim"))
    return Group(*lines)


def policies_group(view: ClusterView, downstream: str, caller: str) -> Group:
    head = Text.assemble("  network policies selecting ", fmt.label(downstream), " or ",
                         fmt.label(caller))
    if view.policies_error is not None:
        return Group(_not_read("network policies", view.policies_error))
    if not view.policies:
        return Group(head, Text("    none: traffic between them is not restricted", style="dim"))
    lines: list = [head]
    for pv in view.policies:
        whose = " and ".join(caller if role == "caller" else downstream for role in pv.selects)
        lines.append(Text.assemble("    ", fmt.label(pv.policy.name, "bold"),
                                   f" ({', '.join(pv.policy.policy_types)}) selects ",
                                   fmt.label(whose)))
    for block in view.blocks:
        lines.append(Text.assemble("    ", ("BLOCKS ", "bold white on red"),
                                   (fmt.literal(block), "red")))
    return Group(*lines)


def cluster_group(view: ClusterView | None, *, downstream: str, caller: str,
                  now: datetime) -> Group:
    head = Text.assemble(("CLUSTER  ", "bold"),
                         ("what the API server says (runbook step 2; For Network Issues)", "dim"))
    if view is None:
        return Group(head, Text("  not gathered", style="dim"))
    return Group(head, endpoints_text(view, downstream),
                 warnings_group(view, downstream, now),
                 policies_group(view, downstream, caller))


def inside_text(check: InsideCheck | None) -> Text | None:
    """The health URL from inside a caller pod, under the host's HEALTH line."""
    if check is None:
        return None
    text = Text.assemble(("        from inside ", "dim"))
    if check.pod:
        text.append_text(fmt.label(f"pod/{check.pod}"))
    if check.tool:
        text.append(f" ({check.tool})", style="dim")
    text.append("  ")
    if check.status is not None:
        latency = ("" if check.latency_ms is None
                   else f" in {fmt.millis(check.latency_ms)}")
        text.append(f"{check.status}{latency}  ")
        if check.healthy:
            text.append("HEALTHY", style="bold green")
        else:
            text.append(" FAILING ", style="bold white on red")
        if check.error:
            text.append(f" ({fmt.literal(check.error)})", style="dim")
    elif check.tool:  # it ran and got no HTTP answer: say what broke
        text.append("NO ANSWER: ", style="bold red")
        text.append(fmt.literal(check.error or "unknown"), style="red")
    else:
        text.append("not checked: ", style="yellow")
        text.append(fmt.literal(check.error or "unknown"), style="yellow")
    return text


# Runbook Diagnosis 1-5: where the pane does each, from the console's host or
# from inside the cluster (the API server, or a pod through the exec API).
RUNBOOK_STEPS = (
    ("1", "affected service", "the board, from Prometheus (this host)"),
    ("2", "health", "HEALTH from this host + from inside a caller pod (exec)"),
    ("3", "recent changes", "rollout history from the API server + git log on this host"),
    ("4", "error patterns", "log tails from the API server"),
    ("5", "dependencies", "nc (host:port), curl / wget (URL) from inside a downstream pod (exec)"),
)


def runbook_steps_text() -> Text:
    text = Text.assemble(("RUNBOOK ", "bold"))
    for n, what, where in RUNBOOK_STEPS:
        text.append(f" {n} {what}: ", style="dim bold")
        text.append(where, style="dim")
        text.append(" ·" if n != RUNBOOK_STEPS[-1][0] else "", style="dim")
    return text
