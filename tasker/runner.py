"""Running a validated workflow: instance lock, resume, the engine, the records.

Called by the CLI once validation passed; returns the exit code after
`Session.finish` has written every record. Signals reach the engine through the
session's router (tasker/signals.py), installed when tasker started.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, List, Optional

from tasker.engine.context import EngineOptions, Outcome, RunContext
from tasker.engine.errors import FatalRunError
from tasker.exec.exectypes import ExecConfig
from tasker.session import Session

if TYPE_CHECKING:
    from tasker.exec.router import ExecutorRouter
    from tasker.instance import InstanceLock

EXIT_START, EXIT_LOCK_ERROR, EXIT_LOCKED = 12, 20, 25


def _lock_instance(session: Session) -> Optional[InstanceLock]:
    """With --instance-check, hold the workflow's lock; None when not asked for."""
    from tasker.instance import InstanceLock, instance_key

    opts = session.options
    if not opts.instance_check:
        return None
    if opts.force_instance:
        session.log.warn("# WARNING: Instance check bypassed (--force-instance flag set)")
        return None
    session.phase = "instance_check"
    home = Path(session.environ.get("HOME") or Path.home())
    lock = InstanceLock(home, instance_key(session.file_sha256, session.globals()))
    masked = {k: session.masker.mask(v) for k, v in session.globals().items()}
    lock.acquire(str(session.task_file), opts.project, masked)
    return lock


def _restore_state(session: Session) -> Optional[int]:
    """Choose this run's state file, bring back the previous run's results; return the
    task to start at (or None)."""
    from tasker import resume

    opts, taskfile = session.options, session.loaded_taskfile
    start: Optional[int] = opts.start_from
    session.choose_state_file()
    if not session.keeps_state:
        _say_no_state(session)
        return start
    if start is None and not opts.auto_recovery:
        return None
    path, state = session.paths.state_file, resume.read_state(session.paths.state_file)
    adopted = state is None and start is None  # --start-from: same globals only
    if adopted:
        path, state = resume.latest_other_state(session.paths.recovery_dir,
                                                session.task_file, path) or (path, None)
    if state is None:
        return start
    resume.check_same_file(state, session.file_sha256, bool(opts.force))
    if start is None:
        start = resume.resume_task(state, taskfile.tasks)
        if start is None:
            return None
        session.log.info(f"Auto-recovery: resuming workflow at task {start}")
    saved = resume.restored_results(state)
    kept = resume.before_start(saved, taskfile, start)
    if opts.start_from is None:  # auto-recovery chose the point: it must be safe (II.9.1)
        _confirm_environment(session, resume.changed_globals(
            state, taskfile, session.masker.mask), path if adopted else None)
        needs = resume.backward_dependencies(taskfile, start, kept)
        if needs:
            raise FatalRunError(f"cannot resume at task {start}: it needs results of tasks "
                                f"that never ran ({'; '.join(needs[:5])}); run the workflow "
                                "from the start, or choose a point with --start-from",
                                resume.EXIT_STATE)
    for result in kept.values():
        session.run_state.store(result)  # stored, so this run's state file keeps them too
    session.log.info(f"Restored {len(kept)} task result(s) from {path}"
                     + (f" ({len(saved) - len(kept)} of task {start} and later left out)"
                        if len(kept) < len(saved) else ""))
    return start


def _say_no_state(session: Session) -> None:
    """A task file that is not a regular file keeps no state file: say so, and what
    --start-from or --auto-recovery do instead (I.4a)."""
    opts, log = session.options, session.log
    log.warn(f"The task file {session.task_file} is not a regular file (a pipe or a process "
             "substitution): this run keeps no state file and cannot be resumed")
    why = "a task file that is not a regular file has no state file"
    if opts.start_from is not None:
        log.warn(f"--start-from {opts.start_from}: starting at task {opts.start_from} "
                 f"without restoring earlier results, because {why}")
    elif opts.auto_recovery:
        log.warn(f"Auto-recovery: starting from the beginning, because {why}")


def _confirm_environment(session: Session, changes: List[str],
                         other_state: Optional[Path] = None) -> None:
    """Resume with changed globals only when the operator agrees: `-y`, or `y` at the
    prompt on a terminal; else exit 12 (II.9.1). `other_state` is the state file of
    other globals offered because the current ones have none (I.4a)."""
    if not changes:
        return
    if other_state is not None:
        session.log.warn("Auto-recovery: no state was saved with the current values of the "
                         f"globals; the most recent state of this task file is {other_state}")
    for change in changes:
        session.log.warn(f"Auto-recovery: {change} since the saved run")
    if session.options.yes:
        session.log.info("Auto-recovery: resuming with the current values (--yes)")
        return
    answer = ""
    if sys.stdin.isatty():
        try:
            answer = input("Resume with the current values? [y/N]: ")
        except EOFError:
            answer = ""
    if answer.strip().lower() not in ("y", "yes"):
        raise FatalRunError("recovery aborted: the environment changed since the saved run; "
                            "add -y to resume with the current values", 12)


def _engine_options(session: Session, start: Optional[int]) -> EngineOptions:
    opts = session.options
    return EngineOptions(dry_run=not opts.run, fire_and_forget=bool(opts.fire_and_forget),
                         cli_exec_type=opts.type, cli_timeout=opts.timeout,
                         environ=session.environ, start_from=start)


def execute(session: Session, config: ExecConfig) -> int:
    """Lock (with --instance-check), resume if asked, run the engine, write the records."""
    from tasker.instance import InstanceLocked, InstanceLockError

    try:
        lock = _lock_instance(session)
    except InstanceLocked as exc:
        session.log.error(f"Workflow is already running: {exc.holder}")
        session.log.error(f"Lock file: {exc.path}")
        return session.finish_locked(EXIT_LOCKED, "workflow is already running")
    except InstanceLockError as exc:  # (the original's lock errors end with exit 20 too)
        session.log.error(exc.sentence)
        return session.finish(EXIT_LOCK_ERROR, "failed", exc.sentence)
    try:
        return _run_engine(session, config)
    finally:
        if lock is not None:
            lock.release()


def _executors(session: Session, spool: Path) -> "ExecutorRouter":
    """The run's executors by transport, each made when a command first needs it."""
    from tasker.exec.base import PROCESS, SSH
    from tasker.exec.process import ProcessExecutor
    from tasker.exec.router import ExecutorRouter

    return ExecutorRouter({PROCESS: lambda: ProcessExecutor(spool),
                           SSH: lambda: session.ssh_executor(spool)})


def _note_simulated_path(session: Session) -> None:
    """A dry run that took its way on simulated results says so, and from which task."""
    from tasker.report.simulated import dry_run_note, first_simulated_decision

    # (the trace, not the execution path: a task its condition skipped decided too)
    decided = (entry.task for entry in session.run_state.trace if entry.block is None)
    first = first_simulated_decision(session.loaded_taskfile, decided)
    if first is not None:
        session.log.info(dry_run_note(first))


def _keep_outputs(session: Session) -> None:
    """With --output-dir, in a real run: subscribe what keeps every command's outputs
    (the session lists its files in the JSON report)."""
    if not session.options.output_dir or not session.real_run:
        return
    from tasker.report.kept import OutputKeeper

    session.output_keeper = OutputKeeper(Path(session.options.output_dir), session.masker,
                                         session.log.warn)
    session.events.add(session.output_keeper)


def _run_engine(session: Session, config: ExecConfig) -> int:
    from tasker.engine.sequential import run_workflow
    from tasker.report.backup import backup_task_file
    from tasker.report.paths import run_stamp

    if session.real_run and not session.options.no_task_backup:
        try:
            backup_task_file(session.task_file, session.paths.backup_dir,
                             run_stamp(session.started), session.source_text.encode("utf-8"))
        except OSError as exc:
            session.log.warn(f"Task file backup failed: {exc}")
    session.log.debug(f"Execution types from {config.source or 'built-in defaults'}: "
                      f"{', '.join(sorted(config.types))} (default {config.default_exec_type})")
    session.log.on_write_error(session.signals.interrupt.halt)  # no log: no new tasks (26)
    # The spool directory goes whatever ends the run: a signal before the engine runs
    # raises Stopped through this block, one during the run ends the engine.
    with tempfile.TemporaryDirectory(prefix="tasker_session_") as spool:
        try:
            session.phase = "recovery"
            start = _restore_state(session) if session.real_run else session.options.start_from
            session.phase = "execution"
            _keep_outputs(session)
            with _executors(session, Path(spool)) as executor:
                ctx = RunContext(taskfile=session.loaded_taskfile,
                                 options=_engine_options(session, start), exec_config=config,
                                 executor=executor, interrupt=session.signals.interrupt,
                                 events=session.events, run_state=session.run_state,
                                 spool_dir=Path(spool), mask=session.masker.mask)
                # The engine stops at its own points (and cancels running commands) when
                # a signal triggers the Interrupt: from here on nothing is cut short.
                session.signals.stop_raising()
                outcome = run_workflow(ctx)
        except FatalRunError as exc:
            session.log.error(f"FATAL ERROR: {exc.message}")
            outcome = Outcome(exc.exit_code, "failed", exc.message, exc.task_id)
    if not session.real_run:
        _note_simulated_path(session)
    return session.finish(outcome.exit_code, outcome.status, outcome.error, outcome.task_id)
