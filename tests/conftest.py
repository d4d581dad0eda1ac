"""Fixtures shared by unit and end-to-end tests."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Callable, Iterator, List, Optional

import pytest


def _fill(directory: Path, free: int) -> None:
    """Fill the filesystem of `directory` until about `free` bytes are left."""
    stats = os.statvfs(directory)
    available = stats.f_bavail * stats.f_frsize
    if available > free:
        with open(directory / "filler", "wb") as handle:
            handle.write(b"\0" * (available - free))


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Callable[..., Optional[Path]]]:
    """A factory of small tmpfs mounts for fault tests: `mount("256k", free=8192)`.

    `free`, when given, fills the new filesystem until that many bytes are left.
    Returns None where mounting is not possible (not root, or a sandbox that forbids
    it); the test then injects the failure another way. Everything mounted is
    unmounted at the end.
    """
    mounted: List[Path] = []

    def mount(size: str, free: Optional[int] = None) -> Optional[Path]:
        if os.geteuid() != 0:
            return None
        point = tmp_path / f"tmpfs{len(mounted)}"
        point.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0777",
                               "tmpfs", str(point)], capture_output=True)
        if done.returncode != 0:
            return None
        mounted.append(point)
        if free is not None:
            _fill(point, free)
        return point

    yield mount
    for point in reversed(mounted):
        subprocess.run(["umount", "-l", str(point)], capture_output=True)
