"""Files and directories that may hold secrets: 0600 files in 0700 directories.

The log, the state file, the JSON report, the task-file backup and the lock
file can all carry outputs or globals. They are created readable by the owner
only, whatever the umask (a umask can only take bits away, so the mode is set
again right after creating). Directories that already exist are the operator's
and are never changed.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import List

FILE_MODE = 0o600
DIR_MODE = 0o700


def make_private_dirs(path: Path) -> None:
    """Create `path` and its missing parents with mode 0700; existing ones stay as they are.

    OSError when a directory cannot be created (the caller says which and why).
    """
    missing: List[Path] = []
    current = Path(path)
    while not os.path.isdir(current):
        if os.path.lexists(current):  # a file (or a dangling link) where a directory goes
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(current))
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, DIR_MODE)
        except FileExistsError:
            if os.path.isdir(directory):
                continue  # another run made it at the same moment: it keeps its mode
            raise
        os.chmod(directory, DIR_MODE)  # (the umask may have taken bits away)


def open_private(path: Path, flags: int) -> int:
    """A descriptor of `path` opened with `flags`; a file it creates has mode 0600.

    An existing file is opened as it is (its mode is the operator's business).
    """
    try:
        fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        if flags & os.O_EXCL:
            raise
        return os.open(path, flags)
    try:
        os.fchmod(fd, FILE_MODE)
    except OSError:
        pass  # a filesystem without modes (e.g. vfat): nothing more can be done
    return fd
