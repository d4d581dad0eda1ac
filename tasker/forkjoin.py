"""Run two pure functions at once on a machine with two cores or more: fork, then join.

Validation of a large task file is CPU-bound Python, so threads do not help
and a process pool would have to pickle the whole task file over. A forked
child already has the loaded file in its (copy-on-write) memory: it computes
one function and sends back only the result, which is small (diagnostics),
while the parent computes the other.

Whatever goes wrong in the child (an exception, a crash, a result that does
not pickle), the parent computes that function itself: forking is only ever
a way to be faster, never a way to get a different answer.
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Callable, List, Optional, Tuple, TypeVar, cast

A = TypeVar("A")
B = TypeVar("B")


def cores() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def both(first: Callable[[], A], second: Callable[[], B], *, fork: bool = True) -> Tuple[A, B]:
    """(first(), second()); `second` runs in a forked child when that can help.

    Both must be pure: what the child changes in its memory is lost.
    """
    if not fork or not hasattr(os, "fork") or cores() < 2 or threading.active_count() > 1:
        return first(), second()  # (forking a process with threads is not safe)
    import pickle  # noqa: F401  (before the fork, so both sides have it; small files never fork)

    read_end, write_end = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        return first(), second()
    if pid == 0:  # the child: compute, send, and leave without running any cleanup
        os.close(read_end)
        _child(second, write_end)
    os.close(write_end)
    try:
        a = first()
        data = _read_all(read_end)  # (a stop signal may come while we wait here too)
    except BaseException:  # Ctrl-C, a stop signal or a bug: the child's work is not wanted
        _abandon(pid)
        raise
    finally:
        os.close(read_end)
    b: Optional[Tuple[B]] = _join(pid, data)
    return a, (second() if b is None else b[0])


def _child(fn: Callable[[], B], fd: int) -> None:
    """Run in the child: write the pickled result to `fd`, then exit at once."""
    code = 1
    try:
        # Die at once on a stop signal, like any worker (the parent decides what it means).
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        import pickle

        data = pickle.dumps((fn(),), protocol=pickle.HIGHEST_PROTOCOL)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        code = 0
    except BaseException:  # noqa: BLE001  the parent computes it again
        pass
    finally:
        os._exit(code)  # no atexit handlers, no flushing of buffers the parent owns


def _abandon(pid: int) -> None:
    """Stop the child and reap it."""
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
    os.waitpid(pid, 0)


def _read_all(fd: int) -> bytes:
    """Everything the child writes to `fd`, up to its end."""
    chunks: List[bytes] = []
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _join(pid: int, data: bytes) -> Optional[Tuple[B]]:
    """The child's result (in a 1-tuple), or None when it did not deliver one."""
    _, status = os.waitpid(pid, 0)
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0 or not data:
        return None
    import pickle

    try:
        return cast(Tuple[B], pickle.loads(data))
    except Exception:  # noqa: BLE001
        return None
