"""The `--alert-on-failure` script: what it is told, how it runs, what is logged (II.9.2).

`Session.finish` calls `run_alert` once a run has failed and its JSON report is
written. The script runs in its own session, as tasks do: its timeout kills its
whole process group, and a stop signal ends the group (SIGTERM, then SIGKILL); the
signal's number is handed back so that the run's exit code can carry it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Mapping, Optional

from tasker.report.logger import Log
from tasker.report.masking import Masker
from tasker.signals import SignalRouter, signal_name

if TYPE_CHECKING:
    from tasker.exec.base import CommandResult

ALERT_TIMEOUT = 30


def run_alert(script: str, real_run: bool, told: Mapping[str, str], environ: Mapping[str, str],
              masker: Masker, log: Log, signals: SignalRouter) -> Optional[int]:
    """Run `script` with the `TASKER_*` values of `told` in its environment (masked, as
    every record that leaves the process); the number of a signal that stopped it, or
    None. `real_run` is -r: without it the script is only named, as TASKER does."""
    if not real_run:  # (with -r it runs, --validate-only or not: II.9.2)
        log.info(f"[DRY RUN] Would execute alert script: {script}")
        return None
    if not os.path.isfile(script):  # (an ERROR, not a WARN line, as TASKER logs it)
        log.error(f"Alert script not found or not a regular file: {script}")
        return None
    if not os.access(script, os.X_OK):
        try:  # TASKER makes the script executable (chmod 0700) before it runs it
            os.chmod(script, 0o700)
        except OSError:
            pass
    log.warn(f"Executing alert script: {script}")
    from tasker.exec.process import run_script  # (only an alert runs a program from here)
    from tasker.interrupt import Interrupt

    env = dict(environ, **{name: masker.mask(value) for name, value in told.items()})
    with signals.routed_to(Interrupt()) as stop:
        try:
            result = run_script([os.path.abspath(script)], ALERT_TIMEOUT, stop.event, env)
        except (OSError, ValueError) as exc:
            log.warn(f"Alert script could not be started: {exc}")
            return stop.signum
    _log_outcome(log, result)
    if stop.signum is not None:
        log.warn(f"Received {signal_name(stop.signum)} while the alert script ran; it was "
                 "stopped")
    return stop.signum


def _log_outcome(log: Log, result: CommandResult) -> None:
    """The alert's outcome as TASKER logs it."""
    if result.timed_out:
        log.warn(f"Alert script timeout after {ALERT_TIMEOUT} seconds")
        return
    (log.info if result.exit_code == 0 else log.warn)(  # WARN only on failure
        f"Alert script exited with code {result.exit_code}")
    if result.stdout.strip():
        log.info(f"Alert script stdout: {result.stdout.strip()}")
    if result.stderr.strip():
        log.warn(f"Alert script stderr: {result.stderr.strip()}")
