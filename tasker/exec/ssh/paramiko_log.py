"""paramiko's own log, kept off the console: its lines go to the run's log at DEBUG only
with --log-level DEBUG, and nowhere otherwise (SshPool quiets it while it is open)."""

from __future__ import annotations

import logging
import threading
from typing import Callable

from tasker.report.logger import Log


class _ToLog(logging.Handler):
    """paramiko's lines, at DEBUG in the run's log (masked like every line there)."""

    def __init__(self, log: Log) -> None:
        super().__init__(logging.DEBUG)
        self.log = log

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.log.debug(f"paramiko: {record.getMessage()}")
        except Exception:  # noqa: BLE001 - a log line must never break a connection
            pass


def quiet_paramiko(log: Log) -> Callable[[], None]:
    """Keep paramiko's logger off the console (its lines go to our log at DEBUG only with
    --log-level DEBUG); returns what restores it."""
    logger = logging.getLogger("paramiko")
    debug = log.level == "DEBUG"
    handler: logging.Handler = _ToLog(log) if debug else logging.NullHandler()
    saved = (logger.propagate, logger.level)
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.DEBUG if debug else logging.CRITICAL + 1)

    def restore() -> None:
        if _transport_threads_alive():
            # A transport whose handshake was cut off may still wake up to its closed
            # socket and log the error: Python would print it on stderr with a traceback,
            # after the run. The logger stays quiet for the rest of the process then.
            return
        logger.removeHandler(handler)
        logger.propagate, level = saved
        logger.setLevel(level)

    return restore


def _transport_threads_alive() -> bool:
    """Whether a paramiko Transport thread (each connection runs one) is still running."""
    import paramiko

    return any(isinstance(thread, paramiko.Transport) and thread.is_alive()
               for thread in threading.enumerate())
