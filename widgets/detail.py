"""The detail pane: one service's instances and its transition history."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Static

from console.model.fleet import Alert, BreakerState, ServiceStatus, SourceHealth, Transition
from widgets import pager, redraw
from widgets.celltable import CellTable
from widgets.sources import detail as source_detail
from widgets import text as fmt
from widgets.transitions import TransitionList


def summary(service: ServiceStatus, now: datetime, alert: Alert | None = None,
            source: SourceHealth | None = None) -> Text:
    state = service.state
    count, total = service.split
    text = Text.assemble(
        fmt.clipped(service.service, 80, "bold"),
        *((" in ", fmt.clipped(service.site, 40, "bold")) if service.site else ()),
        "  ",
        fmt.state_text(state),
        f" {count}/{total}",
        f"  since {fmt.clock_time(service.since)} ({fmt.since(service.since, now)})",
        f"\nrecovery timeout {fmt.duration(service.recovery_timeout_s)}",
    )
    if state == BreakerState.OPEN:
        text.append(f"  ·  next half-open probe {fmt.countdown(service.next_probe, now)}")
    elif state == BreakerState.HALF_OPEN:
        text.append("  ·  probing")
    if alert is not None:
        text.append("\n")
        text.append_text(fmt.alert_text(alert))
        if alert.pager is not None:  # as Alertmanager holds it
            text.append("\n  Alertmanager: ")
            text.append_text(pager.managed_words(alert.pager))
    told = source_detail(source)  # its source STALE or PARTIAL: the why, the warnings
    if told is not None:
        text.append("\n")
        text.append_text(told)
    return text


def own_percent(value: float | None, threshold: float | None = None) -> Text:
    """A rate the breaker itself reports (Resilience4j): -1 is its "fewer calls
    than minimumNumberOfCalls", never a number; at or over the threshold in red."""
    if value is None:
        return Text("—", style="dim", justify="right")
    if value < 0:
        return Text("not enough calls", style="dim", justify="right")
    over = threshold is not None and value >= threshold
    return Text(f"{value:.1f}%", style="bold red" if over else "", justify="right")


def skipped_half_open(transitions: list[Transition]) -> bool:
    """Whether a breaker went OPEN -> CLOSED with no HALF-OPEN seen between."""
    return any(t.from_state == BreakerState.OPEN and t.to_state == BreakerState.CLOSED
               for t in transitions)


def instances_table(service: ServiceStatus, now: datetime, skipped_note: str | None = None
                    ) -> tuple[tuple[Text, ...], list[tuple[Text, ...]], list[Text]]:
    """(header, rows, notes) of the instances table."""
    # The breaker's own rates, where its library exports them: what it trips on.
    own_fail = any(i.breaker_failure_percent is not None for i in service.instances)
    own_slow = any(i.breaker_slow_call_percent is not None for i in service.instances)
    threshold = service.failure_rate_threshold
    titles = ["INSTANCE", "STATE", "FOR|", "FAIL/s|", "OK/s|", "REJ/s|"]
    if own_fail:
        titles.append("OWN FAIL%|")
    if own_slow:
        titles.append("OWN SLOW%|")
    header = tuple(Text(t.rstrip("|"), justify="right" if t.endswith("|") else "left")
                   for t in titles)
    rows: list[tuple[Text, ...]] = []
    notes: list[Text] = []
    for inst in sorted(service.instances, key=lambda i: (i.state.rank, i.instance)):
        own = []
        if own_fail:
            own.append(own_percent(inst.breaker_failure_percent, threshold))
        if own_slow:
            own.append(own_percent(inst.breaker_slow_call_percent))
        rows.append((
            fmt.clipped(inst.instance, 48),  # a longer name must not hide the state
            fmt.state_text(inst.state),
            Text(fmt.since(inst.since, now), justify="right"),
            fmt.rate(inst.failure_rate),
            fmt.rate(inst.success_rate),
            fmt.rate(inst.rejected_rate),
            *own,
        ))
        if inst.state == BreakerState.CONFLICT:
            states = " and ".join(s.label for s in inst.reported) or "several states"
            notes.append(
                Text.assemble(
                    ("CONFLICT ", fmt.STATE_STYLE[BreakerState.CONFLICT]),
                    fmt.label(inst.instance),
                    f" reports {states} as current at once: the old state's series "
                    "was never cleared (a gauge set to 1 on change and never reset). "
                    "Trust neither until the exporter is fixed.",
                )
            )
    if own_fail or own_slow:
        trips = f"; opens at {threshold:g}% failures" if threshold is not None else ""
        notes.append(Text(f"OWN: the breaker's own rates{trips}", style="dim"))
    if skipped_note:  # once, not per transition
        notes.append(Text.assemble(("OPEN→CLOSED with no HALF-OPEN seen: ", "bold"),
                                   (fmt.literal(skipped_note), "dim")))
    if not service.instances:
        notes.insert(0, Text("no instance reports this breaker", style="dim"))
    return header, rows, notes


def table_key(service: ServiceStatus, now: datetime, skipped_note: str | None) -> tuple:
    """What instances_table draws, as it draws it (ages and rates in its words)."""
    return (service.failure_rate_threshold, skipped_note, tuple(
        (i.instance, i.state, i.reported, fmt.since(i.since, now), fmt.rate_str(i.failure_rate),
         fmt.rate_str(i.success_rate), fmt.rate_str(i.rejected_rate),
         i.breaker_failure_percent, i.breaker_slow_call_percent) for i in service.instances))


def _same(new: list[Transition], shown: tuple[Transition, ...] | None) -> bool:
    return shown is not None and len(new) == len(shown) and all(
        a is b for a, b in zip(new, shown))


class ServiceDetail(Horizontal):
    """Per-instance states on the left, transition history on the right."""

    DEFAULT_CSS = """
    ServiceDetail { height: 14; border-top: solid $primary; }
    ServiceDetail #detail-left { width: 1fr; padding: 0 1; }
    ServiceDetail #detail-history { width: 1fr; padding: 0 1; border-left: solid $primary-darken-2; }
    ServiceDetail.-stale { tint: $background 45%; }
    """

    _transitions_shown: tuple[Transition, ...] | None = None
    _service_shown: tuple[str, str] | None = None

    def compose(self):
        with VerticalScroll(id="detail-left"):
            yield Static(id="detail-summary")
            yield CellTable(id="detail-instances")
        with Vertical(id="detail-history"):
            yield Static(Text("Transitions, newest first", style="bold"))
            yield TransitionList(id="detail-transitions")

    def show(
        self,
        service: ServiceStatus | None,
        transitions: list[Transition],
        now: datetime,
        alert: Alert | None = None,
        half_open_note: str | None = None,
        source: SourceHealth | None = None,
    ) -> None:
        summary_w = self.query_one("#detail-summary", Static)
        if service is None:
            redraw.show_text(summary_w, Text("No service selected.", style="dim"))
            self.query_one("#detail-instances", CellTable).show((), [], key=())
            self.query_one(TransitionList).clear()
            self._transitions_shown = None
            return
        redraw.show_text(summary_w, summary(service, now, alert, source))
        skipped = half_open_note if half_open_note and skipped_half_open(transitions) else None
        self.query_one("#detail-instances", CellTable).show(
            *instances_table(service, now, skipped), key=table_key(service, now, skipped))
        if not _same(transitions, self._transitions_shown):
            # Up to 200 rows that do not age: built again only when they change.
            history = self.query_one(TransitionList)
            history.show(transitions)
            if service.key != self._service_shown:
                history.scroll_home(animate=False)  # another service: its newest first
            self._transitions_shown = tuple(transitions)
        self._service_shown = service.key
