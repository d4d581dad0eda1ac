"""Run a command as a local child process: owned, bounded in memory, never stuck.

The child is started directly (no shell) by `subprocess.Popen` in its own session
(`start_new_session`), so its process group holds it and every descendant that did not
leave on purpose (`setsid`); with SIGPIPE and SIGXFSZ back to their defaults
(`restore_signals`: Python ignores SIGPIPE, a child must not inherit that) and no
descriptor but its three and its two pipes (`close_fds`).

Why not `os.posix_spawn`, 0.05 ms cheaper a start: CPython holds the interpreter lock
while posix_spawn waits for the child to reach exec, so on a loaded machine every other
thread of tasker waited for each child in turn (200 host checks 32 at a time under two
busy processes took up to 20 s a check, and ended in false timeouts). Popen lets go
of it.

`_Running` is the local transport's part of the shared runner
(`tasker.exec.supervise`): its pipes are the descriptors to read, `killpg` signals
its group, and a pidfd (or `waitid(WNOWAIT)`) tells when it exited without
reaping it, so that until the last signal the leader, a zombie, still owns its
process group ID and the group signalled is never one the kernel has handed to
someone else. Popen itself reaps it, so it never looks for a child that is gone.

Both pipes are read by one poll loop in the calling thread (no reader threads,
so a thousand concurrent runs cost a thousand threads of the caller, not three
thousand).
"""

from __future__ import annotations

import math
import os
import select
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import IO, Dict, Mapping, Optional, Sequence, Tuple

from tasker.exec.base import START_ERROR_EXIT, CommandResult, CommandSpec
from tasker.exec.output import OutputBuffer
from tasker.exec.supervise import supervise

_CHUNK = 65536


class ProcessExecutor:
    """Executor that runs each CommandSpec as a local child process."""

    def __init__(self, spool_dir: Path) -> None:
        self.spool_dir = Path(spool_dir)
        # Program name -> path found on PATH: a run starts the same few programs
        # hundreds of times, and a known path spares every start the PATH search.
        self._programs: Dict[str, str] = {}

    def run(self, spec: CommandSpec, cancel: threading.Event) -> CommandResult:
        """Run `spec` with tasker's own environment (inherited: nothing to convert per
        start); stop it on timeout (exit 124) or when `cancel` is set."""
        return _run(spec.argv, spec.timeout, cancel, self.spool_dir, self._locate(spec.argv))

    def close(self) -> None:
        """Nothing to free: every child is reaped by the run that started it."""

    def _locate(self, argv: Tuple[str, ...]) -> Optional[str]:
        """The program's path (cached per run), or None to let the PATH search decide."""
        name = argv[0] if argv else ""
        if not name or os.sep in name:
            return None
        found = self._programs.get(name)
        if found is None:
            found = shutil.which(name)
            if found is not None:
                self._programs[name] = found
        return found


def run_simple(argv: Sequence[str], timeout: float,
               cancel: Optional[threading.Event] = None) -> CommandResult:
    """Run a probe as tasks run (timeout, `cancel`), output beyond 1 MiB dropped."""
    return _run(tuple(argv), timeout, cancel, None)


def run_script(argv: Sequence[str], timeout: float, cancel: Optional[threading.Event],
               env: Dict[str, str]) -> CommandResult:
    """Run a helper script (the alert) by the rules of tasks, stdin from /dev/null.

    Raises OSError (or ValueError) when it cannot be started, so that the caller
    can tell a start failure from a script that exited 1.
    """
    start = time.monotonic()
    proc = start_child(tuple(argv), None, env, stdin=os.devnull)
    return _supervise(proc, start, timeout, cancel, None)


def _signal_group(pgid: int, signum: int) -> None:
    """Signal a whole process group; it may already be gone."""
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _run(
    argv: Tuple[str, ...],
    timeout: float,
    cancel: Optional[threading.Event],
    spool_dir: Optional[Path],
    executable: Optional[str] = None,
) -> CommandResult:
    """Start `argv`, collect its output, and turn every outcome into a CommandResult."""
    start = time.monotonic()
    try:
        proc = start_child(argv, executable)
    except Exception as exc:  # noqa: BLE001 - a start error is a result, never an exception
        return _start_failure(argv, exc, time.monotonic() - start)
    return _supervise(proc, start, timeout, cancel, spool_dir)


def start_child(argv: Sequence[str], executable: Optional[str] = None,
                env: Optional[Mapping[str, str]] = None,
                stdin: Optional[str] = None) -> "subprocess.Popen[bytes]":
    """Start `argv` in its own session, stdout and stderr piped; `stdin` names a file to
    read from instead of tasker's own stdin. OSError when it cannot start, ValueError
    for an empty command."""
    if not argv or not argv[0]:
        raise ValueError("empty command")
    source: Optional[IO[bytes]] = open(stdin, "rb") if stdin is not None else None
    try:
        return subprocess.Popen(list(argv), executable=executable, env=env, stdin=source,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True, close_fds=True, restore_signals=True)
    finally:
        if source is not None:
            source.close()  # (the child has its own copy)


def _supervise(proc: "subprocess.Popen[bytes]", start: float, timeout: float,
               cancel: Optional[threading.Event], spool_dir: Optional[Path]) -> CommandResult:
    """The shared runner, on a local child."""
    return supervise(_Running(proc), start, timeout, cancel, spool_dir)


class _Running:
    """The local transport's hooks for the shared runner (see tasker.exec.supervise)."""

    def __init__(self, proc: "subprocess.Popen[bytes]") -> None:
        self.proc = proc
        assert proc.stdout is not None and proc.stderr is not None  # (both piped)
        self.pipes = (proc.stdout, proc.stderr)
        self.fds = (proc.stdout.fileno(), proc.stderr.fileno())
        self.pidfd: Optional[int] = None

    def descriptors(self) -> Sequence[int]:
        """The read ends of the child's stdout and stderr pipes."""
        return self.fds

    def drain(self, fd: int, out: OutputBuffer, err: OutputBuffer) -> bool:
        """One read of the ready pipe (the descriptor itself: no buffering between the
        child and the output buffers); False at its end."""
        data = os.read(fd, _CHUNK)
        if data:
            (out if fd == self.fds[0] else err).feed(data)
        return bool(data)

    def signal_group(self, signum: int) -> None:
        """killpg: the child's process group is its PID (it leads its own session)."""
        _signal_group(self.proc.pid, signum)

    def wait_exit(self, seconds: Optional[float]) -> bool:
        """Whether the child exited, waiting up to `seconds`; it is not reaped."""
        if self.proc.returncode is not None or _exited(self.proc.pid):
            return True
        if self.pidfd is None:
            self.pidfd = _open_pidfd(self.proc.pid)
        _block_until_exit(self.proc.pid, self.pidfd, seconds)
        return _exited(self.proc.pid)

    def exit_code(self) -> int:
        """Reap the child: its exit status (-N: killed by signal N)."""
        return self.proc.wait()

    def close(self) -> None:
        """Never leave a child or a descriptor behind, even when interrupted."""
        if self.pidfd is not None and self.pidfd >= 0:
            os.close(self.pidfd)
        self.pidfd = None
        if self.proc.returncode is None:
            _signal_group(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        for pipe in self.pipes:
            pipe.close()


def _open_pidfd(pid: int) -> int:
    """A descriptor that becomes readable when `pid` exits, or -1 where unsupported."""
    try:
        return os.pidfd_open(pid)  # Linux >= 5.3
    except (AttributeError, OSError):
        return -1


def _block_until_exit(pid: int, pidfd: int, seconds: Optional[float]) -> None:
    """Block until the child exits or `seconds` pass, without reaping it.

    The pipes usually reach EOF a moment before the child becomes waitable;
    a wait with a timeout would then sleep in growing steps from 0.5 ms, which
    more than doubles the cost of a quick command, so poll a pidfd instead.
    """
    if pidfd < 0:
        _sleep_until_exit(pid, seconds)
        return
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    poller.poll(None if seconds is None else math.ceil(seconds * 1000))


def _sleep_until_exit(pid: int, seconds: Optional[float]) -> None:
    """Without pidfds: look in growing steps whether `pid` exited (WNOWAIT: not reaped)."""
    deadline = None if seconds is None else time.monotonic() + seconds
    delay = 0.0005
    while not _exited(pid):
        left = 0.05 if deadline is None else deadline - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(delay, left))
        delay = min(delay * 2, 0.05)


def _exited(pid: int) -> bool:
    """True when the child `pid` has exited (or cannot be waited for); it stays unreaped."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True
    except InterruptedError:
        return False


def _start_failure(argv: Tuple[str, ...], exc: Exception, duration: float) -> CommandResult:
    """The result of a program that could not be started at all."""
    name = argv[0] if argv else ""
    if isinstance(exc, FileNotFoundError):
        message = f"Command not found: {name}"
        if os.sep in str(name) and os.path.exists(name):
            message += " (its interpreter, named in the #! line, does not exist)"
        return CommandResult(START_ERROR_EXIT, "", message, duration, not_found=True)
    if not argv:
        return CommandResult(START_ERROR_EXIT, "", "Cannot run an empty command", duration)
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return CommandResult(START_ERROR_EXIT, "", f"Cannot run {name}: {reason}", duration)
