"""A run's stop requests: what signal handlers and recorders set and the engine reads.

Its own module so that the signal router (tasker/signals.py), which every command
installs first, does not load the engine's context to have one.
"""

from __future__ import annotations

import threading
from typing import Optional


class Interrupt:
    """Requests to stop a run, set from signal handlers or recorders, read by the engine.

    Two strengths: a signal (`trigger`) cancels the commands that are running and
    starts nothing more; a halt (`halt`, e.g. the log file cannot be written) only
    starts nothing more, so running commands and sub-tasks finish and are recorded.
    Executors watch `event` (cancel); engines watch `stop` before they launch or sleep.
    """

    def __init__(self) -> None:
        self.event = threading.Event()  # cancel the running commands
        self.stop = threading.Event()   # launch nothing more (set by both kinds)
        self.signum: Optional[int] = None
        self.halt_reason: Optional[str] = None

    def trigger(self, signum: int) -> None:
        """Record the first signal and wake up whoever waits."""
        if self.signum is None:
            self.signum = signum
        self.event.set()
        self.stop.set()

    def halt(self, reason: str) -> None:
        """Start no more tasks, but let the running ones finish (the first reason is kept)."""
        if self.halt_reason is None:
            self.halt_reason = reason
        self.stop.set()

    @property
    def requested(self) -> bool:
        """True once a stop was requested (by a signal or a halt)."""
        return self.stop.is_set()
