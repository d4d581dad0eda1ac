"""The connectivity check of an ssh host (SPEC I.5): a session on it runs `true`.

Host validation calls it (through `SshPool.check`) before the run; the
connection it opens stays in the pool, so the run's first task on the host
does not pay for the handshake again.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Optional

from tasker.exec.base import format_seconds
from tasker.exec.ssh.connect import SLICE
from tasker.exec.ssh.errors import SshError
from tasker.record import replace

if TYPE_CHECKING:
    from tasker.exec.ssh.pool import SshPool


def run_true(pool: SshPool, spec: str, timeout: float,
             cancel: Optional[threading.Event]) -> str:
    """"" when `true` ran on the host with exit 0, else one sentence naming host and cause."""
    end = time.monotonic() + timeout
    try:
        endpoint = pool.endpoint(spec)
        endpoint = replace(endpoint, connect_timeout=min(endpoint.connect_timeout, timeout))
        lease = pool.session(endpoint, cancel)
    except SshError as exc:
        return exc.sentence
    where = f"ssh: {endpoint.describe()}"
    try:
        chan = lease.channel
        chan.exec_command("true")
        chan.shutdown_write()
        while not chan.status_event.wait(SLICE):
            if (cancel is not None and cancel.is_set()) or time.monotonic() >= end:
                return f"{where}: `true` did not finish within {format_seconds(timeout)} s"
    except Exception as exc:  # noqa: BLE001 - SSHException, EOFError: a refusal
        return f"{where}: the server would not run `true`: {exc}"
    finally:
        lease.release()
    status = chan.exit_status
    if status == 0:
        return ""
    if status < 0:
        return f"{where}: the connection was lost while `true` ran"
    return f"{where}: `true` exited with {status} (does the remote login shell run commands?)"
