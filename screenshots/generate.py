"""Regenerate the README screenshots from the demo at a fixed clock and seed:
python screenshots/generate.py"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from screenshots.scenes import SCENES, SIZE, build  # noqa: E402


async def shoot(name: str) -> Path:
    app, run_before = build(SCENES[name])
    async with app.run_test(size=SIZE) as pilot:
        await run_before(pilot)
        svg = app.export_screenshot(title=f"cbconsole --demo ({name})")
    path = HERE / f"{name}.svg"
    path.write_text(svg)
    return path


def main() -> int:
    for name in SCENES:
        print(asyncio.run(shoot(name)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
