"""The connectivity check of an ssh host (SPEC I.5): a session on it runs `true`.

Host validation calls it (through `SshPool.check`, which opens the session)
before the run; the connection stays in the pool, so the run's first task on
the host does not pay for the handshake again.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Optional

from tasker.exec.base import format_seconds
from tasker.exec.ssh.connect import SLICE


def run_true(channel: Any, where: str, deadline: float, timeout: float,
             cancel: Optional[threading.Event]) -> str:
    """"" when `true` ran with exit 0 on the session `channel` (a paramiko Channel) before
    the time.monotonic() `deadline`, else one sentence that starts with `where`."""
    try:
        channel.exec_command("true")
        channel.shutdown_write()
        while not channel.status_event.wait(SLICE):
            if (cancel is not None and cancel.is_set()) or time.monotonic() >= deadline:
                return f"{where}: `true` did not finish within {format_seconds(timeout)} s"
    except Exception as exc:  # noqa: BLE001 - SSHException, EOFError: a refusal
        return f"{where}: the server would not run `true`: {exc}"
    status = channel.exit_status
    if status == 0:
        return ""
    if status < 0:
        return f"{where}: the connection was lost while `true` ran"
    return f"{where}: `true` exited with {status} (does the remote login shell run commands?)"
