"""`--instance-check`: refuse to run the same workflow twice at the same time (SPEC II.9.4).

The key is derived from the file content and its expanded globals, so the
same file with different environment-derived globals may run concurrently.
The lock is an exclusive non-blocking `flock` held for the life of the run;
the kernel drops it if the process dies, so stale files are harmless.

The holder removes the file when it ends. A run that opened the file just
before that holds a descriptor of a file no longer at the path: its `flock`
succeeds, while a third run may create and lock a new file. So a lock counts
only when the locked descriptor is still the file at the path (same device
and inode); otherwise it is dropped and the whole step is taken again.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Callable, Mapping, Optional

from tasker.report.private import make_private_dirs

_ATTEMPTS = 20  # each retry means another run removed the file meanwhile: rare


class InstanceLocked(Exception):
    """Another run of the same workflow holds the lock (exit 25)."""

    def __init__(self, path: Path, holder: str):
        super().__init__(f"workflow is already running (lock {path}): {holder}")
        self.path, self.holder = path, holder


class InstanceLockError(Exception):
    """The lock file or its directory cannot be created or used (exit 20)."""

    def __init__(self, path: Path, reason: str):
        self.sentence = (f"Cannot use the instance lock file {path}: {reason}; "
                         "--instance-check needs a writable home directory")
        super().__init__(self.sentence)
        self.path, self.reason = path, reason


def instance_key(file_sha256: str, globals_: Mapping[str, str]) -> str:
    """First 16 hex of SHA-256(file hash + ":" + canonical JSON of the globals)."""
    canon = json.dumps(dict(sorted(globals_.items())), separators=(",", ":"))
    return hashlib.sha256(f"{file_sha256}:{canon}".encode("utf-8")).hexdigest()[:16]


class InstanceLock:
    """Holds `~/TASKER/locks/workflow_<key>.lock` while the run lasts.

    `before_lock` runs between opening the file and locking it: tests widen
    that window to replay the race described above.
    """

    def __init__(self, home: Path, key: str,
                 before_lock: Callable[[], None] = lambda: None) -> None:
        self.path = Path(home) / "TASKER" / "locks" / f"workflow_{key}.lock"
        self.key = key
        self.fd: Optional[int] = None
        self._before_lock = before_lock

    def acquire(self, task_file: str, project: Optional[str], masked_globals: Mapping[str, str]
                ) -> None:
        """Take the lock or raise InstanceLocked (held) / InstanceLockError (unusable)."""
        try:
            make_private_dirs(self.path.parent)
        except OSError as exc:
            raise InstanceLockError(self.path, _reason(exc, self.path)) from None
        fd = self._lock()
        import socket  # only runs with --instance-check need the host name

        holder = json.dumps({
            "pid": os.getpid(), "task_file": os.path.abspath(task_file), "key": self.key,
            "started": time.strftime("%Y-%m-%d %H:%M:%S"), "host": socket.gethostname(),
            "project": project, "globals": dict(masked_globals),
        })
        self.fd = fd
        try:
            os.fchmod(fd, 0o600)  # it holds globals; also a file an older version left 0644
            os.ftruncate(fd, 0)
            os.pwrite(fd, holder.encode("utf-8"), 0)
        except OSError as exc:
            self.release()
            raise InstanceLockError(self.path, _reason(exc, self.path)) from None

    def _lock(self) -> int:
        """A descriptor of the file at the path, locked; retried while the file is replaced."""
        for _ in range(_ATTEMPTS):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW,
                             0o600)
            except OSError as exc:
                raise InstanceLockError(self.path, _reason(exc, self.path)) from None
            try:
                self._before_lock()
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_holder(fd)
                os.close(fd)
                raise InstanceLocked(self.path, holder) from None
            except BaseException:
                os.close(fd)
                raise
            if _is_at_path(fd, self.path):
                return fd
            os.close(fd)  # locked a file its holder had removed: not the lock
        raise InstanceLockError(self.path, f"the file was replaced {_ATTEMPTS} times while "
                                "this run tried to lock it")

    def release(self) -> None:
        """Remove the lock file and drop the lock (removal first: see the module's note)."""
        if self.fd is None:
            return
        try:
            self.path.unlink()
        except OSError:
            pass
        os.close(self.fd)
        self.fd = None


def _is_at_path(fd: int, path: Path) -> bool:
    """True when `fd` is the file now at `path` (same device and inode)."""
    try:
        at_path = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (held.st_dev, held.st_ino) == (at_path.st_dev, at_path.st_ino)


def _read_holder(fd: int) -> str:
    """What the holder wrote into the lock file (its PID, file, start, host...)."""
    try:
        data = os.pread(fd, 65536, 0)
    except OSError:
        data = b""
    return data.decode("utf-8", "replace").strip() or "unknown holder"


def _reason(exc: OSError, path: Path) -> str:
    """`Read-only file system`, or `cannot create directory D: Not a directory` when the
    failing path is not `path` itself."""
    reason = exc.strerror or str(exc)
    failed = exc.filename
    if failed is not None and Path(os.fsdecode(failed)) != Path(path):
        reason = f"cannot create directory {os.fsdecode(failed)}: {reason}"
    return reason
