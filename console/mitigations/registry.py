"""The mitigations the console offers, in the order of their keys on the
footer and in the help. Adding one: its module, and one line here."""

from __future__ import annotations

from console.mitigations.base import Mitigation
from console.mitigations.fallback import Fallback
from console.mitigations.flag import Flag
from console.mitigations.restart import Restart
from console.mitigations.rollback import Rollback
from console.mitigations.smoke import Smoke

MITIGATIONS: tuple[Mitigation, ...] = (
    Restart(),
    Rollback(),
    Fallback(),
    Flag(),
    Smoke(),
)
BY_NAME: dict[str, Mitigation] = {m.name: m for m in MITIGATIONS}
