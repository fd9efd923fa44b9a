"""What a change to the caller touches besides the breaker it is for (the
blast radius): the other services of the service map it calls, its env
names ending in _URL / _HOST (names only, never values), and what a
fallback mode means for users, in words."""

from __future__ import annotations

from console.model.fleet import Deployment
from console.model.servicemap import ServiceTarget

ENDINGS = ("_URL", "_HOST")


def endpoint_names(dep: Deployment | None, skip_prefix: str = "") -> list[str]:
    """The env names of `dep`'s containers that point at something it calls,
    sorted; the breaker's own (`skip_prefix`_...) left out."""
    if dep is None:
        return []
    names = {name for c in dep.containers for name in c.env
             if name.endswith(ENDINGS) and not (skip_prefix and name.startswith(skip_prefix + "_"))}
    return sorted(names)


def also_calls(target: ServiceTarget, dep: Deployment | None) -> str:
    """"deployment/api also calls user-svc, catalog-svc (service map); env
    USER_SVC_URL, REDIS_HOST: its rollout restarts the pods serving those too"."""
    name = target.caller
    others = [s for s in target.caller_also_for if s != target.service]
    parts = []
    if others:
        parts.append(f"{', '.join(others)} (service map)")
    names = endpoint_names(dep, target.env_prefix)
    if names:
        parts.append(f"env {', '.join(names)}")
    if not parts:
        known = "" if dep is not None else " (its pod template not read)"
        return f"deployment/{name}: no other service known to be called{known}"
    return (f"deployment/{name} also calls {'; '.join(parts)}: its rollout replaces the pods "
            "that serve those calls too")


def fallback_words(target: ServiceTarget) -> str:
    """What users get from the caller while `target.fallback_mode` is on."""
    mode, down = target.fallback_mode.lower(), target.downstream
    words = {
        "mock": (f"users get canned responses: {down} is not called, so what it does for them "
                 "does not happen (for a payment service: no real payment is taken)"),
        "cache": f"users get the last cached answers of {down}: they may be stale",
        "cached": f"users get the last cached answers of {down}: they may be stale",
        "default": (f"users get {target.caller}'s default answer instead of {down}'s "
                    "(an empty or standard result, as its code defines it)"),
        "queue": (f"requests are queued and sent to {down} later: users see them as pending "
                  "until it recovers"),
        "static": f"users get a fixed (static) answer instead of {down}'s",
        "fail-fast": f"users get an error at once instead of waiting for {down}",
        "degraded": f"users get a reduced service without {down}'s part",
    }
    return words.get(mode, f"mode {target.fallback_mode}: what users get is up to "
                     f"{target.caller}'s code (the console does not know this mode)")
