"""The diagnosis pane: the runbook's Diagnosis steps for the selected service
(health, rollouts, pods, dependencies, logs) and the next step they point to."""

from __future__ import annotations

from datetime import datetime
from typing import Mapping

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Static

from console.diagnosis.findings import LOG_TAIL, Diagnosis, WorkloadView
from console.model.probe import HealthResult
from widgets import redraw
from widgets import text as fmt
from console.model.commits import CommitsView
from widgets.commits import commits_text
from widgets.clusterview import cluster_group, inside_text, runbook_steps_text

LOG_LINE_MAX = 400  # characters of one log line shown


def health_text(health: HealthResult | None) -> Text:
    text = Text.assemble(("HEALTH  ", "bold"))
    if health is None:
        return text.append("not checked", style="dim")
    text.append_text(fmt.label(health.url))
    text.append("  ")
    if health.status is not None:
        latency = "" if health.latency_ms is None else f" in {fmt.millis(health.latency_ms)}"
        text.append(f"{health.status}{latency}  ")
    verdict = health.healthy
    if verdict is True:
        text.append("HEALTHY", style="bold green")
    elif verdict is False:
        text.append(" FAILING ", style="bold white on red")
    elif health.unknown_from_here:  # no answer to this host: not the service's verdict
        text.append("unknown from here", style="bold yellow")
        text.append(f": {fmt.literal(health.error or 'no answer')}", style="yellow")
    else:
        text.append(f"not checked: {fmt.literal(health.error or 'no verdict')}", style="dim")
    return text


def next_step_text(d: Diagnosis, keys: Mapping[str, str]) -> Text:
    """`keys`: each mitigation's key by its registry name (the app's bindings)."""
    step = d.next_step
    text = Text.assemble(("NEXT    ", "bold"))
    if step.option is not None:
        text.append(f"Option {step.option}: ", style="bold cyan")
    text.append(fmt.literal(step.text(keys)))
    key = keys.get(step.mitigation) if step.mitigation else None
    if key:
        text.append("  press ")
        text.append(key, style="bold reverse")
    return text


def _ago(at: datetime, now: datetime) -> str:
    return f"{fmt.since(at, now)} ago"


def not_read(what: str, why: str, indent: str = "  ") -> Text:
    """A source that could not be read, said as such: never shown as empty."""
    return Text.assemble(indent, (f"{what} not read: ".lstrip(), "bold yellow"),
                         (fmt.literal(why), "yellow"))


def workload_table(view: WorkloadView, now: datetime, commits: CommitsView | None = None) -> Group:
    head = Text.assemble(
        (f"{view.role.upper()} ", "bold"),
        fmt.label(f"deployment/{view.name}", "bold"),
        "  ",
    )
    if view.rollout is not None:
        style = "red" if view.rollout.failed else "" if view.rollout.done else "yellow"
        head.append(fmt.literal(view.rollout.message), style=style)
    if view.deployment is not None:
        d = view.deployment
        head.append(f"  {d.ready_replicas}/{d.replicas} ready")
        if d.paused:
            head.append("  PAUSED", style="bold yellow")
    parts: list = [head]
    for what in ("deployment", "rollout history", "pods"):
        why = view.why_unread(what)
        if why is not None:
            parts.append(not_read(what, why))
    if view.revisions:
        table = Table(box=None, pad_edge=False, expand=True, header_style="dim")
        for title, justify in (("REV", "right"), ("CREATED", "left"), ("CHANGE-CAUSE", "left")):
            table.add_column(title, justify=justify, no_wrap=True)
        table.columns[2].overflow = "ellipsis"
        table.columns[2].ratio = 1
        for rv in reversed(view.revisions[-4:]):  # newest first, the last few
            rev = rv.revision
            cause = fmt.label(rev.change_cause or "<none>")
            short = commits.link(view.name, rev.revision) if commits else None
            if short:  # its image tag or change-cause names a recent commit
                cause = Text.assemble((f"commit {short} ", "bold dark_orange3"), cause)
            if rv.likely_cause:
                cause = Text.assemble(("LIKELY CAUSE ", "bold white on dark_orange3"), cause)
            table.add_row(
                Text(f"{rev.revision}{'*' if rv.current else ' '}", style="bold" if rv.current else ""),
                f"{fmt.clock_or_date(rev.created_at, now)} ({_ago(rev.created_at, now)})",
                cause,
            )
        parts.append(table)
    if view.pods:
        pods = Text("  pods: ", style="dim")
        for pod in view.pods[:6]:
            pods.append_text(fmt.label(pod.name))
            pods.append(" ready " if pod.ready else " NOT READY ", style="" if pod.ready else "bold red")
            pods.append(f"{pod.restarts} restarts, {fmt.since(pod.created_at, now)} old; ")
        if len(view.pods) > 6:
            pods.append(f"+{len(view.pods) - 6} more")
        parts.append(pods)
    return Group(*parts)


def dependencies_text(d: Diagnosis) -> Text:
    text = Text.assemble(("DEPENDENCIES  ", "bold"))
    if not d.dependencies:
        return text.append("none listed in the service map", style="dim")
    for check in d.dependencies:
        text.append("\n  ")
        text.append_text(fmt.label(check.address))
        if check.status is not None:  # a URL: curl -v from the pod
            latency = "" if check.latency_ms is None else f" in {fmt.millis(check.latency_ms)}"
            text.append(f" {check.status}{latency} ")
            text.append("FAILING" if check.failing else "OK",
                        style="bold red" if check.failing else "green")
        elif check.reachable is True:
            text.append(" reachable", style="green")
        elif check.reachable is False:
            text.append(" UNREACHABLE", style="bold red")
        else:
            text.append(" not checked", style="yellow")
        if check.pod:
            text.append(" from ")
            text.append_text(fmt.label(check.pod))
        if check.tool:
            text.append(f" ({check.tool})", style="dim")
        detail = check.detail
        if check.reachable is None:  # "not checked" is said once
            detail = detail.removeprefix("not checked: ")
        if detail:
            text.append(": ")
            text.append(fmt.literal(detail), style="dim")
    return text


def mitigation_state_text(d: Diagnosis) -> Text:
    text = Text.assemble(("FALLBACK ", "bold"))
    if d.fallback_on is None:
        why = d.caller.why_unread("deployment") or f"deployment/{d.caller.name} unknown"
        text.append_text(not_read("", why, indent=""))
    else:
        text.append("ON" if d.fallback_on else "off", style="bold yellow" if d.fallback_on else "")
    text.append(f" ({fmt.literal(d.target.env_prefix)}_FALLBACK_ENABLED on {fmt.literal(d.target.caller)})")
    text.append("   FLAG ", style="bold")
    text.append_text(fmt.label(d.target.flag))
    if d.flag is not None:
        text.append(" enabled" if d.flag.enabled else " DISABLED",
                    style="" if d.flag.enabled else "bold yellow")
    else:
        text.append_text(not_read("", d.flag_error or "unknown", indent=" "))
    return text


def logs_group(d: Diagnosis) -> Group:
    parts: list = []
    for view in (d.downstream, d.caller):
        parts.append(
            Text.assemble(
                (f"{view.role.upper()} LOGS ", "bold"),
                fmt.label(view.name),
                (f"  | grep {view.log_filter}, newest first", "dim"),
            )
        )
        why = view.why_unread("logs")
        if why is not None:
            parts.append(not_read("logs", why))
        else:
            for what, why in view.unread:
                if what.startswith("logs of "):
                    parts.append(not_read(what, why))
            if not view.logs:
                pods = len(view.log_pods)
                parts.append(Text(f"  no matching line in the last {LOG_TAIL} lines of {pods} "
                                  f"pod{'s' if pods != 1 else ''}", style="dim"))
        for line in view.logs:
            # The pod's own suffix tells the pods apart; the name is long.
            pod = line.pod.rsplit("-", 1)[-1]
            text = fmt.literal(line.text[:LOG_LINE_MAX])
            if len(line.text) > LOG_LINE_MAX:  # one huge line must not fill the pane
                text += f"… (+{len(line.text) - LOG_LINE_MAX} characters)"
            parts.append(Text.assemble((f"{fmt.literal(pod)} ", "dim"), text))
        parts.append(Text(""))
    return Group(*parts)


class DiagnosisPane(Horizontal):
    """Findings on the left, filtered log lines on the right."""

    DEFAULT_CSS = """
    DiagnosisPane #diag-left { width: 3fr; padding: 0 1; }
    DiagnosisPane #diag-logs { width: 2fr; padding: 0 1; border-left: solid $primary-darken-2; }
    DiagnosisPane.-stale { tint: $background 45%; }
    """

    def compose(self):
        with VerticalScroll(id="diag-left"):
            yield Static(id="diag-findings")
        with VerticalScroll(id="diag-logs"):
            yield Static(id="diag-log-lines")

    def show(
        self,
        diagnosis: Diagnosis | None,
        now: datetime,
        *,
        service: str | None,
        loading: bool = False,
        error: str | None = None,
        keys: Mapping[str, str] | None = None,
    ) -> None:
        """`keys`: each mitigation's key by its registry name, for the next step."""
        findings = self.query_one("#diag-findings", Static)
        logs = self.query_one("#diag-log-lines", Static)
        status = Text()
        if loading:
            status.append("gathering diagnosis…", style="italic yellow")
        if error:
            status.append(f"diagnosis failed: {fmt.literal(error)}", style="bold red")
        if diagnosis is None or diagnosis.target.service != service:
            if not status:
                status = Text(
                    "No service selected." if service is None else "press g to diagnose",
                    style="dim",
                )
            redraw.show_text(findings, status)
            redraw.show_text(logs, "")
            return
        d = diagnosis
        title = Text.assemble(
            fmt.label(d.target.service, "bold"),
            f"  namespace {fmt.literal(d.target.namespace)}",
            f"  gathered {fmt.clock_time(d.gathered_at)} ({_ago(d.gathered_at, now)}, g refreshes)",
            "  ",
        )
        title.append_text(status)
        redraw.always(findings,
            Group(
                title,
                next_step_text(d, keys or {}),
                health_text(d.health),
                *filter(None, [inside_text(d.inside)]),
                mitigation_state_text(d),
                Text(""),
                workload_table(d.downstream, now, d.commits),
                workload_table(d.caller, now, d.commits),
                *filter(None, [commits_text(d.commits, now)]),
                Text(""),
                cluster_group(d.cluster, downstream=d.target.downstream, caller=d.target.caller,
                              now=now),
                Text(""),
                dependencies_text(d),
                Text(""),
                runbook_steps_text(),
            )
        )
        redraw.always(logs, logs_group(d))
