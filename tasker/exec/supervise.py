"""The one runner algorithm every transport shares: read, watch, stop, collect.

A transport (a local child, an SSH channel) supplies a `Running` command: the
descriptors to wait on, how to read what they have, how to signal the
command's process group, and how to learn its exit status. `supervise` does
the rest the same way for all of them: it reads both streams into bounded
`OutputBuffer`s without ever blocking the command, and its `Watch` stops the
command when it is due. A timeout sends SIGKILL to the whole group at once; a
cancel (a signal to tasker) sends SIGTERM, and SIGKILL half a second later
whatever happened meanwhile, so a member that ignores SIGTERM dies too. Until
that last signal the command's exit is not consumed (`wait_exit` never
reaps), so the group signalled is still the command's own.
"""

from __future__ import annotations

import math
import select
import signal
import threading
import time
from pathlib import Path
from typing import Callable, Optional, Protocol, Sequence

from tasker.exec.base import CommandResult
from tasker.exec.output import OutputBuffer, collect_result

POLL_SLICE = 0.1        # cancel is looked at this often while a command runs
TERM_GRACE = 0.5        # SIGTERM, then SIGKILL this much later (cancel)
DRAIN_AFTER_KILL = 1.0  # a process outside the group may still hold the streams open

_READABLE = select.POLLIN | select.POLLHUP | select.POLLERR


class Running(Protocol):
    """A started command, as `supervise` drives it: the hooks a transport supplies."""

    def descriptors(self) -> Sequence[int]:
        """The descriptors that become readable when output (or its end) arrives."""
        ...

    def drain(self, fd: int, out: OutputBuffer, err: OutputBuffer) -> bool:
        """Read what `fd` has into the buffers; False once `fd` will have nothing more."""
        ...

    def signal_group(self, signum: int) -> None:
        """Send `signum` to the command's process group (it may be gone already)."""
        ...

    def wait_exit(self, seconds: Optional[float]) -> bool:
        """Block until the command ended or `seconds` passed (None: no limit); True once it
        ended. Its exit is not consumed: the group keeps its ID until `exit_code`."""
        ...

    def exit_code(self) -> int:
        """The exit status (-N: killed by signal N); blocks until it is known."""
        ...

    def close(self) -> None:
        """Free what the command holds; one still running is killed first."""
        ...


class Watch:
    """Decides when to signal the command's process group: deadline, or cancel and its grace."""

    def __init__(self, signal_group: Callable[[int], None], deadline: float,
                 cancel: Optional[threading.Event]) -> None:
        self.signal_group = signal_group
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
            if now - self.term_at >= TERM_GRACE:
                self._kill(now)
        elif now >= self.deadline:
            self.timed_out = True
            self._kill(now)
        elif self.cancel is not None and self.cancel.is_set():
            self.signal_group(signal.SIGTERM)
            self.term_at = now

    def _kill(self, now: float) -> None:
        self.signal_group(signal.SIGKILL)
        self.kill_at = now

    @property
    def killed(self) -> bool:
        """True once SIGKILL was sent to the group."""
        return self.kill_at is not None

    @property
    def terminating(self) -> bool:
        """True between a cancel's SIGTERM and its SIGKILL: the exit must stay unconsumed."""
        return self.term_at is not None and self.kill_at is None

    def gave_up(self) -> bool:
        """True when the streams stayed open too long after the group was killed."""
        return self.kill_at is not None and time.monotonic() - self.kill_at > DRAIN_AFTER_KILL

    def slice(self) -> Optional[float]:
        """How long to block before the next check (None: until something happens)."""
        now = time.monotonic()
        if self.kill_at is not None:
            return max(0.0, self.kill_at + DRAIN_AFTER_KILL - now)
        due = self.deadline if self.term_at is None else self.term_at + TERM_GRACE
        if self.cancel is None:
            return max(0.0, due - now) if due != float("inf") else None
        return max(0.0, min(POLL_SLICE, due - now))


def supervise(running: Running, start: float, timeout: float,
              cancel: Optional[threading.Event], spool_dir: Optional[Path]) -> CommandResult:
    """Run `running` to its end, its timeout or its cancellation; its CommandResult."""
    out, err = OutputBuffer("stdout", spool_dir), OutputBuffer("stderr", spool_dir)
    watch = Watch(running.signal_group, start + timeout, cancel)
    try:
        pump(running, out, err, watch)
        code = await_exit(running, watch)
    finally:
        running.close()
        out.close()
        err.close()
    return collect_result(code, out, err, watch.timed_out, timeout, time.monotonic() - start)


def pump(running: Running, out: OutputBuffer, err: OutputBuffer, watch: Watch) -> None:
    """Read the output until its end (or until a killed group leaves it open).

    select.poll directly, not the selectors module: a short command spends
    more time in the selector's bookkeeping than in the reads themselves.
    """
    poller = select.poll()  # no descriptor limit, unlike select()
    open_fds = set(running.descriptors())
    for fd in open_fds:
        poller.register(fd, _READABLE)
    while open_fds:
        watch.check()
        if watch.gave_up():
            return
        timeout = watch.slice()
        for fd, _ in poller.poll(None if timeout is None else math.ceil(timeout * 1000)):
            if not running.drain(fd, out, err):
                poller.unregister(fd)
                open_fds.discard(fd)


def await_exit(running: Running, watch: Watch) -> int:
    """The exit status, still honouring the deadline and cancel.

    Once a cancel sent SIGTERM, the exit is not consumed until the group got its
    SIGKILL: whatever the command's first process did, the members that ignore
    SIGTERM die too.
    """
    while True:
        watch.check()
        if watch.killed:
            return running.exit_code()  # SIGKILL cannot be ignored; this is short
        if watch.terminating:
            time.sleep(watch.slice() or 0.0)  # until the SIGKILL is due
            continue
        if running.wait_exit(watch.slice()):
            return running.exit_code()
