"""What a rollback changes in a pod template, in lines for the dialog: the
images, the env names, the resources. Env values are never shown (a value
may come from a secret, or be one): only which names appear, go or change."""

from __future__ import annotations


def _containers(template: dict) -> dict[str, dict]:
    spec = (template or {}).get("spec") or {}
    return {c.get("name", ""): c for c in spec.get("containers") or []}


def _env(container: dict) -> dict[str, dict]:
    return {e.get("name", ""): {k: v for k, v in e.items() if k != "name"}
            for e in container.get("env") or []}


def _resources(container: dict) -> dict[str, str]:
    out = {}
    for kind in ("requests", "limits"):
        for name, value in ((container.get("resources") or {}).get(kind) or {}).items():
            out[f"{kind}.{name}"] = str(value)
    return out


def changes(current: dict, target: dict) -> list[str]:
    """Lines from the running template to the target one; empty: no
    difference in images, env names or resources (other fields may differ)."""
    now, then = _containers(current), _containers(target)
    lines = []
    for name in [*now, *(n for n in then if n not in now)]:
        a, b = now.get(name), then.get(name)
        if a is None:
            lines.append(f"container {name}: added (image {b.get('image', '?')})")
            continue
        if b is None:
            lines.append(f"container {name}: removed")
            continue
        if a.get("image") != b.get("image"):
            lines.append(f"image {name}: {a.get('image', '?')} -> {b.get('image', '?')}")
        env_a, env_b = _env(a), _env(b)
        added = [n for n in env_b if n not in env_a]
        removed = [n for n in env_a if n not in env_b]
        changed = [n for n in env_b if n in env_a and env_a[n] != env_b[n]]
        parts = ([f"+{n}" for n in added] + [f"-{n}" for n in removed]
                 + [f"~{n}" for n in changed])
        if parts:
            lines.append(f"env {name}: {' '.join(parts)} (values not shown)")
        res_a, res_b = _resources(a), _resources(b)
        for key in [*res_a, *(k for k in res_b if k not in res_a)]:
            if res_a.get(key) != res_b.get(key):
                lines.append(f"resources {name}: {key} {res_a.get(key, 'unset')} -> "
                             f"{res_b.get(key, 'unset')}")
    return lines
