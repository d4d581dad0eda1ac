"""One invocation's records: log, state file, JSON report, project summary, alert
(the script itself: tasker/alert.py).

The CLI creates a `Session` as soon as it knows the options; whatever way the
run ends (validation failure, task failure, signal, success), it ends through
`Session.finish`, which leaves every record consistent with the exit code.
"""

from __future__ import annotations

import os
import stat
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Dict, Mapping, Optional, Tuple

from tasker import __version__
from tasker.events import AtRunFinished, Event, Reporters, RunFinished, TaskFinished
from tasker.record import field, record, replace
from tasker.report.console import LogReporter
from tasker.report.logger import Log, wants_colour
from tasker.report.masking import Masker
from tasker.report.paths import RunPaths, named_file, state_file_name
from tasker.report.progress import console_progress
from tasker.report.stdout_report import StdoutReport
from tasker.results import RunRecord
from tasker.signals import SignalRouter, exit_code as signal_exit_code, signal_name
from tasker.syntax.ast import TaskFile

if TYPE_CHECKING:  # the state file is written by real runs only: loaded on first save
    from tasker.exec.ssh.executor import SshExecutor
    from tasker.exec.ssh.pool import SshPool
    from tasker.options import Options
    from tasker.report import statefile
    from tasker.report.kept import OutputKeeper

EXIT_RECORDS = 26  # the run's records (its log file) could not be written
SIGNAL_EXITS = (129, 130, 143)  # SIGHUP, SIGINT, SIGTERM: the operator's stop wins


@record
class Session:
    """The state of one invocation that the recorders need at the end."""

    task_file: Path
    options: Options
    log: Log
    paths: RunPaths
    environ: Mapping[str, str]
    started: float = field(default_factory=time.time)
    taskfile: Optional[TaskFile] = None
    source_text: str = ""  # the task file as read, once it has been (see file_sha256)
    run_state: RunRecord = field(default_factory=RunRecord)  # shared with the engine
    masker: Masker = field(default_factory=Masker)
    finished: bool = False
    ending_task: Optional[int] = None  # the task that ended the run (set by finish)
    # What the run was doing, for the summary line of a run that ends before any task
    # ran (SPEC 7.4): task_validation, host_validation, recovery, execution.
    phase: str = "task_validation"
    state_writer: Optional[statefile.StateWriter] = None
    output_keeper: Optional[OutputKeeper] = None  # with --output-dir, once the run starts
    # Why the log directory or file could not be made (the run then ends with exit 1).
    setup_error: Optional[str] = None
    # Whether this run keeps a state file (None: not decided yet, see choose_state_file).
    keeps_state: Optional[bool] = None
    # The stop signals (SIGINT, SIGTERM, SIGHUP); the CLI installs the process's router.
    signals: SignalRouter = field(default_factory=SignalRouter, repr=False, compare=False)
    # `--output-json -`: standard output, kept for the report (see cli._session).
    stdout_report: Optional[StdoutReport] = field(default=None, repr=False, compare=False)
    # Who observes the run's events (tasker/events.py); see __post_init__.
    events: Reporters = field(default_factory=Reporters, repr=False, compare=False)
    _sha256: str = field(default="", repr=False, compare=False)
    _run_id: str = field(default="", repr=False, compare=False)
    _ssh_pool: Optional[SshPool] = field(default=None, repr=False, compare=False)
    _ssh_lock: threading.Lock = field(default_factory=threading.Lock, repr=False,
                                      compare=False)

    def __post_init__(self) -> None:
        # The progress line first: it is blanked before the log writes a block's end. The
        # records last, in the order `finish` writes them: the JSON report, the state file.
        # The recap comes before them: it ends the console's account of the run.
        self.events = Reporters(console_progress(self.log), LogReporter(self.log),
                                AtRunFinished(self._recap_at_end),
                                AtRunFinished(self._reports_at_end), StateFileWriter(self))

    def _recap_at_end(self, event: RunFinished) -> None:
        """The RECAP, once, when a real run that started executing finishes (interrupted
        runs included); dry runs and runs stopped before any task ran have none."""
        if not event.revised and self.real_run and self.phase == "execution":
            self.recap(event.status, event.ended)

    def _reports_at_end(self, event: RunFinished) -> None:
        """The JSON and HTML reports, written when the run finishes and again (`revised`)
        when a signal during the alert changed the exit code."""
        self.write_report(event.exit_code, event.status, event.ended)
        self.write_html(event.exit_code, event.status, event.ended)

    @property
    def file_sha256(self) -> str:
        """SHA-256 of the task file's text, for the state file, the report and the
        instance lock; taken when first asked ("" before the file is read): hashlib
        loads OpenSSL, which a dry run or --validate-only need not wait for."""
        if not self._sha256 and self.source_text:
            import hashlib

            self._sha256 = hashlib.sha256(self.source_text.encode("utf-8")).hexdigest()
        return self._sha256

    @property
    def run_id(self) -> str:
        """A random UUID (32 hex digits) naming this run in its report, where
        `execution_id`, the file's hash, is the same for every run of the file."""
        if not self._run_id:
            import uuid  # (only runs that write a report need it)

            self._run_id = uuid.uuid4().hex
        return self._run_id

    @property
    def loaded_taskfile(self) -> TaskFile:
        """The task file, for the steps that only run once it is loaded (checks, the run)."""
        if self.taskfile is None:
            raise RuntimeError("the task file is used before it was loaded")
        return self.taskfile

    @property
    def real_run(self) -> bool:
        """True with -r (state, log file and backups are only written then)."""
        return bool(self.options.run) and not self.options.validate_only

    @property
    def log_name(self) -> Optional[str]:
        """The log file's path, when one is written."""
        return str(self.log.path) if self.log.path else None

    def globals(self) -> Dict[str, str]:
        """Global values for the report and the state file."""
        return self.taskfile.global_values if self.taskfile else {}

    def choose_state_file(self) -> None:
        """Name the state file after the task file's absolute path and its globals (I.4a),
        once they are known; a task file that is not a regular file (a pipe, `<(...)`)
        keeps none: it cannot be read again to resume (checked with stat, never opened)."""
        try:
            regular = stat.S_ISREG(os.stat(self.task_file).st_mode)
        except OSError:  # (a /dev/fd/N of a pipe that is gone)
            regular = False
        self.keeps_state = regular
        masked = {name: self.masker.mask(value) for name, value in self.globals().items()}
        self.paths = replace(self.paths, state_name=state_file_name(self.task_file, masked))

    def close_state(self, exit_code: int) -> None:
        """The run ended: a successful run's state file says so; the file is closed."""
        if self.state_writer is not None:
            if exit_code == 0:
                self.state_writer.mark_completed()
            self.state_writer.close()

    def save_state(self, current: Optional[int], next_task: Optional[int]) -> None:
        """Write the state file after a finished task (real runs of regular files only)."""
        if not self.real_run or self.taskfile is None:
            return
        if self.keeps_state is None:
            self.choose_state_file()
        if not self.keeps_state:
            return
        if self.state_writer is None:  # one writer per run: it caches serialised results
            from tasker.report import statefile

            self.state_writer = statefile.StateWriter(
                self.paths.state_file, masker=self.masker,
                fsync=bool(self.options.auto_recovery),
                task_file=os.path.abspath(self.task_file))
        try:
            self.state_writer.save(file_sha256=self.file_sha256, record=self.run_state,
                                   globals_=self.globals(), current_task=current,
                                   next_task=next_task)
        except OSError as exc:
            self.log.warn(f"Failed to save recovery state: {exc}")

    def ssh_pool(self) -> SshPool:
        """The run's SSH connections, made on first use (by host validation or the run,
        which then share them); closed by `close_ssh` on every way out."""
        with self._ssh_lock:
            if self._ssh_pool is None:
                from tasker.exec.ssh.pool import SshPool
                from tasker.exec.ssh.settings import ssh_options

                self._ssh_pool = SshPool(ssh_options(self.options, self.environ), self.log)
            return self._ssh_pool

    def ssh_executor(self, spool_dir: Path) -> SshExecutor:
        """The executor of `exec=ssh` commands (made on first use by the run's router)."""
        from tasker.exec.ssh.executor import SshExecutor

        return SshExecutor(self.ssh_pool(), spool_dir)

    def close_ssh(self) -> None:
        """Close the SSH connections, if any were made (idempotent; before the process ends)."""
        with self._ssh_lock:
            pool, self._ssh_pool = self._ssh_pool, None
        if pool is not None:
            pool.close()

    def finish(self, exit_code: int, status: str, error: Optional[str] = None,
               task_id: Optional[int] = None) -> int:
        """Write every record for this exit and return the exit code.

        `task_id` is the task that ended the run (a `return=` task, a failed one); the
        report, the summary line and the alert name it rather than the last task that
        ran a command. The JSON report is written before the alert (which may read it);
        a signal during the alert ends the script and makes the run's code 128 + N, so
        the report is written again and the summary line, written last, carries it too.
        """
        self.signals.stop_raising()  # records are written whole; only the alert can be cut
        if self.finished:
            return exit_code
        self.finished = True
        self.close_ssh()  # (no command runs any more: the connections go first)
        if self.log.write_error is not None and exit_code not in SIGNAL_EXITS:
            # The log is incomplete: that outranks whatever else ended the run (I.4a).
            exit_code, status, error = EXIT_RECORDS, "failed", self.log.write_error
            self.run_state.failure = None
        ended = time.time()
        self.ending_task = task_id if task_id is not None else self.run_state.last_task
        if error and self.run_state.failure is None and exit_code != 0:
            self.run_state.failure = {"task_id": self.ending_task, "exit_code": exit_code,
                                   "error": error}
        self.events.emit(RunFinished(exit_code, status, error, self.ending_task, ended))
        if exit_code != 0:
            signum = self._alert(exit_code, error or status)
            if signum is not None:
                exit_code, status = self._stopped_during_alert(signum, error or status)
                self.events.emit(RunFinished(exit_code, status, error, self.ending_task, ended,
                                             revised=True))
        self._write_summary(exit_code, ended)
        if exit_code == 0 and self.real_run and self.options.auto_recovery:
            self.paths.state_file.unlink(missing_ok=True)
        self.log.close()
        if self.stdout_report is not None:
            self.stdout_report.close()
        return exit_code

    def _stopped_during_alert(self, signum: int, reason: str) -> Tuple[int, str]:
        """The run's new exit code and status after a signal ended the alert script."""
        code = signal_exit_code(signum)
        self.run_state.failure = {
            "task_id": self.ending_task, "exit_code": code,
            "error": f"interrupted by {signal_name(signum)} during the alert script "
                     f"(the run had ended: {reason})"}
        return code, "interrupted"

    def finish_locked(self, exit_code: int, error: str) -> int:
        """Exit 25 (the workflow is already running): the JSON report, which every exit
        writes (I.6), but no summary line, state or alert, as in the original."""
        self.signals.stop_raising()
        self.close_ssh()
        if not self.finished:
            self.finished = True
            self.run_state.failure = {"task_id": None, "exit_code": exit_code, "error": error}
            self.events.emit(RunFinished(exit_code, "failed", error, None, time.time()))
            self.log.close()
            if self.stdout_report is not None:
                self.stdout_report.close()
        return exit_code

    def recap(self, status: str, ended: float) -> None:
        """The RECAP of what ran, on the console (in colour on a terminal) and in the log."""
        from tasker.report.executions import run_executions
        from tasker.report.recap import log_recap

        executions = run_executions(self.run_state, self.masker, status, ended)
        log_recap(self.log, executions, wants_colour(sys.stdout, self.environ))

    def write_html(self, exit_code: int, status: str, ended: float) -> None:
        """The `--output-html` report (only runs that ask for one pay for it)."""
        if not self.options.output_html:
            return
        from tasker.report.executions import run_view
        from tasker.report.html_report import write_html

        view = run_view(self.run_state, self.masker, task_file=str(self.task_file.absolute()),
                        status=status, exit_code=exit_code, dry_run=not self.options.run,
                        started=self.started, ended=ended)
        try:
            write_html(named_file(str(self.options.output_html)), view)
        except OSError as exc:
            self.log.warn(f"Failed to write the HTML report: {exc}")

    def write_report(self, exit_code: int, status: str, ended: float) -> None:
        """Write the JSON report of --output-json (none without it) from the run's record."""
        if self.options.output_json is None:
            return
        from tasker.report import json_report  # only runs that ask for a report pay for it

        total = len(self.taskfile.tasks) if self.taskfile else 0
        report = json_report.build_report(
            task_file=self.task_file, file_sha256=self.file_sha256, run_id=self.run_id,
            status=status,
            dry_run=not self.options.run, exit_code=exit_code, started=self.started,
            ended=ended, log_file=self.log_name, version=__version__, total_tasks=total,
            record=self.run_state, variables=self.globals(), masker=self.masker,
            kept_outputs=None if self.output_keeper is None
            else self.output_keeper.report_entries())
        if self.stdout_report is not None:  # (written once, when the session ends)
            self.stdout_report.keep(report)
            return
        value = self.options.output_json  # (a path the operator named, or the default's "")
        try:
            json_report.write_report(named_file(value) if value else self.paths.json_file,
                                     report)
        except OSError as exc:
            self.log.warn(f"Failed to write final summary: {exc}")

    def _write_summary(self, exit_code: int, ended: float) -> None:
        if self.paths.project_file is None:
            return
        from tasker.report import summary

        tid = self.ending_task
        result = self.run_state.results.get(tid) if tid is not None else None
        if tid is not None and result is not None:
            task = self.taskfile.tasks.get(tid) if self.taskfile else None
            # A block has no host: the column names its type, as in the original.
            host = result.hostname or result.exec_type or (task.type if task else "")
            cmd = result.command
        else:
            tid, host, cmd = -1, "localhost", self.phase
        try:
            summary.append_summary(self.paths.project_file, summary.summary_line(
                started=self.started, ended=ended, exit_code=exit_code,
                task_file=self.task_file, task_id=tid, hostname=host, command=cmd,
                log_file=Path(self.log_name).name if self.log_name else "unknown.log",
                masker=self.masker))
        except OSError as exc:
            self.log.warn(f"Failed to write project summary: {exc}")

    def _alert(self, exit_code: int, reason: str) -> Optional[int]:
        """Run --alert-on-failure's script (tasker/alert.py); the number of a signal that
        stopped it, or None."""
        script = self.options.alert_on_failure
        if not script:
            return None
        from tasker.alert import run_alert

        told = {"TASKER_EXIT_CODE": str(exit_code), "TASKER_ERROR": reason,
                "TASKER_FAILED_TASK": "" if self.ending_task is None else str(self.ending_task),
                "TASKER_TASK_FILE": str(self.task_file), "TASKER_LOG_FILE": self.log_name or "",
                "TASKER_STATE_FILE": str(self.paths.state_file)
                if self.real_run and self.paths.state_file.exists() else "",
                "TASKER_TIMESTAMP": time.strftime("%Y-%m-%d %H:%M:%S")}
        return run_alert(script, bool(self.options.run), told, self.environ, self.masker,
                         self.log, self.signals)


class StateFileWriter:
    """Subscriber: the state file, saved after every top-level task with where a resumed
    run goes on, and closed when the run finishes (marked completed on success)."""

    wants = frozenset((TaskFinished, RunFinished))

    def __init__(self, session: Session) -> None:
        self.session = session

    def handle(self, event: Event) -> None:
        """Save on TaskFinished, close on the first RunFinished."""
        if isinstance(event, TaskFinished):
            self.session.save_state(event.task_id, event.next_task)
        elif isinstance(event, RunFinished) and not event.revised:
            self.session.close_state(event.exit_code)
