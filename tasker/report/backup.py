"""Copies of the task file under `backup/` (SPEC II.7.4).

A real run copies the task file to `<basename>_<stamp>[.k]` unless a
backup of the same base name already has identical content, so re-running an
unchanged file does not pile up copies.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Iterator, Optional

from tasker.report.paths import bounded_name
from tasker.report.private import make_private_dirs, open_private

_STAMP = r"\d{8}_\d{6}_\d{6}(?:\.\d+)?"
# Room for `_<stamp>` and the `.k` of copies made in the same microsecond.
_STAMP_ROOM = len("_20251005_140311_123456.999")
_CHUNK = 1 << 20


def backup_base_name(task_file: Path) -> str:
    """The task file's base name as backups are named, bounded so that the stamp fits
    (a 240-character name would make every copy fail: paths.bounded_name)."""
    return bounded_name(Path(task_file).name, _STAMP_ROOM)


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _existing_backups(backup_dir: Path, basename: str) -> Iterator[Path]:
    """Earlier backups of `basename` (exact `<basename>_<stamp>[.k]` names only)."""
    pattern = re.compile(re.escape(basename) + "_" + _STAMP + r"\Z")
    try:
        entries = list(os.scandir(backup_dir))
    except FileNotFoundError:
        return
    for entry in entries:
        if pattern.match(entry.name) and entry.is_file():
            yield Path(entry.path)


def _has_identical(backup_dir: Path, basename: str, data: bytes, sha: str) -> bool:
    """True when an existing backup of `basename` has the same content."""
    for candidate in _existing_backups(backup_dir, basename):
        try:
            # Size first: hashing is only needed for same-sized candidates.
            if candidate.stat().st_size == len(data) and file_sha256(candidate) == sha:
                return True
        except OSError:
            continue  # vanished or unreadable: it cannot count as a backup
    return False


def _create_exclusive(backup_dir: Path, name: str, data: bytes) -> Path:
    """Write `data` to `name`, or `name.1`, `name.2` … whichever does not exist yet (0600:
    a task file may hold secrets)."""
    k = 0
    while True:
        target = backup_dir / (name if k == 0 else f"{name}.{k}")
        try:
            # O_EXCL never overwrites, even when two runs start in the same microsecond.
            fd = open_private(target, os.O_WRONLY | os.O_EXCL)
        except FileExistsError:
            k += 1
            continue
        try:
            with open(fd, "wb") as handle:
                handle.write(data)
        except OSError:
            os.unlink(target)  # a half copy must not pass for a backup
            raise
        return target


def backup_task_file(task_file: Path, backup_dir: Path, stamp: str,
                     data: Optional[bytes] = None) -> Optional[Path]:
    """Copy the task file into `backup_dir` unless an identical backup exists; the new path
    or None. `data` is the file as it was read (a pipe cannot be read twice)."""
    task_file, backup_dir = Path(task_file), Path(backup_dir)
    if data is None:
        data = task_file.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    basename = backup_base_name(task_file)
    if _has_identical(backup_dir, basename, data, sha):
        return None
    make_private_dirs(backup_dir)
    return _create_exclusive(backup_dir, f"{basename}_{stamp}", data)
