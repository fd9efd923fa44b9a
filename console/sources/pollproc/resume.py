"""A restarted poll process carries on where its predecessor was: the
source's state trackers get the last good poll's states, and their backfill
reads only what came after that poll (the transitions in the gap, none
twice). Keyed by site, then as a StateTracker keys them (service, instance)."""

from __future__ import annotations

from console.model.fleet import BreakerState, FleetSnapshot


def resume_state(last: FleetSnapshot | None) -> dict | None:
    """From the console's last good snapshot: each instance's known state
    and since, each service's last transition, and when that poll was."""
    if last is None:
        return None
    states, transitions = {}, {}
    for service in last.services:
        for i in service.instances:
            if i.state != BreakerState.UNKNOWN:
                states[(service.site, service.service, i.instance)] = (i.state, i.since)
        if service.last_transition is not None:
            transitions[(service.site, service.service)] = service.last_transition
    return {"at": last.fetched_at.timestamp(), "states": states, "last_transition": transitions}


def trackers(source) -> dict[str, object]:
    """The source's StateTracker per site (one, site "", before issue 18's
    per-site trackers)."""
    found = getattr(source, "_trackers", None)
    return dict(found) if found else {"": source._tracker}


def prime(source, resume: dict) -> None:
    after = resume["at"]
    for site, tracker in trackers(source).items():
        for (s, service, instance), (state, since) in resume["states"].items():
            if s == site:
                key = (service, instance)
                tracker.state[key] = BreakerState(state)
                tracker.since[key] = since
                tracker._seen[key] = after
        tracker.last_transition.update({service: t for (s, service), t
                                        in resume["last_transition"].items() if s == site})
        _backfill_after(tracker, after)


def _backfill_after(tracker, after: float) -> None:
    backfill = tracker.backfill

    def gap_only(states):
        return backfill({key: {ts: s for ts, s in points.items() if ts > after}
                         for key, points in states.items()})

    tracker.backfill = gap_only  # this tracker only, for its one backfill
