"""What crosses the pipe between the poll process and the console: a poll's
snapshot as the models themselves, pickled (every field crosses, a field
added to a model later included: pickle carries the objects' own state, and
the round trip test builds every field from the models' field lists); a
service sent again only when it changed (in chunks, each unpickled apart);
and errors as their type's name, message and plain attributes, so the
console raises the same type with the same words as an in-process source."""

from __future__ import annotations

import builtins
import importlib
import pickle
import time

from console.model.fleet import FleetSnapshot, ServiceStatus
from console.sources.base import SourceError

_PLAIN = (str, int, float, bool, type(None))
#: Services unpickled per call: unpickling holds the GIL throughout, so a
#: key press waits for one chunk (~1 ms at 32), not for all (~40-60 ms at
#: 5,000 breakers); after each the decoder gives the GIL up (sleep(0)), so
#: a screen that is drawing gets it back at once, not after the 5 ms switch
#: interval (drawing and decoding at once drew at half speed).
CHUNK = 32
_PROTOCOL = pickle.HIGHEST_PROTOCOL


class SnapshotEncoder:
    """In the poll process: a snapshot -> the payload, with only the
    services that changed since the last payload this encoder made."""

    def __init__(self) -> None:
        self._last: dict[tuple[str, str], ServiceStatus] = {}

    def encode(self, snapshot: FleetSnapshot) -> dict:
        services = {s.key: s for s in snapshot.services}
        previous = self._last
        changed = [s for key, s in services.items() if previous.get(key) != s]
        for service in changed:
            service.warm()  # carried in the pickle: not worked out on the console's event loop
        keys = tuple(services)
        self._last = services
        return {
            # Everything but the services, whatever fields a snapshot has.
            "rest": pickle.dumps(snapshot.model_copy(update={"services": ()}), _PROTOCOL),
            "keys": None if keys == tuple(previous) else keys,
            "changed": [pickle.dumps(changed[i:i + CHUNK], _PROTOCOL)
                        for i in range(0, len(changed), CHUNK)],
        }


class SnapshotDecoder:
    """In the console: payloads -> snapshots. A service that did not change
    is the same ServiceStatus object as in the last snapshot (the board and
    the history skip it by identity)."""

    def __init__(self) -> None:
        self._keys: tuple[tuple[str, str], ...] = ()
        self._services: dict[tuple[str, str], ServiceStatus] = {}
        self.last: FleetSnapshot | None = None

    def decode(self, payload: dict) -> FleetSnapshot:
        if payload["keys"] is not None:
            self._keys = payload["keys"]
            wanted = set(self._keys)
            self._services = {k: v for k, v in self._services.items() if k in wanted}
        for chunk in payload["changed"]:
            for service in pickle.loads(chunk):
                self._services[service.key] = service
            time.sleep(0)
        rest: FleetSnapshot = pickle.loads(payload["rest"])
        self.last = rest.model_copy(
            update={"services": tuple(self._services[key] for key in self._keys)})
        return self.last


# --- Errors ---------------------------------------------------------------------


def encode_error(error: BaseException) -> tuple[str, str, dict, tuple]:
    kind = type(error)
    attrs = {k: v for k, v in vars(error).items() if isinstance(v, _PLAIN)}
    args = error.args if all(isinstance(a, _PLAIN) for a in error.args) else (str(error),)
    return f"{kind.__module__}:{kind.__qualname__}", str(error), attrs, args


def decode_error(encoded: tuple[str, str, dict, tuple]) -> BaseException:
    """The error the poll process raised, as the same type (a console or a
    built-in exception type; anything else is a SourceError with its words)."""
    name, message, attrs, args = encoded
    kind = _error_type(name)
    if kind is None:
        return SourceError(message)
    error = kind.__new__(kind)
    error.args = args  # str(error) as in the poll process (a KeyError quotes its key)
    error.__dict__.update(attrs)
    return error


def _error_type(name: str) -> type[BaseException] | None:
    module_name, _, qualname = name.partition(":")
    if module_name == "builtins":
        found = getattr(builtins, qualname, None)
    elif module_name.startswith("console."):
        try:
            found = importlib.import_module(module_name)
        except ImportError:
            return None
        for part in qualname.split("."):
            found = getattr(found, part, None)
    else:
        return None
    if isinstance(found, type) and issubclass(found, Exception):
        return found
    return None
