"""Run one command of a task: resolve its fields, build the argv, run, judge success.

Shared by every kind of task: an ordinary task, a loop iteration and a block
sub-task attempt all come through `execute`, which returns the stored
result and reports it (the events behind the Appendix A lines) under the given label.
"""

from __future__ import annotations

import shlex
import time
from typing import TYPE_CHECKING, Callable, List, NamedTuple, Optional, Tuple

from tasker.engine.context import (
    DEFAULT_TIMEOUT,
    MAX_TIMEOUT,
    MIN_TIMEOUT,
    RunContext,
)
from tasker.engine.errors import FatalRunError
from tasker.engine.evaluate import Current, evaluate
from tasker.engine.split import split_stream
from tasker.engine.streams import discard, log_view, save_text, text_length
from tasker.engine.variables import SPILLED_SUBSTITUTION_CAP, Variables
from tasker.events import (
    CommandFinished,
    CommandLaunched,
    CommandOutputs,
    OutputSplit,
    error,
    info,
    warn,
)
from tasker.exec.base import (
    MEMORY_LIMIT,
    PROCESS,
    SSH,
    CommandResult,
    CommandSpec,
    append_line,
    lost_output_note,
)
from tasker.exec.exectypes import SPLIT_ELEMENT, ArgumentsError, build_argv
from tasker.exec.output import Stream
from tasker.exec.words import compile_words, fill_text, fill_words
from tasker.results import FAILED, SUCCESS, TIMEOUT, TaskResult
from tasker.syntax.ast import Task
from tasker.syntax.numbers import parse_int, parse_seconds
from tasker.syntax.placeholders import arguments_template

if TYPE_CHECKING:
    from tasker.engine.step import Iteration

DRY_RUN_STDOUT = "DRY RUN STDOUT"


class Prepared(NamedTuple):
    """A command ready to run: what to show, what to run, how long to allow."""

    hostname: str
    exec_name: str  # canonical exec type
    exec_shown: str  # as written or derived, for the log line
    argv: Tuple[str, ...]  # a local program's vector; for ssh the remote command's words
    timeout: float
    transport: str = PROCESS

    def shown(self, mask: Callable[[str], str]) -> str:
        """The command line as the log, the summary and the report show it, so that an
        operator can copy it into a shell: each word masked (before quoting, which would
        split a secret holding a quote), then quoted where a POSIX shell needs it; for
        ssh `ssh HOST` and the remote words, as the remote shell will read them."""
        masked = [mask(word) for word in self.argv]
        whole = mask(" ".join(self.argv))
        if whole != " ".join(masked):  # a secret across words: masked whole, not quoted
            words = whole
        else:
            words = " ".join(shlex.quote(word) for word in masked)
        return f"ssh {self.hostname} {words}" if self.transport == SSH else words


def choose_exec(ctx: RunContext, task: Task, variables: Variables) -> Tuple[str, str]:
    """(canonical exec type, shown name): task > -t > TASK_EXECUTOR_TYPE > config default."""
    written = variables.resolve(task.get("exec") or "")[0].strip()
    shown = written or ctx.options.cli_exec_type or ctx.options.environ.get(
        "TASK_EXECUTOR_TYPE") or ctx.exec_config.default_exec_type or "local"
    canonical = ctx.exec_config.canonical(shown)
    if canonical is None:
        raise FatalRunError(f"Task {task.id}: execution type '{shown}' is not configured "
                            f"(known: {', '.join(sorted(ctx.exec_config.types))})",
                            20, task.id)
    return canonical, shown


def _clamp(ctx: RunContext, value: float) -> float:
    if value < MIN_TIMEOUT:
        ctx.emit(warn(f"Timeout {value:g} too low, using minimum {MIN_TIMEOUT:g}"))
        return MIN_TIMEOUT
    if value > MAX_TIMEOUT:
        ctx.emit(warn(f"Timeout {value:g} too high, using maximum {MAX_TIMEOUT:g}"))
        return MAX_TIMEOUT
    return value


def choose_timeout(ctx: RunContext, task: Task, exec_name: str, variables: Variables) -> float:
    """Task timeout > -o > exec-type/config timeout > TASK_EXECUTOR_TIMEOUT > 300, clamped."""
    raw = task.get("timeout")
    if raw is not None:
        text, resolved = variables.resolve(raw)
        written = parse_int(text) if resolved else None
        if written is not None:
            return _clamp(ctx, float(written))
        why = "Unresolved variables in timeout" if not resolved else \
            f"Invalid timeout value '{text}'"
        ctx.emit(warn(f"Task {task.id}: {why}. Will check other sources."))
    config = ctx.exec_config
    xtype = config.types.get(exec_name)
    platform_default = config.default_timeout if config.source else None
    for value in (ctx.options.cli_timeout, xtype.timeout if xtype is not None else None,
                  platform_default,
                  parse_seconds(ctx.options.environ.get("TASK_EXECUTOR_TIMEOUT") or "")):
        if value is not None:
            return _clamp(ctx, float(value))
    return DEFAULT_TIMEOUT


def prepare(ctx: RunContext, task: Task, variables: Variables) -> Prepared:
    """Resolve placeholders and build the argv; ArgumentsError when quotes do not balance."""
    hostname = variables.resolve(task.get("hostname") or "")[0].strip()
    command = variables.resolve(task.get("command") or "")[0].strip()
    exec_name, shown = choose_exec(ctx, task, variables)
    xtype = ctx.exec_config.types[exec_name]
    text, words = arguments_of(ctx, task, SPLIT_ELEMENT in xtype.template, variables)
    argv = build_argv(xtype, hostname, command, text, words)
    timeout = choose_timeout(ctx, task, exec_name, variables)
    return Prepared(hostname, exec_name, shown, tuple(argv), timeout, xtype.transport)


def arguments_of(ctx: RunContext, task: Task, split: bool,
                 variables: Variables) -> Tuple[str, Optional[List[str]]]:
    """(the arguments as one text, their words when the exec type splits them).

    Results are data (SPEC I.4a): the template is the field as written with `$VAR`s
    and globals in, and its own quotes make the words; a result fills its slot
    verbatim in the text and, in the words, is cut at blanks only (one word inside
    quotes). ArgumentsError when the template's quotes do not balance.
    """
    f = task.fields.get("arguments")
    if f is None:
        return "", ([] if split else None)
    values = ctx.taskfile.global_values if "@" in f.raw else {}
    template = arguments_template(f.raw, ctx.options.environ, values)
    text = fill_text(template, variables.fill)
    return text, (fill_words(compile_words(template), variables.fill) if split else None)


def run_prepared(ctx: RunContext, task_id: int, label: str, prep: Prepared,
                 shown: str) -> CommandResult:
    """Run (or, in a dry run, pretend to run) a prepared command, reporting its start;
    `shown` is `prep.shown(ctx.mask)`, as the log and the result show it."""
    dry_run = ctx.options.dry_run
    ctx.emit(CommandLaunched(task_id, label, prep.exec_shown, shown, dry_run))
    if dry_run:
        return CommandResult(exit_code=0, stdout=DRY_RUN_STDOUT, stderr="", duration=0.0)
    spec = CommandSpec(argv=prep.argv, timeout=prep.timeout, display=shown,
                       transport=prep.transport, host=prep.hostname)
    return ctx.executor.run(spec, ctx.interrupt.event)


# Fields that look at a task's own output: with one of them, an output that was spilled
# to a file is read back (in chunks), so splits and conditions see all of it (II.4.4, 4.5).
READS_OUTPUT = ("stdout_split", "stderr_split", "success", "failure", "next", "loop_break")


def report_finished(ctx: RunContext, task_id: int, label: str, result: CommandResult,
                    timeout: float, stdout: Tuple[str, Optional[int]],
                    stderr: Tuple[str, Optional[int]]) -> None:
    """The command ended: its exit code and its outputs as the log shows them."""
    ctx.emit(CommandFinished(task_id, label, result.exit_code, result.timed_out, timeout,
                             stdout[0], stdout[1], stderr[0], stderr[1]))


def split_streams(ctx: RunContext, task: Task, label: str, stdout: Stream, stderr: Stream,
                  notes: List[str]) -> Tuple[Stream, Stream]:
    """Apply stdout_split / stderr_split, reporting the split values.

    A note on a split value that could not be kept whole is added to `notes`.
    """
    split = []
    for name, key, stream in (("stdout", "stdout_split", stdout),
                              ("stderr", "stderr_split", stderr)):
        if task.has(key):
            stream, note = split_stream(stream, task.get(key) or "", name)
            if note:
                notes.append(note)
            text, total = log_view(stream, True)
            ctx.emit(OutputSplit(task.id, label, name, text, total))
        split.append(stream)
    return split[0], split[1]


def judge_success(ctx: RunContext, task: Task, label: str, current: Current,
                  variables: Variables, success_key: str = "success",
                  log_default: bool = False) -> bool:
    """`success` condition, else `failure` inverted, else exit code 0 (II.3.3 step 10)."""
    expr = task.conditions.get(success_key)
    if expr is not None:
        value = evaluate(expr, current, variables.lookup)
        ctx.emit(info(f"Task {label}: Success condition '{task.get(success_key)}' "
                      f"evaluated to: {value}"))
        return value
    expr = task.conditions.get("failure")
    if expr is not None:
        failed = evaluate(expr, current, variables.lookup)
        ctx.emit(info(f"Task {label}: Failure condition '{task.get('failure')}' evaluated to: "
                      f"{failed} → success={not failed}"))
        return not failed
    if log_default:
        ctx.emit(info(f"Task {label}: Success condition 'exit_0' evaluated to: "
                      f"{current.exit_code == 0}"))
    return current.exit_code == 0


class StoredStream(NamedTuple):
    """A final stream as a result stores it."""

    text: str
    file: Optional[str]  # `@N_<name>_file@`: the whole stream, when `text` is not all of it
    cut: Optional[int]  # where `text` was cut from a longer whole (None: it is whole)
    length: Optional[int] = None  # of the whole, when cut (None: unknown, a tail was lost)


def _bounded_stream(ctx: RunContext, stream: Stream, spilled: Optional[str], lost: bool,
                    name: str) -> Tuple[StoredStream, Optional[str]]:
    """(the stream as stored, a note on what was lost) of a final stream.

    A block may keep a thousand results alive at once; a megabyte each would be a
    gigabyte. Only the first SPILLED_SUBSTITUTION_CAP characters can ever be
    substituted, so that is what stays; the rest is in `@N_<name>_file@`: the
    command's own spill file when it has one (`spilled`, before any split), else a
    file written here. An output whose tail was `lost` gets no file: it would be
    taken for the whole. The cut is remembered: the records mask a secret it went
    through (Masker.mask_truncated).
    """
    text, cap = stream.text, SPILLED_SUBSTITUTION_CAP
    partial = stream.path is not None or lost  # `text` is only the stream's beginning
    if len(text) <= cap and not partial:  # (a split value: `spilled` has the command's all)
        return StoredStream(text, spilled, None), None
    kept = StoredStream(text[:cap], spilled, min(len(text), cap),
                        None if lost else text_length(stream))
    if spilled is not None or lost or ctx.spool_dir is None:
        return kept, None
    try:
        return kept._replace(file=save_text(ctx.spool_dir, name, text)), None
    except OSError as exc:
        reason = f"cannot write a file in {ctx.spool_dir}: {exc.strerror or exc}"
        return kept, lost_output_note(name, cap, len(text) - cap, "characters", reason)


def _store_streams(ctx: RunContext, label: str, result: CommandResult, out: Stream,
                   err: Stream, notes: List[str]) -> Tuple[StoredStream, StoredStream]:
    """stdout and stderr as stored; every note ends up on stderr (after any cut)."""
    stdout, out_note = _bounded_stream(ctx, out, result.stdout_file, result.stdout_lost > 0,
                                       "stdout")
    stderr, err_note = _bounded_stream(ctx, err, result.stderr_file, result.stderr_lost > 0,
                                       "stderr")
    for note in notes + [n for n in (out_note, err_note) if n]:
        ctx.emit(warn(f"Task {label}: {note}"))
        stderr = stderr._replace(text=append_line(stderr.text, note))  # (the cut stays)
    return stdout, stderr


def warn_lost(ctx: RunContext, label: str, result: CommandResult) -> None:
    """A WARN line for each stream whose tail the executor could not keep (no spill file)."""
    for name, lost in (("stdout", result.stdout_lost), ("stderr", result.stderr_lost)):
        if lost:
            ctx.emit(warn(f"Task {label}: {lost} bytes of its {name} past the first "
                          f"{MEMORY_LIMIT} were lost: the spill file could not be written "
                          "(its stderr says why)"))


def execute(ctx: RunContext, task: Task, label: str, *, in_block: bool = False,
            success_key: str = "success", it: Optional[Iteration] = None) -> TaskResult:
    """Run the task's command once and return its result (not yet stored).

    A block's sub-task (`in_block`) survives a missing program as a failed result
    and logs its default success test too, as TASKER does (II.5.1, A.1). `it` places
    the execution (loop iteration, block, attempt) in the CommandOutputs event.
    """
    variables = Variables(ctx.results())
    started = time.time()
    try:
        prep = prepare(ctx, task, variables)
    except ArgumentsError as exc:
        ctx.emit(error(f"Task {label}: arguments cannot be split: {exc}"))
        return TaskResult(task.id, 1, stderr=str(exc), status=FAILED, start_time=started,
                          hostname=(task.get("hostname") or ""))
    shown = prep.shown(ctx.mask)  # (each word masked, then quoted)
    result = run_prepared(ctx, task.id, label, prep, shown)
    if not ctx.options.dry_run:  # (its spill files go once the outputs are stored)
        block, iteration, attempt = (it.block, it.iteration, it.attempt) if it else (None, None, 1)
        ctx.emit(CommandOutputs(task.id, label, block, iteration, attempt, prep.hostname, result))
    if result.not_found and not in_block:
        ctx.emit(error(f"Task {label}: FATAL ERROR - Missing command detected during runtime: "
                       f"{prep.argv[0]}"))
        raise FatalRunError(f"program '{prep.argv[0]}' was not found", 20, task.id)
    success, stdout, stderr = judge_outputs(ctx, task, label, result, prep.timeout,
                                            lambda current: judge_success(
                                                ctx, task, label, current, variables,
                                                success_key, in_block))
    status = TIMEOUT if result.timed_out else (SUCCESS if success else FAILED)
    return TaskResult(
        task_id=task.id, exit_code=result.exit_code, stdout=stdout.text, stderr=stderr.text,
        success=success, status=status, hostname=prep.hostname, exec_type=prep.exec_name,
        command=shown, start_time=started, duration=result.duration,
        stdout_file=stdout.file, stderr_file=stderr.file, stdout_cut=stdout.cut,
        stderr_cut=stderr.cut, stdout_length=stdout.length, stderr_length=stderr.length)


def judge_outputs(ctx: RunContext, task: Task, label: str, result: CommandResult,
                  timeout: float, judge: Callable[[Current], bool]
                  ) -> Tuple[bool, StoredStream, StoredStream]:
    """What a command's outputs say and keep: report them, split them, `judge` success on
    them (whole, in chunks when spilled), and bound them for storing."""
    out, err = Stream(result.stdout, result.stdout_file), Stream(result.stderr, result.stderr_file)
    needed = any(key in task.fields for key in READS_OUTPUT)
    report_finished(ctx, task.id, label, result, timeout, log_view(out, needed),
                    log_view(err, needed))
    if result.stdout_lost or result.stderr_lost:
        warn_lost(ctx, label, result)
    notes: List[str] = []
    if "stdout_split" in task.fields or "stderr_split" in task.fields:
        out, err = split_streams(ctx, task, label, out, err, notes)
    # A split value's own spill file serves this task's conditions only.
    own_files = [] if out.path is err.path is None else \
        [s.path for s in (out, err) if s.path not in (None, result.stdout_file,
                                                       result.stderr_file)]
    try:
        success = judge(Current(result.exit_code, out.text, err.text, stdout_file=out.path,
                                stderr_file=err.path))
        stdout, stderr = _store_streams(ctx, label, result, out, err, notes)
    finally:
        for path in own_files:
            discard(None, path)
    return success, stdout, stderr
