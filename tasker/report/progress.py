"""A live progress line for a running block, on a terminal only (SPEC I.4).

`[block P] done/total, running R, failed F, elapsed Xs` is redrawn about four
times a second on stderr while a parallel or conditional block runs, and
cleared before the block's completion lines are logged. It is never written
to the log file (it does not go through the Log) and never when stdout or
stderr is not a terminal. NO_COLOR and TERM=dumb only concern colour, and the
line uses none: no escape sequences at all, just carriage returns and blanks.

`ProgressReporter` draws it from the run's events (BlockStarted, BlockProgress,
BlockFinished); the engine only counts.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, Optional, TextIO

from tasker.events import BlockFinished, BlockProgress, BlockStarted, Event

REFRESH = 0.25  # seconds between redraws
SHOW_AFTER = 0.5  # quick blocks finish before a line would only flicker


def wanted(stdout: TextIO, stderr: TextIO) -> bool:
    """True when both console streams are terminals."""
    try:
        return stdout.isatty() and stderr.isatty()
    except (AttributeError, ValueError):  # a closed or replaced stream
        return False


class ProgressReporter:
    """Subscriber that shows the running block's progress line (blocks do not nest, so
    there is at most one). With `log`, the line is blanked before each log line."""

    wants = frozenset((BlockStarted, BlockProgress, BlockFinished))

    def __init__(self, log: Any = None, stream: Optional[TextIO] = None,
                 refresh: float = REFRESH, show_after: float = SHOW_AFTER) -> None:
        self.log, self.stream = log, stream
        self.refresh, self.show_after = refresh, show_after
        self._current: Optional[Progress] = None

    def handle(self, event: Event) -> None:
        """Start, update or end the line (the events come in the block's order)."""
        if isinstance(event, BlockProgress):
            if self._current is not None:
                self._current.update(event)
        elif isinstance(event, BlockStarted):
            self._current = Progress(event.block_id, event.total, enabled=True,
                                     stream=self.stream, refresh=self.refresh,
                                     show_after=self.show_after, log=self.log).__enter__()
        elif isinstance(event, BlockFinished) and self._current is not None:
            current, self._current = self._current, None
            current.__exit__(None, None, None)


def console_progress(log: Any = None) -> Optional[ProgressReporter]:
    """The progress subscriber of this process's console; None when it is not a terminal."""
    return ProgressReporter(log) if wanted(sys.stdout, sys.stderr) else None


class Progress:
    """A block's counts and, when enabled, the live line drawn from a thread."""

    def __init__(self, block_id: int, total: int, *, enabled: bool,
                 stream: Optional[TextIO] = None, refresh: float = REFRESH,
                 show_after: float = SHOW_AFTER, log: Any = None) -> None:
        self.block_id, self.total = block_id, total
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self.refresh, self.show_after = refresh, show_after
        self.done = self.running = self.failed = 0
        self.log = log
        self._lock = threading.Lock()
        self._screen = threading.Lock()  # one writer of the status line at a time
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._shown = 0  # length of the line on screen, 0 when none
        self._started = time.monotonic()

    def update(self, counts: BlockProgress) -> None:
        """Take the block's latest counts (from the thread that emitted them)."""
        with self._lock:
            self.done, self.running, self.failed = counts.done, counts.running, counts.failed

    def line(self) -> str:
        """The status text as it is drawn."""
        with self._lock:
            done, running, failed = self.done, self.running, self.failed
        elapsed = time.monotonic() - self._started
        return (f"[block {self.block_id}] {done}/{self.total}, running {running}, "
                f"failed {failed}, elapsed {elapsed:.1f}s")

    # -- drawing ----------------------------------------------------------------------
    def __enter__(self) -> "Progress":
        self._started = time.monotonic()
        if self.enabled:
            if self.log is not None:
                self.log.set_status(self)
            self._thread = threading.Thread(target=self._loop, name=f"progress-{self.block_id}",
                                            daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._clear()
        if self.enabled and self.log is not None:
            self.log.set_status(None)

    def _loop(self) -> None:
        if self._stop.wait(self.show_after):
            return
        while True:
            self._draw(self.line())
            if self._stop.wait(self.refresh):
                return

    def _draw(self, text: str) -> None:
        # The cursor goes back to column 0, so a log line written meanwhile
        # starts at the left edge and the status line reappears below it.
        with self._screen:
            pad = " " * max(0, self._shown - len(text))
            self._write("\r" + text + pad + "\r")
            self._shown = len(text)

    def _clear(self) -> None:
        with self._screen:
            if self._shown:
                self._write("\r" + " " * self._shown + "\r")
                self._shown = 0

    def clear_for_log(self) -> None:
        """Blank the line before the log writes one (it is redrawn on the next tick)."""
        self._clear()

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # the terminal went away: stop drawing
            self.enabled = False
            self._stop.set()
