"""Atomic file replacement: write a temp file beside the target, then rename.

Readers (a later `--start-from`, a CI job reading the JSON report) therefore
see either the old complete file or the new complete file, never a torn one,
even when the writer is killed with SIGKILL in the middle of a write.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Iterator, Tuple, Union

from tasker.report.private import make_private_dirs

# Reports and state files can hold outputs and (masked) globals: owner only.
DEFAULT_MODE = 0o600


def _mkstemp(path: Path) -> Tuple[int, str]:
    """Create the temp file beside `path`, creating parent directories on demand."""
    import tempfile  # (imported when a file is written: --validate-only writes none)

    where, prefix = str(path.parent), f".{path.name}."
    try:
        return tempfile.mkstemp(dir=where, prefix=prefix, suffix=".tmp")
    except FileNotFoundError:
        # Only pay for mkdir when the directory is missing: this runs after every task.
        make_private_dirs(path.parent)
        return tempfile.mkstemp(dir=where, prefix=prefix, suffix=".tmp")


def fsync_dir(directory: Path) -> None:
    """Make a rename in `directory` durable (best effort on filesystems that refuse it)."""
    try:
        fd = os.open(str(directory), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_open(
    path: Path, *, binary: bool = False, fsync: bool = False, mode: int = DEFAULT_MODE
) -> Iterator[IO[Any]]:
    """Yield a file whose content replaces `path` only if the block finishes without error."""
    path = Path(path)
    fd, tmp = _mkstemp(path)
    try:
        os.fchmod(fd, mode)  # (mkstemp's 0600 is subject to the umask)
        if binary:
            handle: IO[Any] = os.fdopen(fd, "wb")
        else:
            handle = os.fdopen(fd, "w", encoding="utf-8", newline="\n")
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    try:
        with handle:
            yield handle
            handle.flush()
            if fsync:
                os.fsync(handle.fileno())
        os.replace(tmp, str(path))
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    if fsync:
        fsync_dir(path.parent)


def atomic_write(
    path: Path, data: Union[str, bytes], *, fsync: bool = False, mode: int = DEFAULT_MODE
) -> None:
    """Replace `path` with `data` atomically; parents are created when missing."""
    with atomic_open(path, binary=isinstance(data, bytes), fsync=fsync, mode=mode) as handle:
        handle.write(data)
