"""A command running on a remote host: the wrapper line, and its hooks for the shared runner.

The remote login shell (a POSIX shell, as for `ssh host command`) runs a short
wrapper around the command's words:

    set -- WORDS; if command -v setsid >/dev/null 2>&1; then
      setsid /bin/sh -c 'echo "MARKER $$" >&2; exec "$@"' sh "$@";
    else echo "MARKER $$" >&2; "$@"; fi; exit $?

The words are quoted for that shell, so remote word boundaries equal the local
ones. With `setsid` (util-linux, busybox: every Linux host) the command runs in
a session and process group of its own, whose ID the wrapper reports on a first
stderr line `MARKER PGID` that tasker takes out of the output; the wrapper
itself stays outside that group, waits for the command and exits with its
status, so a command killed by signal N reports 128+N and a missing program
127. Without `setsid` the command runs in the group sshd made for the session
(sshd starts every session in a new session), which then includes the wrapper.
The line ends with `exit $?` so that no shell replaces itself by `setsid`.

The command's stdin is empty (EOF is sent at once). A timeout sends SIGKILL to
the remote group, a stop request SIGTERM and then SIGKILL; each is a `kill` run
on another session of the same connection, which never waits for a free slot.
"""

from __future__ import annotations

import shlex
import signal
from typing import Any, Optional, Sequence

from tasker.exec.output import OutputBuffer
from tasker.exec.ssh.pool import Lease
from tasker.report.logger import Log

CHUNK = 65536
KILL_WAIT = 2.0  # seconds to wait for a remote `kill` to report back
EXIT_WAIT = 5.0  # seconds to wait for the exit status once the output ended or after a kill


def remote_command_line(words: Sequence[str], marker: str) -> str:
    """The line the remote login shell runs (see the module's docstring)."""
    quoted = " ".join(shlex.quote(word) for word in words)
    return (f"set -- {quoted}; if command -v setsid >/dev/null 2>&1; then "
            f"setsid /bin/sh -c 'echo \"{marker} $$\" >&2; exec \"$@\"' sh \"$@\"; "
            f"else echo \"{marker} $$\" >&2; \"$@\"; fi; exit $?")


class GroupReport:
    """Finds the wrapper's `MARKER PGID` line in stderr, takes it out, and keeps the ID.

    Whatever the login shell printed before it (a noisy ~/.bashrc) stays output.
    Until the line is complete the stream is held back (at most LIMIT bytes; past
    that, or at the end of the stream, the search is given up and nothing is lost).
    """

    LIMIT = 65536

    def __init__(self, marker: str) -> None:
        self.prefix = marker.encode() + b" "
        self.held = bytearray()
        self.searching = True
        self.pgid: Optional[int] = None

    def feed(self, data: bytes) -> bytes:
        """What of `data` (and of what was held) is output now."""
        if not self.searching:
            return data
        self.held += data
        start = self._line_start()
        end = self.held.find(b"\n", start) if start >= 0 else -1
        if end < 0:
            return self.finish() if len(self.held) > self.LIMIT else b""
        value = bytes(self.held[start + len(self.prefix):end])
        if value.isdigit() and int(value) > 1:
            self.pgid = int(value)
        out = bytes(self.held[:start] + self.held[end + 1:])
        self.held, self.searching = bytearray(), False
        return out

    def finish(self) -> bytes:
        """The end of the stream (or of the search): whatever was held is output."""
        out, self.held, self.searching = bytes(self.held), bytearray(), False
        return out

    def _line_start(self) -> int:
        if self.held.startswith(self.prefix):
            return 0
        found = self.held.find(b"\n" + self.prefix)
        return found + 1 if found >= 0 else -1


class RemoteCommand:
    """The SSH transport's hooks for the shared runner (see tasker.exec.supervise)."""

    def __init__(self, lease: Lease, marker: str, log: Log) -> None:
        self.lease = lease
        self.channel = lease.channel
        self.marker = marker
        self.log = log
        self.fd = self.channel.fileno()  # (a pipe paramiko sets when either stream has data)
        self.report = GroupReport(marker)
        self.pending: Optional[int] = None  # a signal due before the group was known
        self.signalled: Optional[int] = None  # the last signal sent to the group
        self.problem: Optional[str] = None  # why there is no exit status (then exit 255)

    def start(self, words: Sequence[str]) -> None:
        """Ask the server to run the command; its stdin is empty."""
        self.channel.exec_command(remote_command_line(words, self.marker))
        self.channel.shutdown_write()

    def descriptors(self) -> Sequence[int]:
        """The channel's pipe, readable when stdout or stderr has data, or at the end."""
        return (self.fd,)

    def drain(self, fd: int, out: OutputBuffer, err: OutputBuffer) -> bool:
        """One read of each stream that has data; False once both ended."""
        chan = self.channel
        if chan.recv_ready():
            out.feed(chan.recv(CHUNK))
        if chan.recv_stderr_ready():
            self._stderr(chan.recv_stderr(CHUNK), err)
        if (chan.eof_received or chan.closed) and not (chan.recv_ready()
                                                        or chan.recv_stderr_ready()):
            self._stderr(self.report.finish(), err)
            return False
        return True

    def _stderr(self, data: bytes, err: OutputBuffer) -> None:
        if self.report.searching:
            data = self.report.feed(data)
            if self.report.pgid is not None and self.pending is not None:
                self.signal_group(self.pending)
        if data:
            err.feed(data)

    def signal_group(self, signum: int) -> None:
        """`kill -s SIG -- -PGID` on another session of the connection (or, while the
        group is not known yet, as soon as it is)."""
        if self.report.pgid is None:
            self.pending = signum
            return
        self.pending = None
        self.signalled = signum
        name = signal.Signals(signum).name[3:]
        try:
            kill = self.lease.extra_channel()
            try:
                kill.exec_command(f"kill -s {name} -- -{self.report.pgid} 2>/dev/null")
                kill.shutdown_write()
                kill.status_event.wait(KILL_WAIT)
            finally:
                kill.close()
        except Exception as exc:  # noqa: BLE001 - the connection may be gone: nothing to kill
            self.log.debug(f"SSH: {self.lease.endpoint.describe()}: could not send SIG{name} "
                           f"to the remote process group {self.report.pgid}: {exc}")

    def wait_exit(self, seconds: Optional[float]) -> bool:
        """Whether the exit status came (or the channel closed), waiting up to `seconds`."""
        return bool(self.channel.status_event.wait(seconds))

    def exit_code(self) -> int:
        """The remote exit status; 128+N after our signal N, 255 (with `problem`) without."""
        chan = self.channel
        if not chan.status_event.wait(EXIT_WAIT) and self.signalled is None:
            self.problem = (f"ssh: {self.lease.endpoint.describe()}: no exit status came "
                            f"within {EXIT_WAIT:g} s after the output ended")
        if chan.exit_status >= 0 and chan.status_event.is_set():
            return int(chan.exit_status)
        if self.signalled is not None:
            return 128 + self.signalled
        if self.problem is None:
            self.problem = self._why_no_status()
        return 255

    def _why_no_status(self) -> str:
        where = self.lease.endpoint.describe()
        if not self.lease.connection.alive():
            return f"ssh: {where}: the connection was lost while the command ran"
        return (f"ssh: {where}: the remote command ended without an exit status (its shell "
                "was killed?)")

    def close(self) -> None:
        """A command still running is killed first; the channel's slot is given back."""
        chan = self.channel
        try:
            if not chan.status_event.is_set() and self.lease.connection.alive():
                self.signal_group(signal.SIGKILL)
        finally:
            self.lease.release()


def connection_problem(lease: Lease, exc: Any) -> str:
    """The sentence of a command the server would not start."""
    return f"ssh: {lease.endpoint.describe()}: the server would not run the command: {exc}"
