"""Fault injection for tests/e2e/test_resume_faults.py, where a small tmpfs cannot be
mounted: Python loads this module at start-up when its directory is on PYTHONPATH.

While the file named by TASKER_FAULT_FLAG exists, files under TASKER_FAULT_DIR behave
as on a full disk: a write puts part of its data down and the next one fails with
ENOSPC, and no temporary file can be created there. Nothing else changes.
"""

import errno
import os
import tempfile

_FLAG = os.environ.get("TASKER_FAULT_FLAG", "")
_DIR = os.environ.get("TASKER_FAULT_DIR", "")


def _full_at(path: str) -> bool:
    return bool(path) and path.startswith(_DIR) and os.path.exists(_FLAG)


def _no_space() -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


if _FLAG and _DIR:
    _real_write, _real_mkstemp = os.write, tempfile.mkstemp

    def _write(fd, data):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            target = ""
        if not _full_at(target):
            return _real_write(fd, data)
        if len(data) > 1:  # a short write, as a disk that fills up in the middle
            return _real_write(fd, bytes(memoryview(data)[: len(data) // 2]))
        raise _no_space()

    def _mkstemp(*args, **kwargs):
        if _full_at(str(kwargs.get("dir") or "")):
            raise _no_space()
        return _real_mkstemp(*args, **kwargs)

    os.write = _write
    tempfile.mkstemp = _mkstemp
