"""What every kind of task shares in one step of the walk (SPEC II.3.3-3.8 with I.2).

A step ends in a `Step`: go to another task, stop the run, or end it as interrupted.
On the way, every kind of task stores its results the same way (`store_result`),
checks its `condition` the same way, sleeps the same way, reads its integer fields
the same way, and a looping task or block asks the same two questions about its loop.
"""

from __future__ import annotations

import time
from typing import NamedTuple, Optional, Union

from tasker.engine.context import Outcome, RunContext
from tasker.engine.evaluate import Current, evaluate, stored_current
from tasker.engine.variables import Variables
from tasker.events import AttemptFinished, TaskStarted, debug, info, warn
from tasker.results import SKIPPED, SKIPPED_STDERR, TaskResult, TraceEntry
from tasker.syntax.ast import Task
from tasker.syntax.numbers import MAX_SLEEP, parse_int, parse_seconds


class Goto(NamedTuple):
    """Continue with task `task_id` (the run ends successfully if it is undefined)."""

    task_id: int


class Stop(NamedTuple):
    """End the run with `outcome` (None: interrupted before the task finished, so a
    resumed run starts with this task again)."""

    outcome: Optional[Outcome]


class Interrupted(NamedTuple):
    """End the run as interrupted after the task's result was stored (its `sleep=` was
    cut short): a resumed run starts at `next_task` (None: nothing is left to run)."""

    next_task: Optional[int]


Step = Union[Goto, Stop, Interrupted]


class Iteration(NamedTuple):
    """Identifies one execution in the trace."""

    iteration: Optional[int] = None
    attempt: int = 1
    block: Optional[int] = None


# The one execution of a task outside any loop, block or retry (a shared default: a tuple).
SINGLE_RUN = Iteration()


class BadValue(Exception):
    """A field whose placeholders resolved to a value it cannot take: the task fails (C19)."""

    def __init__(self, message: str, key: str):
        super().__init__(message)
        self.message, self.key = message, key


def resolve_int(ctx: RunContext, task: Task, key: str, what: str = "an integer",
                lo: Optional[int] = None, hi: Optional[int] = None) -> int:
    """An integer field, placeholders resolved at run time; BadValue when it is not one.

    `lo`/`hi` bound it as the validator bounds a literal value (II.2), so a
    placeholder cannot smuggle in a value the file could not say directly.
    """
    text = Variables(ctx.results()).resolve(task.get(key) or "")[0].strip()
    n = parse_int(text)
    if n is None:
        raise BadValue(f"Task {task.id}: {key} must be {what}, but its value is '{text}'", key)
    if (lo is not None and n < lo) or (hi is not None and n > hi):
        allowed = f"{lo}-{hi}" if hi is not None else f"{lo} or more"
        raise BadValue(f"Task {task.id}: {key}={n} is outside the allowed range {allowed}", key)
    return n


def store_result(ctx: RunContext, result: TaskResult, it: Iteration = SINGLE_RUN,
                 label: Optional[str] = None, skipped: bool = False) -> None:
    """Store a result in the run state, so placeholders and the records see it, trace it,
    and report it (`label`: as the log names the execution, default the task's ID)."""
    ctx.run_state.store(result)
    ctx.run_state.trace.append(TraceEntry(
        task=result.task_id, block=it.block, iteration=it.iteration, attempt=it.attempt,
        hostname=result.hostname, exit_code=result.exit_code, success=result.success,
        skipped=skipped, start_time=result.start_time, duration=result.duration,
        status=result.status))
    ctx.emit(AttemptFinished(result.task_id, label or str(result.task_id), it.block,
                             it.iteration, it.attempt, result, skipped))


def report_started(ctx: RunContext, task: Task, label: str, it: Iteration) -> None:
    """Report that an execution of `task` begins, on the host its field names now."""
    host = task.get("hostname") or ""
    if "@" in host:
        host = Variables(ctx.results()).resolve(host)[0]
    ctx.emit(TaskStarted(task.id, label, it.block, host.strip(), it.iteration, it.attempt))


def condition_allows(ctx: RunContext, task: Task, label: str,
                     it: Iteration = SINGLE_RUN) -> bool:
    """Evaluate the pre-execution `condition`; store a skipped result when false.

    `it` places the skip in the trace (a block sub-task passes its block and attempt).
    """
    expr = task.conditions.get("condition")
    if expr is None:
        return True
    value = evaluate(expr, Current(), Variables(ctx.results()).lookup)
    text = task.get("condition")
    if value:
        ctx.emit(info(f"Task {label}: Condition '{text}' evaluated to TRUE, executing task"))
        return True
    ctx.emit(info(f"Task {label}: Condition '{text}' evaluated to FALSE, skipping task"))
    store_result(ctx, TaskResult(task.id, -1, stderr=SKIPPED_STDERR, status=SKIPPED,
                                 hostname=task.get("hostname") or "", start_time=time.time(),
                                 attempts=it.attempt, iterations=it.iteration or 1),
                 it, label, skipped=True)
    return False


def sleep_after(ctx: RunContext, task: Task, label: str) -> None:
    """`sleep=S` after the result is stored; interruptible; skipped in a dry run."""
    if not task.has("sleep") or ctx.options.dry_run:
        return
    text, resolved = Variables(ctx.results()).resolve(task.get("sleep") or "")
    if not resolved:  # SPEC II.4.2: an unresolved sleep is skipped (no WARN line)
        ctx.emit(debug(f"Task {label}: sleep value '{text.strip()}' has unresolved "
                       "placeholders; not sleeping"))
        return
    seconds = parse_seconds(text)
    if seconds is None:
        ctx.emit(warn(f"Task {label}: sleep value '{text.strip()}' is not a number of seconds; "
                      "not sleeping"))
        return
    if seconds > MAX_SLEEP:
        ctx.emit(warn(f"Task {label}: sleep {seconds:g} is too long, using the maximum "
                      f"{MAX_SLEEP:g}"))
        seconds = MAX_SLEEP
    if seconds > 0:
        ctx.emit(info(f"Task {label}: Sleeping for {seconds:g} seconds"))
        ctx.interrupt.stop.wait(seconds)


def is_loop(task: Task) -> bool:
    """`next=loop` (or `next=loop&COND`) with a `loop` count."""
    nxt = (task.get("next") or "").strip().lower()
    return task.has("loop") and (nxt == "loop" or nxt.startswith("loop&"))


def loop_ends(ctx: RunContext, task: Task, result: TaskResult) -> bool:
    """After an iteration: `loop_break` holds, or `next=loop&COND` no longer does.

    In `loop_break` the word `success` means exit code 0 (II.3.2: the task's success
    result is known only to `next`).
    """
    lookup = Variables(ctx.results()).lookup
    brk = task.conditions.get("loop_break")
    if brk is not None and evaluate(brk, stored_current(task, result), lookup):
        ctx.emit(info(f"Task {task.id}: Breaking loop - loop_break condition "
                      f"'{task.get('loop_break')}' satisfied"))
        return True
    keep_going = task.conditions.get("next")  # only `next=loop&COND` is parsed
    current = stored_current(task, result, result.success)
    if keep_going is not None and not evaluate(keep_going, current, lookup):
        ctx.emit(info(f"Task {task.id}: Breaking loop - loop condition no longer holds"))
        return True
    return False
