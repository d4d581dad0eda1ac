"""Run a command as a local child process: owned, bounded in memory, never stuck.

The child is started directly (no shell) in its own session, so its process
group holds it and every descendant that did not leave on purpose (`setsid`).
A timeout sends SIGKILL to that whole group at once. A cancel (a signal to
tasker) sends SIGTERM, and SIGKILL 0.5 s later whatever happened meanwhile: a
member that ignores SIGTERM dies even when the leader has exited and nothing
holds the pipes any more. Until that last signal the leader is left unreaped
(a zombie still owns its process group ID), so the group signalled is never
one the kernel has handed to someone else.

Both pipes are read by one selector loop in the calling thread (no reader
threads, so a thousand concurrent runs cost a thousand threads of the caller,
not three thousand). Each stream keeps its first MEMORY_LIMIT bytes in memory;
past that the whole stream goes to a file in the spool directory.
"""

from __future__ import annotations

import codecs
import math
import os
import select
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Dict, Optional, Sequence, Tuple

from tasker.exec.base import (
    MEMORY_LIMIT,
    START_ERROR_EXIT,
    TIMEOUT_EXIT,
    CommandResult,
    CommandSpec,
    append_line,
    lost_output_note,
    timeout_message,
)
from tasker.exec.spawn import Child, close_on_exec_inherited

_CHUNK = 65536
_POLL = 0.1              # cancel is looked at this often while a child runs
_TERM_GRACE = 0.5        # SIGTERM, then SIGKILL this much later (cancel)
_DRAIN_AFTER_KILL = 1.0  # a process outside the group may still hold the pipes

_READABLE = select.POLLIN | select.POLLHUP | select.POLLERR


class ProcessExecutor:
    """Executor that runs each CommandSpec as a local child process."""

    def __init__(self, spool_dir: Path) -> None:
        self.spool_dir = Path(spool_dir)
        close_on_exec_inherited()  # children get stdin/stdout/stderr and their pipes only
        # A plain dict: posix_spawn reads os.environ through Python for every start
        # (a third of the cost of starting `true`), a dict in C.
        self._environ = dict(os.environ)
        # Program name -> path found on PATH: a run starts the same few programs
        # hundreds of times, and a known path spares every start the PATH search.
        self._programs: Dict[str, str] = {}

    def run(self, spec: CommandSpec, cancel: threading.Event) -> CommandResult:
        """Run `spec`; stop it on timeout (exit 124) or when `cancel` is set."""
        return _run(spec.argv, spec.timeout, cancel, self.spool_dir, self._locate(spec.argv),
                    self._environ)

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
    proc = Child(tuple(argv), None, env, stdin=os.devnull)
    return _supervise(proc, start, timeout, cancel, None)


class _Stream:
    """One output pipe: first MEMORY_LIMIT bytes in memory, whole stream spilled past it.

    When the spill file cannot be written (a full TMPDIR), what is in memory stays,
    the rest of the pipe is still read (and counted) so the child never blocks, and
    the incomplete file is deleted: it must never be taken for the whole output.
    """

    def __init__(self, name: str, spool_dir: Optional[Path]) -> None:
        self.name = name
        self.spool_dir = spool_dir
        self.head = bytearray()
        self.size = 0
        self.file: Optional[IO[bytes]] = None
        self.path: Optional[str] = None
        self.failure: Optional[str] = None  # why the spill file could not be written

    def feed(self, data: bytes) -> None:
        """Account for `data` read from the pipe."""
        self.size += len(data)
        if self.file is not None:
            self._write(data)
            return
        room = MEMORY_LIMIT - len(self.head)
        if room > 0:
            self.head += data[:room]
        if len(data) > room and self.spool_dir is not None and self.failure is None:
            self._start_spill(data[max(room, 0):])

    def _start_spill(self, rest: bytes) -> None:
        try:
            self.spool_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # type: ignore
            fd, self.path = tempfile.mkstemp(prefix=f"tasker_{self.name}_", dir=self.spool_dir)
            self.file = os.fdopen(fd, "wb")
        except OSError as exc:
            self._fail(exc)
            return
        self._write(bytes(self.head))
        self._write(rest)

    def _write(self, data: bytes) -> None:
        if self.file is None:
            return  # the spill failed before: the rest is only counted
        try:
            self.file.write(data)
        except OSError as exc:
            self._fail(exc)

    def _fail(self, exc: OSError) -> None:
        self.failure = (f"cannot write the spill file in {self.spool_dir}: "
                        f"{exc.strerror or exc}")
        file, self.file = self.file, None
        if file is not None:
            try:
                file.close()
            except OSError:
                pass  # the same failure again, while flushing
        if self.path is not None:
            try:
                os.unlink(self.path)
            except OSError:
                pass
            self.path = None

    def close(self) -> None:
        """Close the spill file, if any."""
        if self.file is not None:
            try:
                self.file.close()
                self.file = None
            except OSError as exc:  # e.g. ENOSPC on the final flush
                self._fail(exc)

    @property
    def lost(self) -> int:
        """Bytes read from the pipe that are neither in memory nor in a spill file."""
        return self.size - len(self.head) if self.failure is not None else 0

    @property
    def error(self) -> Optional[str]:
        """The stderr note on a lost tail, or None."""
        if self.failure is None:
            return None
        return lost_output_note(self.name, len(self.head), self.lost, "bytes", self.failure)

    def text(self) -> str:
        """The in-memory part as text: utf-8 (errors replaced), universal newlines."""
        if self.size <= MEMORY_LIMIT:
            text = self.head.decode("utf-8", "replace")
        else:
            # Cut mid-stream: hold back a partial character and a possible CR of a CRLF.
            text = codecs.getincrementaldecoder("utf-8")("replace").decode(self.head, False)
            if text.endswith("\r"):
                text = text[:-1]
        # Decoding the whole buffer at once means a CRLF split across reads is still whole.
        return text.replace("\r\n", "\n").replace("\r", "\n")


class _Watch:
    """Decides when to signal the child's process group: deadline, or cancel and its grace."""

    def __init__(self, pgid: int, deadline: float, cancel: Optional[threading.Event]) -> None:
        self.pgid = pgid
        self.deadline = deadline
        self.cancel = cancel
        self.timed_out = False
        self.term_at: Optional[float] = None
        self.kill_at: Optional[float] = None

    def check(self) -> None:
        """Send whatever signal is due now."""
        if self.kill_at is not None:
            return
        now = time.monotonic()
        if self.term_at is not None:
            if now - self.term_at >= _TERM_GRACE:
                self._kill(now)
        elif now >= self.deadline:
            self.timed_out = True
            self._kill(now)
        elif self.cancel is not None and self.cancel.is_set():
            _signal_group(self.pgid, signal.SIGTERM)
            self.term_at = now

    def _kill(self, now: float) -> None:
        _signal_group(self.pgid, signal.SIGKILL)
        self.kill_at = now

    @property
    def killed(self) -> bool:
        """True once SIGKILL was sent to the group."""
        return self.kill_at is not None

    @property
    def terminating(self) -> bool:
        """True between a cancel's SIGTERM and its SIGKILL: the leader must stay unreaped."""
        return self.term_at is not None and self.kill_at is None

    def gave_up(self) -> bool:
        """True when the pipes stayed open too long after the group was killed."""
        return self.kill_at is not None and time.monotonic() - self.kill_at > _DRAIN_AFTER_KILL

    def slice(self) -> Optional[float]:
        """How long to block before the next check (None: until something happens)."""
        now = time.monotonic()
        if self.kill_at is not None:
            return max(0.0, self.kill_at + _DRAIN_AFTER_KILL - now)
        due = self.deadline if self.term_at is None else self.term_at + _TERM_GRACE
        if self.cancel is None:
            return max(0.0, due - now) if due != float("inf") else None
        return max(0.0, min(_POLL, due - now))


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
    env: Optional[Dict[str, str]] = None,
) -> CommandResult:
    """Start `argv`, collect its output, and turn every outcome into a CommandResult."""
    start = time.monotonic()
    try:
        proc = Child(argv, executable, env)
    except Exception as exc:  # noqa: BLE001 - a start error is a result, never an exception
        return _start_failure(argv, exc, time.monotonic() - start)
    return _supervise(proc, start, timeout, cancel, spool_dir)


def _supervise(proc: Child, start: float, timeout: float, cancel: Optional[threading.Event],
               spool_dir: Optional[Path]) -> CommandResult:
    """The one runner algorithm: read the pipes, signal the group when due, reap the leader."""
    out, err = _Stream("stdout", spool_dir), _Stream("stderr", spool_dir)
    watch = _Watch(proc.pid, start + timeout, cancel)
    try:
        pipes = {proc.stdout_fd: out, proc.stderr_fd: err}
        _pump(pipes, watch)
        code = _reap(proc, watch)
    finally:
        _cleanup(proc, out, err)
    return _result(code, out, err, watch, timeout, time.monotonic() - start)


def _pump(streams: Dict[int, _Stream], watch: _Watch) -> None:
    """Read both pipes until EOF (or until a killed group leaves them open).

    select.poll directly, not the selectors module: a short command spends
    more time in the selector's bookkeeping than in the reads themselves.
    """
    poller = select.poll()  # no descriptor limit, unlike select()
    for fd in streams:
        poller.register(fd, _READABLE)
    open_fds = set(streams)
    while open_fds:
        watch.check()
        if watch.gave_up():
            return
        timeout = watch.slice()
        for fd, _ in poller.poll(None if timeout is None else math.ceil(timeout * 1000)):
            data = os.read(fd, _CHUNK)
            if data:
                streams[fd].feed(data)
            else:
                poller.unregister(fd)
                open_fds.discard(fd)


def _reap(proc: Child, watch: _Watch) -> int:
    """Wait for the leader's exit status, still honouring the deadline and cancel.

    Once a cancel sent SIGTERM, the leader is not reaped until the group got its
    SIGKILL: whatever the leader did, the members that ignore SIGTERM die too.
    """
    pidfd: Optional[int] = None
    try:
        while True:
            watch.check()
            if watch.killed:
                return proc.wait()  # SIGKILL cannot be ignored; this is short
            if watch.terminating:
                time.sleep(watch.slice() or 0.0)  # until the SIGKILL is due
                continue
            code = proc.poll()
            if code is not None:
                return code
            if pidfd is None:
                pidfd = _open_pidfd(proc.pid)
            _block_until_exit(proc, pidfd, watch.slice())
    finally:
        if pidfd is not None and pidfd >= 0:
            os.close(pidfd)


def _open_pidfd(pid: int) -> int:
    """A descriptor that becomes readable when `pid` exits, or -1 where unsupported."""
    try:
        return os.pidfd_open(pid)  # Linux >= 5.3
    except (AttributeError, OSError):
        return -1


def _block_until_exit(proc: Child, pidfd: int, seconds: Optional[float]) -> None:
    """Block until the child exits or `seconds` pass, without reaping it.

    The pipes usually reach EOF a moment before the child becomes waitable;
    a wait with a timeout would then sleep in growing steps from 0.5 ms, which
    more than doubles the cost of a quick command, so poll a pidfd instead.
    Not reaping matters: a cancel may arrive meanwhile, and the group must then
    still be the child's when it gets SIGKILL.
    """
    if pidfd < 0:
        _sleep_until_exit(proc.pid, seconds)
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


def _cleanup(proc: Child, out: _Stream, err: _Stream) -> None:
    """Never leave a child or a descriptor behind, even when interrupted."""
    if proc.returncode is None:
        _signal_group(proc.pid, signal.SIGKILL)
        proc.wait()
    proc.close_pipes()
    out.close()
    err.close()


def _result(
    code: int, out: _Stream, err: _Stream, watch: _Watch, timeout: float, duration: float
) -> CommandResult:
    """Assemble the CommandResult of a child that ran."""
    stderr = err.text()
    for problem in (out.error, err.error):
        if problem:
            stderr = append_line(stderr, problem)
    if watch.timed_out:
        code = TIMEOUT_EXIT
        stderr = append_line(stderr, timeout_message(timeout))
    return CommandResult(
        exit_code=code,
        stdout=out.text(),
        stderr=stderr,
        duration=duration,
        timed_out=watch.timed_out,
        stdout_file=out.path,
        stderr_file=err.path,
        stdout_lost=out.lost,
        stderr_lost=err.lost,
    )


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
