"""Token files as Kubernetes writes them (shared by the Prometheus and flag
service token tests)."""

from __future__ import annotations

import os
import secrets as _random
import shutil
from pathlib import Path


class ProjectedToken:
    """A token in the kubelet's projected-volume layout:
    DIR/token -> ..data/token, ..data -> ..<n>, ..<n>/token the value."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir()
        self.tokens: list[str] = []
        self._write()
        os.symlink("..data/token", root / "token")

    @property
    def path(self) -> Path:
        return self.root / "token"

    def _write(self) -> None:
        self.tokens.append(f"sa-token-{len(self.tokens) + 1:03d}-{_random.token_hex(12)}")
        new = self.root / f"..{len(self.tokens):04d}"
        new.mkdir()
        (new / "token").write_text(self.tokens[-1] + "\n")
        swap = self.root / "..data_tmp"
        os.symlink(new.name, swap)
        old = os.readlink(self.root / "..data") if (self.root / "..data").exists() else None
        os.replace(swap, self.root / "..data")  # the atomic swap
        if old:
            shutil.rmtree(self.root / old)

    def rotate(self) -> None:
        self._write()
