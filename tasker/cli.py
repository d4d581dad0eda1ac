"""Command-line entry: turn argv and environment into options and drive the pipeline.

text -> lines -> options -> TaskFile -> validation -> engine -> records. Library
code raises typed exceptions; this module is the one place that maps them to
messages and exit codes (SPEC I.9). Every path after the file was read ends in
`Session.finish`, so the log, the state file and the JSON report agree.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, List, Mapping, Optional, Sequence

from tasker.engine.context import (
    EngineOptions, FatalRunError, Interrupt, Outcome, RunContext,
)
from tasker.options import Options, UsageError, effective_args, merge, parse_cli, parse_file_args
from tasker.report.logger import Log
from tasker.report.masking import Masker, split_secret_vars
from tasker.report.paths import default_base, run_paths
from tasker.session import Session
from tasker.syntax import lines as L
from tasker.syntax.diagnostics import TaskFileError, TaskFileUnreadable
from tasker.syntax.taskfile import LoadOptions, build_task_file, header_arguments

if TYPE_CHECKING:
    from tasker.exec.exectypes import ExecConfig

EXIT_USAGE, EXIT_INVALID, EXIT_NO_TASKS, EXIT_START, EXIT_LOCKED = 2, 20, 24, 12, 25


def _say(msg: str) -> None:
    print(msg, file=sys.stderr)


def _options(argv: Sequence[str]) -> Options:
    return merge(parse_cli(argv), {})


def main(argv: Optional[Sequence[str]] = None,
         environ: Optional[Mapping[str, str]] = None) -> int:
    """Run tasker with `argv`; return the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    environ = dict(os.environ if environ is None else environ)
    try:
        cli = parse_cli(argv)
    except UsageError as exc:
        _say(exc.message)
        return exc.exit_code
    except SystemExit as exc:  # --help, --version
        return int(exc.code or 0)
    path = cli["task_file"]
    try:
        raw = L.read_text(path)
    except TaskFileUnreadable as exc:
        _say(f"ERROR: {exc}")
        return 1
    except TaskFileError as exc:
        return _early_failure(cli, path, environ, exc)
    lines = L.classify(raw)
    try:
        file_args = parse_file_args([a.text for a in header_arguments(lines)])
    except UsageError as exc:
        _say(f"ERROR: {exc.message}")
        return _finish_early(cli, path, environ, exc.exit_code, exc.message)
    options = merge(cli, file_args)
    return run(options, path, raw, lines, environ)


def _early_failure(cli: dict, path: str, environ: Mapping[str, str],
                   exc: TaskFileError) -> int:
    _say(exc.render())
    return _finish_early(cli, path, environ, EXIT_INVALID, "task file is not valid")


def _finish_early(cli: dict, path: str, environ: Mapping[str, str], code: int,
                  error: str) -> int:
    session = _session(merge(cli, {}), path, environ)
    if session is None:
        return 1
    return session.finish(code, "validation_failed", error)


def _session(options: Options, path: str, environ: Mapping[str, str]) -> Optional[Session]:
    """Create the log and the run's paths; None (after a message) if the log dir fails."""
    log = Log(level=options.log_level)
    base = default_base(options.log_dir, environ)
    started = time.time()
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _say(f"ERROR: cannot create log directory '{base}': {exc.strerror or exc}")
        return None
    paths = run_paths(base, Path(path), started, options.project)
    session = Session(Path(path), options, log, paths, environ, started=started)
    if session.real_run:
        try:
            log.open_file(paths.log_file)
        except OSError as exc:
            _say(f"ERROR: cannot write log file '{paths.log_file}': {exc.strerror or exc}")
            return None
    return session


def run(options: Options, path: str, raw: str, lines: Sequence[L.Line],
        environ: Mapping[str, str]) -> int:
    """Everything after the options are known; returns the exit code."""
    if options.show_effective_args:
        print(effective_args(options))
        return 0
    session = _session(options, path, environ)
    if session is None:
        return 1
    if options.show_recovery_info:
        return _show_recovery_info(session)
    for name in options.ignored_from_file:
        print(f"WARNING: Security-sensitive flag --{name.replace('_', '-')} in the task file "
              "is ignored; give it on the command line.")
    try:
        return _pipeline(session, raw, lines)
    except TaskFileError as exc:
        _report_diagnostics(session, exc)
        return session.finish(EXIT_INVALID, "validation_failed", "task file is not valid")


def _show_recovery_info(session: Session) -> int:
    from tasker import resume

    try:
        state = resume.read_state(session.paths.state_file)
    except FatalRunError as exc:
        _say(f"ERROR: {exc.message}")
        return EXIT_START
    if state is None:
        print(f"No recovery state for {session.task_file} ({session.paths.state_file}).")
    else:
        print(resume.describe(state, session.paths.state_file))
    return 0


def _lock_instance(session: Session):
    """With --instance-check, hold the workflow's lock; None when not asked for."""
    from tasker.instance import InstanceLock, instance_key

    opts = session.options
    if not opts.instance_check:
        return None
    if opts.force_instance:
        session.log.warn("# WARNING: Instance check bypassed (--force-instance flag set)")
        return None
    home = Path(session.environ.get("HOME") or Path.home())
    lock = InstanceLock(home, instance_key(session.file_sha256, session.globals()))
    masked = {k: session.masker.mask(v) for k, v in session.globals().items()}
    lock.acquire(str(session.task_file), opts.project, masked)
    return lock


def _report_diagnostics(session: Session, exc: TaskFileError) -> None:
    session.log.error("# Task validation FAILED.")
    for d in exc.diagnostics:
        session.log.error(d.render(exc.path).replace("\n", "\n    "))
    _say(exc.render())


def _load(session: Session, raw: str, lines: Sequence[L.Line]):
    opts = session.options
    overrides = dict(opts.set or [])
    load = LoadOptions(environ=session.environ, overrides=overrides,
                       strict_env=bool(opts.strict_env_validation))
    session.file_sha256 = __import__("hashlib").sha256(raw.encode("utf-8")).hexdigest()
    taskfile = build_task_file(str(session.task_file), raw, lines, load)
    session.taskfile = taskfile
    values = taskfile.global_values
    session.masker = Masker.from_globals(values, split_secret_vars(values.get("SECRET_VARS", "")))
    session.log.set_masker(session.masker)
    return taskfile


def _pipeline(session: Session, raw: str, lines: Sequence[L.Line]) -> int:
    from tasker.exec.config import ExecConfigError, default_search_dirs, load_exec_config
    from tasker.validate.pipeline import check_task_file

    opts, log = session.options, session.log
    log.info(f"# Validating task file: {session.task_file}")
    taskfile = _load(session, raw, lines)
    if not taskfile.tasks:
        log.error("No tasks found in the file.")
        return session.finish(EXIT_NO_TASKS, "validation_failed", "no tasks found")
    if not (opts.skip_task_validation or opts.skip_validation):
        check_task_file(taskfile, log, skip_security=bool(opts.skip_security_validation),
                        skip_subtask_range=bool(opts.skip_subtask_range_validation))
        log.info("# Task validation passed successfully.")
    if opts.start_from is not None and opts.start_from not in taskfile.tasks:
        log.error(f"--start-from {opts.start_from}: task {opts.start_from} is not defined")
        return session.finish(EXIT_START, "validation_failed", "start task not defined")
    try:
        config = load_exec_config(default_search_dirs(Path(__file__).resolve().parent.parent))
    except ExecConfigError as exc:
        log.error(str(exc))
        return session.finish(EXIT_INVALID, "validation_failed", str(exc))
    code = _validate_hosts(session, config)
    if code:
        return session.finish(code, "validation_failed", "host validation failed")
    if opts.validate_only:
        log.info("# Validation completed successfully.")
        return session.finish(0, "success")
    return _execute(session, config)


def _validate_hosts(session: Session, config: ExecConfig) -> int:
    """Host pre-flight unless skipped (SPEC II.8.5), then the summary; 0 or the exit code."""
    from tasker.validate.hosts import HostCheckOptions, apply_fqdn, check_hosts
    from tasker.validate.summary import summary_lines, use_color

    opts, taskfile = session.options, session.taskfile
    hosts = None
    if opts.skip_host_validation or opts.skip_validation:
        print("WARNING: Skipping host validation can lead to connection failures!")
    else:
        hosts = check_hosts(taskfile, config, HostCheckOptions(
            skip_unresolved=bool(opts.skip_unresolved_host_validation),
            skip_command=bool(opts.skip_command_validation),
            cli_exec_type=opts.type, environ=session.environ), session.log)
        for sentence in hosts.errors:
            session.log.error(sentence)
        if hosts.exit_code:
            return hosts.exit_code
        session.taskfile = apply_fqdn(taskfile, hosts.fqdn)
    checked = None if opts.skip_task_validation or opts.skip_validation else True
    tasks = sum(task.generated_by is None for task in taskfile.tasks.values())
    for line in summary_lines(syntax_ok=True, task_count=tasks, dependency_ok=checked,
                              flow_ok=checked, hosts=hosts,
                              color=use_color(sys.stdout, session.environ)):
        session.log.info(line)
    return 0


def _restore_state(session: Session) -> Optional[int]:
    """Bring back the previous run's results; return the task to start at (or None)."""
    from tasker import resume

    opts, tasks = session.options, session.taskfile.tasks
    if opts.start_from is None and not opts.auto_recovery:
        return None
    state = resume.read_state(session.paths.state_file)
    if state is None:
        return opts.start_from
    resume.check_same_file(state, session.file_sha256, bool(opts.force))
    start = opts.start_from
    if start is None:
        start = resume.resume_task(state, tasks)
        if start is None:
            return None
        session.log.info(f"Auto-recovery: resuming workflow at task {start}")
    session.record.results.update(resume.restored_results(state))
    session.log.info(f"Restored {len(session.record.results)} task result(s) from "
                     f"{session.paths.state_file}")
    return start


def _engine_options(session: Session, start: Optional[int]) -> EngineOptions:
    opts = session.options
    return EngineOptions(dry_run=not opts.run, fire_and_forget=bool(opts.fire_and_forget),
                         cli_exec_type=opts.type, cli_timeout=opts.timeout,
                         environ=session.environ, start_from=start)


def _execute(session: Session, config: ExecConfig) -> int:
    from tasker.instance import InstanceLocked

    try:
        lock = _lock_instance(session)
    except InstanceLocked as exc:
        session.log.error(f"Workflow is already running: {exc.holder}")
        session.log.error(f"Lock file: {exc.path}")
        session.log.close()  # exit 25 bypasses the other records, as in the original
        return EXIT_LOCKED
    try:
        return _run_engine(session, config)
    finally:
        if lock is not None:
            lock.release()


def _run_engine(session: Session, config: ExecConfig) -> int:
    from tasker.engine.sequential import run_workflow
    from tasker.exec.process import ProcessExecutor
    from tasker.report.backup import backup_task_file
    from tasker.report.paths import run_stamp

    if session.real_run and not session.options.no_task_backup:
        try:
            backup_task_file(session.task_file, session.paths.backup_dir,
                             run_stamp(session.started))
        except OSError as exc:
            session.log.warn(f"Task file backup failed: {exc}")
    session.log.debug(f"Execution types from {config.source or 'built-in defaults'}: "
                      f"{', '.join(sorted(config.types))} (default {config.default_exec_type})")
    interrupt = Interrupt()
    with tempfile.TemporaryDirectory(prefix="tasker_session_") as spool, \
            _signals(interrupt):
        try:
            start = _restore_state(session) if session.real_run else session.options.start_from
            ctx = RunContext(taskfile=session.taskfile, options=_engine_options(session, start),
                             exec_config=config, executor=ProcessExecutor(Path(spool)),
                             log=session.log, interrupt=interrupt, record=session.record,
                             on_task_finished=session.save_state, spool_dir=Path(spool))
            outcome = run_workflow(ctx)
        except FatalRunError as exc:
            session.log.error(f"FATAL ERROR: {exc.message}")
            outcome = Outcome(exc.exit_code, "failed", exc.message, exc.task_id)
    return session.finish(outcome.exit_code, outcome.status, outcome.error)


class _signals:
    """Route SIGINT/SIGTERM to the run's Interrupt for the duration of the run."""

    def __init__(self, interrupt: Interrupt):
        self.interrupt = interrupt
        self.saved: List = []

    def __enter__(self) -> "_signals":
        for sig in (signal.SIGINT, signal.SIGTERM):
            self.saved.append((sig, signal.signal(sig, self._handle)))
        return self

    def _handle(self, signum: int, _frame) -> None:
        self.interrupt.trigger(signum)

    def __exit__(self, *exc) -> None:
        for sig, old in self.saved:
            signal.signal(sig, old)
