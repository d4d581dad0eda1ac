"""The sequential engine: walks the numbered tasks (SPEC II.3.3-3.8 with I.2).

One loop picks the task with the current ID, runs it through `step`, and
follows the `Step` it returns: go to another ID, or stop with an outcome.
Blocks are handed to `tasker.engine.blocks`; everything an ordinary task does
(condition, return, loop, command, sleep, routing) is here.
"""

from __future__ import annotations

import time
from typing import NamedTuple, Optional, Union

from tasker.engine import command
from tasker.engine.context import FatalRunError, Outcome, RunContext
from tasker.engine.evaluate import Current, evaluate, stored_current
from tasker.engine.routing import (
    BadValue, Goto, Interrupted, Stop, failed_resume_point, failure_stop, jump, resolve_int,
    route,
)
from tasker.engine.variables import Variables
from tasker.record import replace
from tasker.results import FAILED, SKIPPED, SKIPPED_STDERR, SUCCESS, TaskResult, TraceEntry
from tasker.syntax.ast import Task
from tasker.syntax.numbers import MAX_LOOP, MAX_SLEEP, parse_seconds

Step = Union[Goto, Stop, Interrupted]
EXIT_RECORDS = 26  # the run's records (its log) could not be written (I.4a)


class Iteration(NamedTuple):
    """Identifies one execution in the trace."""

    iteration: Optional[int] = None
    attempt: int = 1
    block: Optional[int] = None


def record(ctx: RunContext, result: TaskResult, it: Iteration = Iteration(),
           skipped: bool = False) -> None:
    """Store a result and append its trace entry."""
    ctx.record.store(result)
    ctx.record.trace.append(TraceEntry(
        task=result.task_id, block=it.block, iteration=it.iteration, attempt=it.attempt,
        hostname=result.hostname, exit_code=result.exit_code, success=result.success,
        skipped=skipped, start_time=result.start_time, duration=result.duration,
        status=result.status))


def condition_allows(ctx: RunContext, task: Task, label: str,
                     it: Iteration = Iteration()) -> bool:
    """Evaluate the pre-execution `condition`; store a skipped result when false.

    `it` places the skip in the trace (a block sub-task passes its block and attempt).
    """
    expr = task.conditions.get("condition")
    if expr is None:
        return True
    value = evaluate(expr, Current(), Variables(ctx.results()).lookup)
    text = task.get("condition")
    if value:
        ctx.log.info(f"Task {label}: Condition '{text}' evaluated to TRUE, executing task")
        return True
    ctx.log.info(f"Task {label}: Condition '{text}' evaluated to FALSE, skipping task")
    record(ctx, TaskResult(task.id, -1, stderr=SKIPPED_STDERR, status=SKIPPED,
                           hostname=task.get("hostname") or "", start_time=time.time(),
                           attempts=it.attempt, iterations=it.iteration or 1),
           it, skipped=True)
    return False


def return_now(ctx: RunContext, task: Task) -> Stop:
    """End the run with the task's `return` code (II.3.6)."""
    code = resolve_int(ctx, task, "return")
    ctx.log.info(f"Task {task.id}: Returning with exit code {code}")
    if code == 0:
        ctx.log.info("SUCCESS: Task execution completed successfully with return code 0")
        return Stop(Outcome(0, "success", task_id=task.id))
    ctx.log.info(f"FAILURE: Task execution failed with return code {code}")
    return Stop(Outcome(code % 256, "failed", f"return code {code}", task.id))


def return_only(ctx: RunContext, task: Task) -> Stop:
    """A task with `return` and no command: store its result and stop."""
    ctx.log.info(f"Task {task.id}: Return-only task (no command to execute)")
    code = resolve_int(ctx, task, "return")
    record(ctx, TaskResult(task.id, code, success=code == 0,
                           status=SUCCESS if code == 0 else FAILED, start_time=time.time()))
    ctx.record.execution_path.append(task.id)
    return return_now(ctx, task)


def sleep_after(ctx: RunContext, task: Task, label: str) -> None:
    """`sleep=S` after the result is stored; interruptible; skipped in a dry run."""
    if not task.has("sleep") or ctx.options.dry_run:
        return
    text, resolved = Variables(ctx.results()).resolve(task.get("sleep") or "")
    if not resolved:  # SPEC II.4.2: an unresolved sleep is skipped (no WARN line)
        ctx.log.debug(f"Task {label}: sleep value '{text.strip()}' has unresolved "
                      "placeholders; not sleeping")
        return
    seconds = parse_seconds(text)
    if seconds is None:
        ctx.log.warn(f"Task {label}: sleep value '{text.strip()}' is not a number of seconds; "
                     "not sleeping")
        return
    if seconds > MAX_SLEEP:
        ctx.log.warn(f"Task {label}: sleep {seconds:g} is too long, using the maximum "
                     f"{MAX_SLEEP:g}")
        seconds = MAX_SLEEP
    if seconds > 0:
        ctx.log.info(f"Task {label}: Sleeping for {seconds:g} seconds")
        ctx.interrupt.stop.wait(seconds)


def run_command(ctx: RunContext, task: Task, label: str,
                it: Iteration = Iteration()) -> TaskResult:
    """Execute the command and store the result (without the task's sleep)."""
    result = command.execute(ctx, task, label)
    if it.iteration is not None:
        result = replace(result, iterations=it.iteration)
    record(ctx, result, it)
    ctx.record.last_task = task.id
    return result


def run_once(ctx: RunContext, task: Task, label: str, it: Iteration = Iteration()) -> TaskResult:
    """Execute the command, store the result, then sleep."""
    result = run_command(ctx, task, label, it)
    sleep_after(ctx, task, label)
    return result


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
        ctx.log.info(f"Task {task.id}: Breaking loop - loop_break condition "
                     f"'{task.get('loop_break')}' satisfied")
        return True
    keep_going = task.conditions.get("next")  # only `next=loop&COND` is parsed
    current = stored_current(task, result, result.success)
    if keep_going is not None and not evaluate(keep_going, current, lookup):
        ctx.log.info(f"Task {task.id}: Breaking loop - loop condition no longer holds")
        return True
    return False


def run_loop(ctx: RunContext, task: Task) -> Step:
    """Run the task up to `loop` times, leaving early on `loop_break` (II.3.7).

    Every iteration is a pass of the task as in TASKER's main loop (II.3.8): its
    `condition` is checked again before each one (false: a skipped result, then ID + 1),
    and a `return` ends the run after the first. A loop interrupted anywhere (in a
    command or a sleep) starts again from its first iteration on resume (I.4a).
    """
    count = resolve_int(ctx, task, "loop", lo=1, hi=MAX_LOOP)
    for k in range(1, count + 1):
        label = f"{task.id}.{k}"
        if k > 1 and not condition_allows(ctx, task, label, Iteration(iteration=k)):
            return Goto(task.id + 1)
        result = run_once(ctx, task, label, Iteration(iteration=k))
        if ctx.interrupt.requested:
            return Stop(None)
        if task.has("return"):
            return return_now(ctx, task)
        if loop_ends(ctx, task, result):
            break
    else:
        ctx.log.info(f"Task {task.id}: Loop complete - max iterations reached")
    return Goto(task.id + 1)


def step(ctx: RunContext, task: Task) -> Step:
    """Run one top-level ordinary task and decide where to go (II.3.3)."""
    if not condition_allows(ctx, task, str(task.id)):
        return Goto(task.id + 1)
    if task.has("return") and not task.has("command"):
        return return_only(ctx, task)
    ctx.record.execution_path.append(task.id)
    if is_loop(task):
        return run_loop(ctx, task)
    result = run_command(ctx, task, str(task.id))
    if ctx.interrupt.event.is_set():  # a signal cut the command: it runs again on resume
        return Stop(None)
    sleep_after(ctx, task, str(task.id))
    nxt = return_now(ctx, task) if task.has("return") else route(ctx, task, result)
    return settle_interrupted_sleep(ctx, task, nxt) if ctx.interrupt.requested else nxt


def settle_interrupted_sleep(ctx: RunContext, task: Task, nxt: Step) -> Step:
    """A stop came after the task's command ended (in its own `sleep=`, or a halt, which
    never cuts a command): its result stands, so the run resumes where its routing leads
    (I.4a). A jump is saved as the next task by the
    workflow loop, which then stops; a stop of the run becomes an interrupted end that
    resumes where that stop would (nothing after a success)."""
    if not isinstance(nxt, Stop) or nxt.outcome is None:
        return nxt
    if nxt.outcome.status == "success":
        return Interrupted(None)
    ctx.record.failure = None  # the run ends as interrupted, and its records say so
    return Interrupted(failed_resume_point(ctx, task.id))


def start_id(ctx: RunContext) -> int:
    """`--start-from`, else 0, else the lowest defined ID (with the two WARN lines)."""
    tasks = ctx.taskfile.tasks
    start = ctx.options.start_from
    if start is None:
        start = 0 if 0 in tasks else min(tasks)
    restored = any(tid < start for tid in ctx.record.results)
    if start > 0 and not restored:  # with restored results the earlier tasks do resolve
        ctx.log.warn(f"# WARNING: Task dependencies @X_stdout@, @X_stderr@, @X_stdout_file@, "
                     f"@X_stderr_file@, @X_success@ for tasks 0-{start - 1} will be unresolved")
        ctx.log.warn(f"# Tasks {start}+ may fail if they depend on results from earlier tasks")
    return start


def interrupted(ctx: RunContext, task_id: Optional[int] = None) -> Outcome:
    """The outcome of a stop request: 128 + the signal's number, or, for a halt (the
    run's records cannot be written), exit 26 with the reason. `task_id` is the task
    that was interrupted (default: the last that ran)."""
    if task_id is None:
        task_id = ctx.record.last_task
    if ctx.interrupt.signum is None and ctx.interrupt.halt_reason is not None:
        ctx.log.error(f"Stopping: {ctx.interrupt.halt_reason}; no more tasks are started")
        return Outcome(EXIT_RECORDS, "failed", ctx.interrupt.halt_reason, task_id)
    signum = ctx.interrupt.signum or 15
    ctx.log.warn("Graceful shutdown requested - stopping execution")
    return Outcome(128 + signum, "interrupted", f"interrupted by signal {signum}", task_id)


def _run_block(ctx: RunContext, task: Task) -> Step:
    """Hand a block to the block engines (imported only by files that have blocks)."""
    from tasker.engine.blocks import run_block

    return run_block(ctx, task)


def value_failed(ctx: RunContext, task: Task, exc: BadValue) -> Step:
    """C19: a field that resolved to an unusable value fails its task, with the message.

    The task's result (if it ran) is kept but marked failed, so the report says
    why the run ended there; `on_failure` takes over when the bad field was not
    a routing target itself, otherwise the run stops as for an unrouted failure.
    """
    ctx.log.error(exc.message)
    prior = ctx.record.results.get(task.id)
    if prior is not None and ctx.record.last_task == task.id:
        result = replace(prior, success=False, status=FAILED,
                         stderr=f"{prior.stderr}\n{exc.message}".lstrip("\n"))
    else:
        result = TaskResult(task.id, 1, stderr=exc.message, status=FAILED,
                            start_time=time.time())
    record(ctx, result)
    if not ctx.record.execution_path or ctx.record.execution_path[-1] != task.id:
        ctx.record.execution_path.append(task.id)
    if exc.key not in ("on_success", "on_failure") and task.has("on_failure"):
        try:
            return jump(ctx, task, "on_failure", False)
        except BadValue as again:
            ctx.log.error(again.message)
    ctx.log.error(f"FAILED: Workflow stopped - {exc.message}")
    return failure_stop(ctx, task, result, exc.message)


def resume_point(ctx: RunContext, tid: int, nxt: Step) -> Optional[int]:
    """The next task the state file records after task `tid` led to `nxt` (I.4a).

    A jump: its target (None past the last task: nothing is left). An interrupt before
    the task finished: the task itself. An interrupt after its result was stored: where
    its routing led. A run that ends in failure: the task whose failure led into an
    `on_failure` path, else the failed task. A successful end: None.
    """
    if isinstance(nxt, Goto):
        return nxt.task_id if nxt.task_id in ctx.taskfile.tasks else None
    if isinstance(nxt, Interrupted):
        return nxt.next_task
    if nxt.outcome is None:
        return tid
    return None if nxt.outcome.status == "success" else failed_resume_point(ctx, tid)


def run_workflow(ctx: RunContext) -> Outcome:
    """Walk the workflow from the start task until it stops or runs off the end."""
    tasks = ctx.taskfile.tasks
    tid = start_id(ctx)
    while tid in tasks:
        if ctx.interrupt.requested:
            return interrupted(ctx)
        task = tasks[tid]
        try:
            nxt = _run_block(ctx, task) if task.kind in ("parallel", "conditional", "decision") \
                else step(ctx, task)
        except BadValue as exc:
            nxt = value_failed(ctx, task, exc)
        except FatalRunError as exc:
            ctx.on_task_finished(tid, failed_resume_point(ctx, tid))
            raise exc
        ctx.on_task_finished(tid, resume_point(ctx, tid, nxt))
        if not isinstance(nxt, Goto):
            outcome = nxt.outcome if isinstance(nxt, Stop) else None
            return outcome if outcome is not None else interrupted(ctx, tid)
        tid = nxt.task_id
    if ctx.interrupt.requested:
        return interrupted(ctx)
    n = len(ctx.record.execution_path)
    ctx.log.info(f"SUCCESS: Task execution completed - {n} task(s) executed successfully.")
    return Outcome(0, "success", task_id=ctx.record.last_task)


__all__ = ["run_workflow", "step", "record", "run_once", "run_command", "condition_allows",
           "failure_stop", "Iteration", "resolve_int", "sleep_after", "BadValue", "value_failed"]
