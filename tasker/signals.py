"""SIGINT, SIGTERM and SIGHUP, from start-up to the last record: one way to stop a run.

A router is installed when tasker starts and stays until it ends. Each of these
signals triggers the router's current `Interrupt`: running commands are
cancelled (their process groups get SIGTERM, then SIGKILL) and nothing new
starts. The engine and the alert script have stop points of their own and need
nothing more. Before the engine runs, the main thread is busy in code without
stop points (reading the file, validating it, waiting for the host pre-flight),
so there the first signal also raises `Stopped`, which the CLI turns into the
interrupted exit (128 + N) with every record written.

SIGHUP is a stop like SIGTERM: it is what tasker gets when the operator's SSH
session to the jumphost drops, and its default action would end tasker
without any record while its children run on.
"""

from __future__ import annotations

import signal
from contextlib import contextmanager
from typing import Any, Dict, Iterator, Optional

from tasker.interrupt import Interrupt

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def exit_code(signum: int) -> int:
    """The exit code of a run stopped by `signum` (129 SIGHUP, 130 SIGINT, 143 SIGTERM)."""
    return 128 + signum


def signal_name(signum: int) -> str:
    """`SIGHUP` for 1: the name log lines and reports use."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class Stopped(BaseException):
    """A stop signal arrived where the code has no stop points (before the engine runs).

    A BaseException, like KeyboardInterrupt, so that no `except Exception` swallows it.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal_name(signum))
        self.signum = signum

    @property
    def name(self) -> str:
        """The signal's name, e.g. SIGHUP."""
        return signal_name(self.signum)

    @property
    def exit_code(self) -> int:
        """128 + the signal's number."""
        return exit_code(self.signum)


class SignalRouter:
    """Sends the stop signals to an Interrupt; until `stop_raising`, also raises Stopped once.

    A router that was never installed (a Session built in a test, tasker run from
    a thread) never sees a signal but is used the same way.
    """

    def __init__(self, interrupt: Optional[Interrupt] = None) -> None:
        self.interrupt = interrupt if interrupt is not None else Interrupt()
        self._raising = True
        self._saved: Dict[int, Any] = {}

    def install(self) -> "SignalRouter":
        """Take over the stop signals (only the main thread can; elsewhere nothing changes)."""
        try:
            for signum in STOP_SIGNALS:
                self._saved[signum] = signal.signal(signum, self._handle)
        except ValueError:  # not the main thread
            self.uninstall()
        return self

    def uninstall(self) -> None:
        """Give the stop signals back to whoever had them before."""
        saved, self._saved = self._saved, {}
        for signum, previous in saved.items():
            signal.signal(signum, previous)

    def stop_raising(self) -> None:
        """From here on, signals only trigger the Interrupt: the code watches it itself."""
        self._raising = False

    @contextmanager
    def routed_to(self, interrupt: Interrupt) -> Iterator[Interrupt]:
        """Signals go to `interrupt` while the block runs (the alert script has its own)."""
        previous, self.interrupt = self.interrupt, interrupt
        try:
            yield interrupt
        finally:
            self.interrupt = previous

    def _handle(self, signum: int, _frame: object) -> None:
        # No logging here: the main thread may hold the log's lock at this very moment.
        self.interrupt.trigger(signum)
        if self._raising:
            self._raising = False  # once: the clean-up that follows must not be cut short
            raise Stopped(signum)
