"""`--instance-check`: refuse to run the same workflow twice at the same time (SPEC II.9.4).

The key is derived from the file content and its expanded globals, so the
same file with different environment-derived globals may run concurrently.
The lock is an exclusive non-blocking `flock` held for the life of the run;
the kernel drops it if the process dies, so stale files are harmless.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
from pathlib import Path
from typing import IO, Mapping, Optional


class InstanceLocked(Exception):
    """Another run of the same workflow holds the lock (exit 25)."""

    def __init__(self, path: Path, holder: str):
        super().__init__(f"workflow is already running (lock {path}): {holder}")
        self.path, self.holder = path, holder


def instance_key(file_sha256: str, globals_: Mapping[str, str]) -> str:
    """First 16 hex of SHA-256(file hash + ":" + canonical JSON of the globals)."""
    canon = json.dumps(dict(sorted(globals_.items())), separators=(",", ":"))
    return hashlib.sha256(f"{file_sha256}:{canon}".encode("utf-8")).hexdigest()[:16]


class InstanceLock:
    """Holds `~/TASKER/locks/workflow_<key>.lock` while the run lasts."""

    def __init__(self, home: Path, key: str):
        self.path = Path(home) / "TASKER" / "locks" / f"workflow_{key}.lock"
        self.key = key
        self.handle: Optional[IO[str]] = None

    def acquire(self, task_file: str, project: Optional[str], masked_globals: Mapping[str, str]
                ) -> None:
        """Take the lock or raise InstanceLocked with the holder's details."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown holder"
            handle.close()
            raise InstanceLocked(self.path, holder) from None
        import socket  # only runs with --instance-check need the host name

        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({
            "pid": os.getpid(), "task_file": os.path.abspath(task_file), "key": self.key,
            "started": time.strftime("%Y-%m-%d %H:%M:%S"), "host": socket.gethostname(),
            "project": project, "globals": dict(masked_globals),
        }))
        handle.flush()
        self.handle = handle

    def release(self) -> None:
        """Remove the lock file and drop the lock."""
        if self.handle is None:
            return
        try:
            self.path.unlink()
        except OSError:
            pass
        self.handle.close()
        self.handle = None
