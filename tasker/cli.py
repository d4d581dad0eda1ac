"""Command-line entry: turn argv and environment into options and drive the pipeline.

text -> header lines -> options -> TaskFile -> validation -> engine -> records. Library
code raises typed exceptions; this module is the one place that maps them to
messages and exit codes (SPEC I.9). Every path after the file was read ends in
`Session.finish`, so the log, the state file and the JSON report agree.
"""

from __future__ import annotations

import gc
import os
import sys
import time
from pathlib import Path
from typing import (
    TYPE_CHECKING,
    Any,
    Dict,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from tasker import preflight
from tasker.engine.errors import FatalRunError
from tasker.gcpause import gc_paused
from tasker.options import Options, UsageError, effective_args, merge, parse_cli, parse_file_args
from tasker.report.logger import Log, print_out
from tasker.report.masking import Masker, split_secret_vars
from tasker.report.paths import default_base, run_paths
from tasker.report.private import make_private_dirs
from tasker.report.stdout_report import StdoutReport, wants_stdout
from tasker.session import Session
from tasker.signals import SignalRouter, Stopped
from tasker.syntax import lines as L
from tasker.syntax.ast import TaskFile
from tasker.syntax.diagnostics import TaskFileError, TaskFileUnreadable, render_all
from tasker.syntax.taskfile import LoadOptions, build_task_file, header_arguments
from tasker.validate.structure import tasks_missing_command_fields

if TYPE_CHECKING:  # (the exec config loads when a file is validated)
    from tasker.exec.exectypes import ExecConfig

EXIT_USAGE, EXIT_INVALID, EXIT_NO_TASKS, EXIT_START = 2, 20, 24, 12


def _say(msg: str) -> None:
    try:
        print(msg, file=sys.stderr)
    except OSError:  # the terminal is gone (EIO after a hangup): nothing can be said there
        pass


def main(argv: Optional[Sequence[str]] = None,
         environ: Optional[Mapping[str, str]] = None) -> int:
    """Run tasker with `argv`; return the process exit code (the process itself runs it
    through `entry`).

    Every resource the run opened (log, records, SSH connections, child processes) is
    closed by the time it returns; the standard streams are flushed here, so that a
    reader gone from them cannot change the exit code at the interpreter's exit.
    SIGINT, SIGTERM and SIGHUP stop tasker the same way from here on (tasker/signals.py).
    """
    signals = SignalRouter().install()
    try:
        return _main(list(sys.argv[1:] if argv is None else argv),
                     dict(os.environ if environ is None else environ), signals)
    except Stopped as stop:  # before any record exists: there is nothing to write yet
        _say(f"Received {stop.name}, stopping")
        return stop.exit_code
    finally:
        signals.uninstall()
        _flush_standard_streams()


def entry() -> int:
    """`main()` as the whole process runs it (the `tasker` command, `tasker.py`,
    `python -m tasker`): the exit code, with the cycle collector told that the heap is
    done with.

    When the interpreter exits it looks for reference cycles in everything still
    alive (the loaded file, Lark's tables, every module) before it frees the
    modules; `main` has closed every resource it opened, so whatever is left is
    memory the operating system takes back anyway. `gc.freeze()` moves every object
    out of the collector's sight, and the exit frees them by reference counting
    alone. Measured in turns (bench/README.md): `--validate-only` of a one-task file
    0.108 -> 0.097 s, of the 10,000-task benchmark file 0.58 -> 0.51 s. Only the
    process's own exit does this: `main` called from a test leaves the collector as it
    was.
    """
    code = main()
    gc.freeze()
    return code


def _flush_standard_streams() -> None:
    """Flush stdout and stderr; one whose reader is gone (a closed pipe, a hung-up
    terminal) is pointed at /dev/null, or the interpreter's own last flush would fail
    and end the process with exit code 120 instead of tasker's."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            try:
                null = os.open(os.devnull, os.O_WRONLY)
                os.dup2(null, stream.fileno())
                os.close(null)
            except (OSError, ValueError):  # (no descriptor: nothing is left to flush)
                pass


def _main(argv: List[str], environ: Dict[str, str], signals: SignalRouter) -> int:
    try:
        cli = parse_cli(argv)
    except UsageError as exc:
        _say(exc.message)
        return exc.exit_code
    except SystemExit as exc:  # --help, --version
        return int(exc.code or 0)
    return _load_and_run(cli, environ, signals)


def _load_and_run(cli: Dict[str, Any], environ: Mapping[str, str], signals: SignalRouter) -> int:
    path = cli["task_file"]
    try:
        raw = L.read_text(path)
    except TaskFileUnreadable as exc:
        _say(f"ERROR: {exc}")
        return 1
    except TaskFileError as exc:
        return _early_failure(cli, path, environ, exc, signals)
    try:
        file_args = parse_file_args(header_arguments(raw))
        options = merge(cli, file_args)
        if options.graph and wants_stdout(options.output_json):
            raise UsageError("--graph and --output-json - both write to standard output; "
                             "give --output-json a file name")
    except UsageError as exc:
        _say(f"{path}:{exc.line}: error: {exc.message}" if exc.line else f"ERROR: {exc.message}")
        return _finish_early(cli, path, environ, signals, exc.exit_code, exc.message)
    except Stopped as stop:
        return _finish_early(cli, path, environ, signals, stop.exit_code,
                             f"interrupted by {stop.name}", "interrupted",
                             warning=f"Received {stop.name}, stopping")
    return run(options, path, raw, environ, signals)


def _early_failure(cli: Dict[str, Any], path: str, environ: Mapping[str, str],
                   exc: TaskFileError, signals: SignalRouter) -> int:
    _say(exc.render())
    return _finish_early(cli, path, environ, signals, EXIT_INVALID, "task file is not valid")


def _finish_early(cli: Dict[str, Any], path: str, environ: Mapping[str, str], signals: SignalRouter,
                  code: int, error: str, status: str = "validation_failed",
                  warning: Optional[str] = None) -> int:
    session = _session(merge(cli, {}), path, environ)
    session.signals = signals
    if warning:
        session.log.warn(warning)
    return session.finish(code, status, error)


def _session(options: Options, path: str, environ: Mapping[str, str]) -> Session:
    """Create the log and the run's paths.

    When the log directory or file cannot be made, the sentence saying so is printed
    and kept as `setup_error`: the session still writes what it can (the JSON report
    to an explicit path), and the run ends with exit 1.
    """
    # `--output-json -` takes stdout for the report before anything is said there.
    report_out = StdoutReport() if wants_stdout(options.output_json) else None
    # With --graph, stdout carries only the graph (so it can be piped to `dot`).
    log = Log(level=options.log_level, stream=sys.stderr if options.graph else None)
    base = default_base(options.log_dir, environ)
    started = time.time()
    paths = run_paths(base, Path(path), started, options.project)
    session = Session(Path(path), options, log, paths, environ, started=started,
                      stdout_report=report_out)
    try:
        make_private_dirs(base)
    except OSError as exc:
        session.setup_error = f"cannot create log directory '{base}': {exc.strerror or exc}"
    if session.real_run and session.setup_error is None:
        try:
            log.open_file(paths.log_file)
        except OSError as exc:
            session.setup_error = (f"cannot write log file '{paths.log_file}': "
                                   f"{exc.strerror or exc}")
    if session.setup_error is not None:
        _say(f"ERROR: {session.setup_error}")
    return session


def run(options: Options, path: str, raw: str, environ: Mapping[str, str],
        signals: Optional[SignalRouter] = None) -> int:
    """Everything after the options are known; returns the exit code.

    `signals` is the process's router of the stop signals (none: the session's
    own, which sees no signal).
    """
    if options.show_effective_args:
        print_out(effective_args(options, _secrets(options, path, raw, environ).mask))
        return 0
    session = _session(options, path, environ)
    if signals is not None:
        session.signals = signals
    if session.setup_error is not None:
        return session.finish(1, "failed", session.setup_error)
    if options.show_recovery_info:
        return _show_recovery_info(session)
    for name in options.ignored_from_file:  # on stderr: stdout may be a graph being piped
        _say(f"WARNING: Security-sensitive flag --{name.replace('_', '-')} in the task "
             "file is ignored; give it on the command line.")
    try:
        return _run_session(session, raw)
    finally:
        session.close_ssh()  # (every way out)


def _secrets(options: Options, path: str, raw: str, environ: Mapping[str, str]) -> Masker:
    """The masker of the file's secrets (its globals and `--set`), loaded just for that."""
    load = LoadOptions(environ=environ, overrides=dict(options.set or []))
    try:
        values = build_task_file(path, raw, load).global_values
    except TaskFileError as exc:
        values = exc.global_values or dict(options.set or [])
    return Masker.from_globals(values, split_secret_vars(values.get("SECRET_VARS", "")))


def _run_session(session: Session, raw: str) -> int:
    """The pipeline, with every way out of it ending the session."""
    try:
        try:
            return _pipeline(session, raw)
        except TaskFileError as exc:
            _report_diagnostics(session, exc)
            return session.finish(EXIT_INVALID, "validation_failed", "task file is not valid")
        except Exception as exc:  # noqa: BLE001 - a bug: keep the records, say where to look
            import traceback  # (only a bug needs it: start-up stays cheap)

            session.log.debug("Internal error:\n" + traceback.format_exc())
            session.log.error(f"Internal error ({exc.__class__.__name__}: {exc}); this is a "
                              "bug in tasker, the log file has the details")
            return session.finish(1, "failed", f"internal error: {exc.__class__.__name__}")
    except Stopped as stop:  # a signal before the engine ran (the engine ends by itself)
        session.log.warn(f"Received {stop.name}, stopping")
        return session.finish(stop.exit_code, "interrupted", f"interrupted by {stop.name}")


def _show_recovery_info(session: Session) -> int:
    from tasker import resume

    shown = 0
    try:
        for text in resume.recovery_info(session.paths.recovery_dir, session.task_file):
            print_out(("\n" if shown else "") + text)
            shown += 1
    except FatalRunError as exc:
        _say(f"ERROR: {exc.message}")
        return EXIT_START
    if not shown:
        print_out(f"No recovery state for {session.task_file} ({session.paths.recovery_dir}).")
    return 0


def _report_diagnostics(session: Session, exc: TaskFileError) -> None:
    """The located errors, masked before they are cut: on stderr, and as ERROR lines in
    the log file only, so the console shows each once."""
    if exc.global_values and not session.masker:  # the file did not load: mask what it set
        _use_masker(session, exc.global_values)
    mask = session.masker.mask
    session.log.error("# Task validation FAILED.")
    errors = [d for d in exc.diagnostics if d.is_error]  # warnings are in the DEBUG log
    for text in render_all(exc.path, errors, mask):  # (the console has them on stderr)
        session.log.file_only("ERROR", text.replace("\n", "\n    "))
    _say(exc.render(mask))
    preflight.summarize_invalid_file(session, exc)


def _use_masker(session: Session, values: Mapping[str, str]) -> None:
    """Mask the secrets among `values` (globals) in every record of the session."""
    session.masker = Masker.from_globals(values, split_secret_vars(values.get("SECRET_VARS", "")))
    session.log.set_masker(session.masker)


def _load(session: Session, raw: str) -> TaskFile:
    opts = session.options
    overrides = dict(opts.set or [])
    load = LoadOptions(environ=session.environ, overrides=overrides,
                       strict_env=bool(opts.strict_env_validation))
    session.source_text = raw
    taskfile = build_task_file(str(session.task_file), raw, load)
    session.taskfile = taskfile
    for task, key in tasks_missing_command_fields(taskfile):  # TASKER's parse-time note
        session.log.warn(f"Task {task.id} is missing required '{key}' field.")  # (A.2)
    unset = sum(1 for g in taskfile.globals.values() if g.unset_env and g.line)
    if unset:  # (the validator fails the used ones; SPEC II.1.3 and A.2)
        session.log.warn(f"# {unset} global variable(s) reference unset environment variables; "
                         "will be checked during validation.")
    _use_masker(session, taskfile.global_values)
    return taskfile


# With --start-from, each active skip flag is announced (SPEC II.9.1, A.2), as TASKER does.
RESUME_SKIP_WARNINGS = (
    ("skip_task_validation", "# Task Validation will be skipped"),
    ("skip_host_validation", "# Host Validation will be skipped - ATTENTION"),
    ("skip_unresolved_host_validation",
     "# Unresolved Host Validation will be skipped - runtime hostname resolution enabled"),
    ("skip_command_validation", "# Command Validation will be skipped - ATTENTION"),
    ("skip_security_validation", "# Security Validation will be skipped - ATTENTION"),
)


def _warn_resume_skips(session: Session) -> None:
    opts = session.options
    for name, line in RESUME_SKIP_WARNINGS:
        if getattr(opts, name, False):
            session.log.warn(line)


def _pipeline(session: Session, raw: str) -> int:
    """Load, validate, pre-flight, then run (or stop where an option says so)."""
    opts, log = session.options, session.log
    if opts.start_from is not None:
        _warn_resume_skips(session)
    log.info(f"# Validating task file: {session.task_file}")
    with gc_paused():  # (the one pause of the collector: see tasker/gcpause.py)
        checked = _load_and_validate(session, raw)
    if isinstance(checked, int):
        return checked
    taskfile, config, notes = checked
    if opts.graph:
        print_out(preflight.render_graph(session, opts.graph))
        return session.finish(0, "success")
    if opts.start_from is not None and opts.start_from not in taskfile.tasks:
        log.error(f"--start-from {opts.start_from}: task {opts.start_from} is not defined")
        return session.finish(EXIT_START, "validation_failed", "start task not defined")
    for note in notes:  # informational, never fatal (II.8.4), after the start check (II.7.2)
        log.info(note)
    session.phase = "host_validation"
    code = preflight.validate_hosts(session, config)
    if code:
        return session.finish(code, "validation_failed", "host validation failed")
    if opts.validate_only:
        log.info("# Validation completed successfully.")
        return session.finish(0, "success")
    if opts.show_plan:
        stop = preflight.confirm_plan(session)
        if stop == 0:
            return session.finish(0, "success")
        if stop is not None:
            return session.finish(stop, "failed", "--show-plan needs a terminal or -y")
    from tasker import runner  # (the engines load only for a run)

    return runner.execute(session, config)


def _load_and_validate(session: Session, raw: str
                       ) -> Union[int, Tuple[TaskFile, "ExecConfig", List[str]]]:
    """The loaded and validated file, its exec config and dependency notes, or the exit
    code of a file that stops here (an invalid one raises TaskFileError)."""
    from tasker.exec.config import ExecConfigError, default_search_dirs, load_exec_config

    opts, log = session.options, session.log
    taskfile = _load(session, raw)
    if not taskfile.tasks:
        log.warn("No valid tasks found. Exiting.")  # (TASKER's parse-time line, A.2)
        return session.finish(EXIT_NO_TASKS, "validation_failed", "no tasks found")
    try:
        config = load_exec_config(default_search_dirs(Path(__file__).resolve().parent.parent))
    except ExecConfigError as exc:
        log.error(str(exc))
        return session.finish(EXIT_INVALID, "validation_failed", str(exc))
    if opts.type and config.canonical(opts.type) is None:
        # argparse's `choices` in the original; the choices are known only from the config
        message = (f"argument -t/--type: invalid choice: '{opts.type}' (choose from "
                   f"{', '.join(sorted(config.types))})")
        log.error(message)
        return session.finish(EXIT_USAGE, "validation_failed", message)
    return taskfile, config, preflight.validate_task_file(session, config)
