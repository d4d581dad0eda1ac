"""Pre-flight stages between loading and running: task validation, plan, graph, hosts.

Each stage returns 0 to go on, or the exit code to stop with; the CLI ends
the session with it.
"""

from __future__ import annotations

import sys
from typing import List, Optional, Sequence

from tasker.exec.exectypes import ExecConfig
from tasker.report.logger import print_out, wants_colour
from tasker.session import Session
from tasker.syntax.diagnostics import TaskFileError, render_all

EXIT_NO_TERMINAL = 2  # --show-plan cannot ask (a usage error)


def validate_task_file(session: Session, config: ExecConfig) -> List[str]:
    """The task-file validator, unless skipped; globals are security-checked always.

    `config` tells which exec types besides the built-in ones are configured.

    Raises TaskFileError with every finding. Warnings are logged at DEBUG, as the
    original does (so its `WARN:` lines keep their count), and shown on stderr in the
    located form in every run, real or dry: a typo must never pass in silence.
    Returns the dependency notes (II.8.4), which the pre-flight logs later (II.7.2, step 8).
    """
    from tasker.validate.pipeline import check_task_file
    from tasker.validate.security import global_security_diagnostics

    opts, taskfile = session.options, session.loaded_taskfile
    if opts.skip_task_validation or opts.skip_validation:
        errors = [d for d in global_security_diagnostics(taskfile) if d.is_error]
        if errors:  # globals are checked even when validation is skipped (II.1.3)
            raise TaskFileError(taskfile.path, errors)
        return []
    notes: List[str] = []
    warnings = check_task_file(taskfile, session.log, notes=notes,
                               skip_security=bool(opts.skip_security_validation),
                               skip_subtask_range=bool(opts.skip_subtask_range_validation),
                               configured_exec=[*config.types, *config.aliases],
                               environ=session.environ)
    if warnings:  # like a compiler: located, masked, repeats counted
        show_on_stderr(render_all(taskfile.path, warnings, session.masker.mask))
    session.log.info("# Task validation passed successfully.")
    session.log.info("# Task dependency validation passed.")  # (A.1: every reference holds)
    return notes


def show_on_stderr(lines: Sequence[str]) -> None:
    """Print findings on stderr; a terminal that is gone must not stop the run."""
    try:
        print("\n".join(lines), file=sys.stderr, flush=True)
    except OSError:  # (EIO after a hangup, a closed pipe): nothing can be said there
        pass


def render_graph(session: Session, fmt: str) -> str:
    """`--graph dot|mermaid`: the workflow as a graph, secrets masked."""
    from tasker.validate.render import render_graph as render

    return render(session.loaded_taskfile, fmt)


def confirm_plan(session: Session) -> Optional[int]:
    """`--show-plan`: print the plan and ask; None to go on, else the exit code to stop with
    (0 when the operator declines; 2 when nobody can be asked: no terminal on stdin and
    no `-y`, a usage error rather than a silent "no")."""
    from tasker.validate.render import render_plan

    print_out(render_plan(session.loaded_taskfile, session.options.start_from))
    if session.options.yes:
        print_out("Proceed with execution? [y/N]: y (--yes)")
        return None
    if not sys.stdin.isatty():
        session.log.error("--show-plan needs a terminal to ask for confirmation; "
                          "add -y to proceed without asking")
        return EXIT_NO_TERMINAL
    try:
        answer = input("Proceed with execution? [y/N]: ")
    except EOFError:
        answer = ""
    if answer.strip().lower() in ("y", "yes"):
        return None
    session.log.info("Execution cancelled by user.")
    return 0


def validate_hosts(session: Session, config: ExecConfig) -> int:
    """Host pre-flight unless skipped (SPEC II.8.5), then the summary; 0 or the exit code."""
    from tasker.validate.summary import summary_lines

    opts, taskfile = session.options, session.loaded_taskfile
    hosts = None
    if opts.skip_host_validation or opts.skip_validation:
        print_out("WARNING: Skipping host validation can lead to connection failures!")
    else:
        from tasker.validate.hosts import HostCheckOptions, apply_fqdn, check_hosts

        hosts = check_hosts(taskfile, config, HostCheckOptions(
            skip_unresolved=bool(opts.skip_unresolved_host_validation),
            skip_command=bool(opts.skip_command_validation),
            cli_exec_type=opts.type, environ=session.environ, ssh=session.ssh_pool), session.log,
            cancel=session.signals.interrupt.event)
        for sentence in hosts.errors:
            session.log.error(sentence)
        if not hosts.exit_code:
            session.taskfile = apply_fqdn(taskfile, hosts.fqdn)
    checked = None if opts.skip_task_validation or opts.skip_validation else True
    _print_summary(session, summary_lines(
        syntax_ok=True, task_count=_written_tasks(session), dependency_ok=checked,
        flow_ok=checked, hosts=hosts, color=wants_colour(sys.stdout, session.environ)))
    return hosts.exit_code if hosts is not None else 0


def summarize_invalid_file(session: Session, exc: TaskFileError) -> None:
    """The summary after the task file failed validation: which groups of checks failed."""
    from tasker.validate.summary import summary_lines

    if exc.verdicts is None or session.taskfile is None:
        return  # the file did not load: its located errors say everything there is
    syntax_ok, dependency_ok, flow_ok = exc.verdicts
    _print_summary(session, summary_lines(
        syntax_ok=syntax_ok, task_count=_written_tasks(session), dependency_ok=dependency_ok,
        flow_ok=flow_ok, hosts=None, color=wants_colour(sys.stdout, session.environ),
        hosts_not_checked="not checked (the task file has errors)"))


def _written_tasks(session: Session) -> int:
    """Tasks written in the file (sub-tasks a hostnames= block generates not counted)."""
    return sum(task.generated_by is None for task in session.loaded_taskfile.tasks.values())


def _print_summary(session: Session, lines: Sequence[str]) -> None:
    for line in lines:
        session.log.info(line)
