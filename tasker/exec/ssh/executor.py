"""`exec=ssh`: each CommandSpec runs on a channel of the run's SSH pool, by the shared runner.

`SshExecutor.run` is thread-safe (a block's sub-tasks call it at once). Whatever
goes wrong on the way to the command (a bad host spec, ssh_config, DNS, a
refused or lost connection, the host key, the login, a refused channel) is a
result with exit 255 and one stderr line naming the host and the cause, as
`ssh` reports it; retries (`retry_failed`) then apply as to any failed task.
A remote program that does not exist is an ordinary failure with exit 127 (it
does not stop the run as a missing local program does), and a command killed
by signal N reports 128+N.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from tasker.exec.base import (
    TIMEOUT_EXIT,
    CommandResult,
    CommandSpec,
    append_line,
    timeout_message,
)
from tasker.exec.ssh.errors import SshError
from tasker.exec.ssh.pool import SshPool
from tasker.exec.ssh.remote import RemoteCommand, connection_problem
from tasker.exec.supervise import supervise
from tasker.record import replace

FAILURE_EXIT = 255  # as `ssh`: the command could not be run, or the connection was lost


class SshExecutor:
    """Runs commands on remote hosts over the connections of an SshPool."""

    def __init__(self, pool: SshPool, spool_dir: Path) -> None:
        self.pool = pool
        self.spool_dir = Path(spool_dir)

    def run(self, spec: CommandSpec, cancel: threading.Event) -> CommandResult:
        """Run `spec.argv` on `spec.host`; stop it on timeout (124) or when `cancel` is set."""
        start = time.monotonic()
        try:
            lease = self.pool.session(self.pool.endpoint(spec.host), cancel)
        except SshError as exc:
            return _failure(exc.sentence, start)
        if time.monotonic() - start >= spec.timeout:
            lease.release()
            return _too_late(spec, lease.endpoint.describe(), start)
        try:
            command = RemoteCommand(lease, self.pool.marker, self.pool.log)
            command.start(spec.argv)
        except Exception as exc:  # noqa: BLE001 - SSHException, EOFError: a refusal
            lease.release()
            return _failure(connection_problem(lease, exc), start)
        result = supervise(command, start, spec.timeout, cancel, self.spool_dir)
        if command.problem is not None and not result.timed_out:
            result = replace(result, exit_code=FAILURE_EXIT,
                             stderr=append_line(result.stderr, command.problem))
        return result

    def close(self) -> None:
        """Nothing to free here: the connections belong to the session's pool."""


def _failure(sentence: str, start: float) -> CommandResult:
    return CommandResult(FAILURE_EXIT, "", sentence, time.monotonic() - start)


def _too_late(spec: CommandSpec, where: str, start: float) -> CommandResult:
    """A task whose timeout ran out while its connection was being made."""
    note = f"ssh: {where}: connecting took the whole timeout; the command was not started"
    return CommandResult(TIMEOUT_EXIT, "", append_line(note, timeout_message(spec.timeout)),
                         time.monotonic() - start, timed_out=True)
