"""What crosses the pipe from the poll process: a snapshot comes out as it
went in (every field of every model, built from the models' own field
lists, so a field added later is tested without a change here), an
unchanged service is not rebuilt, and an error is raised again with its
type and its words (the header's words stay identical)."""

from __future__ import annotations

import pickle
import types
import typing
from datetime import datetime, timedelta, timezone
from enum import Enum

import pytest
from pydantic import BaseModel

from console.errors import SourceError, TimedOut, Unauthorized, Unreachable, describe_error
from console.model.fleet import (
    BreakerState, FleetSnapshot, InstanceStatus, Observed, ServiceStatus, Transition,
)
from console.sources.pollproc.resume import resume_state
from console.sources.pollproc.wire import (
    CHUNK, SnapshotDecoder, SnapshotEncoder, decode_error, encode_error,
)
from console.sources.prometheus.http import PollTimedOut
from console.sources.prometheus.profiles import ConfigError

pytestmark = pytest.mark.unit

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def value_of(annotation, name: str):
    """A value of `annotation` that no field has by default."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return value_of(next(a for a in args if a is not type(None)), name)
    if origin is tuple:
        return tuple(value_of(a, f"{name}{i}") for i, a in enumerate(args) if a is not Ellipsis)
    if origin is dict:
        return {value_of(args[0], f"{name}-key"): value_of(args[1], name)}
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return full(annotation)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return list(annotation)[-1]
    return {str: f"x-{name}", bool: True, int: 7, float: 1.25,
            datetime: T0 + timedelta(seconds=len(name))}[annotation]


def full(model: type[BaseModel]) -> BaseModel:
    """`model` with every field set, none to its default."""
    hints = typing.get_type_hints(model)
    return model(**{name: (field.default is not True) if hints[name] is bool
                    else value_of(hints[name], name)
                    for name, field in model.model_fields.items()})


def unset_fields(model: BaseModel, path: str = "") -> list[str]:
    """The fields (nested too) still at their default."""
    found = []
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        if not field.is_required() and value == field.get_default(call_default_factory=True):
            found.append(f"{path}{name}")
        for item in value if isinstance(value, tuple) else (value,):
            if isinstance(item, BaseModel):
                found += unset_fields(item, f"{path}{name}.")
    return found


def service(name: str, rate: float = 1.5, site: str = "") -> ServiceStatus:
    t = Transition(service=name, instance=f"{name}-0", from_state=BreakerState.CLOSED,
                   to_state=BreakerState.OPEN, at=T0, observed=Observed.BACKFILL, site=site)
    return ServiceStatus(
        service=name, site=site, recovery_timeout_s=30.0, failure_rate_threshold=50.0,
        last_transition=t,
        instances=(
            InstanceStatus(instance=f"{name}-0", state=BreakerState.OPEN, since=T0,
                           reported=(BreakerState.OPEN,), failure_rate=rate, success_rate=2.0),
            InstanceStatus(instance=f"{name}-1", state=BreakerState.CONFLICT,
                           reported=(BreakerState.OPEN, BreakerState.CLOSED)),
        ),
    )


def snapshot(*services: ServiceStatus, at: datetime = T0) -> FleetSnapshot:
    return full(FleetSnapshot).model_copy(update={"fetched_at": at, "services": services})


def changed_keys(payload: dict) -> list[tuple[str, str]]:
    return [s.key for chunk in payload["changed"] for s in pickle.loads(chunk)]


def test_a_snapshot_crosses_whole_every_field_of_every_model_included():
    sent = full(FleetSnapshot)
    assert unset_fields(sent) == []
    got = SnapshotDecoder().decode(SnapshotEncoder().encode(sent))
    assert got == sent
    assert unset_fields(got) == []
    assert got.services[0].site == sent.services[0].site != ""
    assert got.sources == sent.sources and got.sources[0].warnings
    # Worked out in the poll process, the same as the console would.
    assert [s.error_percent for s in got.services] == [
        s.model_copy().error_percent for s in sent.services]


def test_only_changed_services_cross_again_and_gone_ones_go():
    encoder, decoder = SnapshotEncoder(), SnapshotDecoder()
    first = decoder.decode(encoder.encode(snapshot(service("pay"), service("users"))))
    later = T0 + timedelta(seconds=1)
    payload = encoder.encode(snapshot(service("pay", rate=9.0), service("users"), at=later))
    assert changed_keys(payload) == [("", "pay")]
    second = decoder.decode(payload)
    assert second.service("users") is first.service("users")  # not rebuilt
    assert second.service("pay").failure_rate == 9.0
    assert second.fetched_at == later
    third = decoder.decode(encoder.encode(snapshot(service("users"), at=later)))
    assert [s.service for s in third.services] == ["users"]


def test_one_service_in_two_sites_is_two_rows_each_changing_alone():
    encoder, decoder = SnapshotEncoder(), SnapshotDecoder()
    decoder.decode(encoder.encode(snapshot(service("pay", site="eu"), service("pay", site="us"))))
    payload = encoder.encode(snapshot(service("pay", site="eu"),
                                      service("pay", rate=4.0, site="us")))
    assert changed_keys(payload) == [("us", "pay")]
    got = decoder.decode(payload)
    assert [(s.key, s.failure_rate) for s in got.services] == [
        (("eu", "pay"), 1.5), (("us", "pay"), 4.0)]


def test_a_new_poll_process_sends_everything_and_the_decoder_takes_it():
    decoder = SnapshotDecoder()
    decoder.decode(SnapshotEncoder().encode(snapshot(service("pay"), service("users"))))
    fresh = SnapshotEncoder()  # a restarted child knows nothing of what was sent
    got = decoder.decode(fresh.encode(snapshot(service("users"))))
    assert [s.service for s in got.services] == ["users"]


def test_what_a_new_poll_process_resumes_from_is_keyed_by_site():
    resume = resume_state(snapshot(service("pay", site="eu"), service("pay", site="us")))
    assert set(resume["states"]) == {("eu", "pay", "pay-0"), ("eu", "pay", "pay-1"),
                                     ("us", "pay", "pay-0"), ("us", "pay", "pay-1")}
    assert resume["last_transition"][("us", "pay")].site == "us"
    assert resume["at"] == T0.timestamp()


@pytest.mark.parametrize("error", [
    Unreachable("Prometheus at http://p:9090 unreachable: connection refused"),
    PollTimedOut("Prometheus at http://p:9090 timed out after 2 s", 2.0),
    TimedOut("took too long", 5.0),
    Unauthorized("HTTP 401"),
    ConfigError("Prometheus at http://p rejected the state query `x`: bad_data"),
    SourceError("Prometheus at http://p answered HTTP 503 Service Unavailable"),
    KeyError("instances"),  # a bug in a source: named by its type, as in-process
])
def test_an_error_keeps_its_type_and_its_words(error):
    got = decode_error(encode_error(error))
    assert type(got) is type(error)
    assert describe_error(got) == describe_error(error)
    assert getattr(got, "seconds", None) == getattr(error, "seconds", None)


def test_an_error_type_from_outside_the_console_is_a_source_error_with_its_words():
    got = decode_error(("os:system", "no such thing", {}, ("no such thing",)))
    assert type(got) is SourceError and str(got) == "no such thing"


def test_a_fleet_bigger_than_one_chunk_crosses_whole_in_order():
    sent = snapshot(*(service(f"svc-{i:04d}") for i in range(2 * CHUNK + 3)))
    got = SnapshotDecoder().decode(SnapshotEncoder().encode(sent))
    assert got == sent
