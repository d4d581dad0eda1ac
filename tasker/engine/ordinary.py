"""One ordinary task of the walk: condition, return, loop, command, sleep, routing
(SPEC II.3.3-3.8 with I.2).

`run_ordinary` is what the walk calls for a task that is not a block; it returns
where to go next, or how the run ends, as a `Step`.
"""

from __future__ import annotations

import time

from tasker.engine import command
from tasker.engine.context import Outcome, RunContext
from tasker.engine.routing import failed_resume_point, route
from tasker.engine.step import (
    SINGLE_RUN,
    Goto,
    Interrupted,
    Iteration,
    Step,
    Stop,
    condition_allows,
    is_loop,
    loop_ends,
    report_started,
    resolve_int,
    sleep_after,
    store_result,
)
from tasker.events import info
from tasker.record import replace
from tasker.results import FAILED, SUCCESS, TaskResult
from tasker.syntax.ast import Task
from tasker.syntax.numbers import MAX_LOOP


def return_now(ctx: RunContext, task: Task, label: str) -> Stop:
    """End the run with the task's `return` code (II.3.6); `label` is `N.k` in a loop."""
    code = resolve_int(ctx, task, "return")
    ctx.emit(info(f"Task {label}: Returning with exit code {code}"))
    if code == 0:
        ctx.emit(info("SUCCESS: Task execution completed successfully with return code 0"))
        return Stop(Outcome(0, "success", task_id=task.id))
    ctx.emit(info(f"FAILURE: Task execution failed with return code {code}"))
    return Stop(Outcome(code % 256, "failed", f"return code {code}", task.id))


def return_only(ctx: RunContext, task: Task) -> Stop:
    """A task with `return` and no command: store its result and stop."""
    ctx.emit(info(f"Task {task.id}: Return-only task (no command to execute)"))
    code = resolve_int(ctx, task, "return")
    store_result(ctx, TaskResult(task.id, code, success=code == 0,
                                 status=SUCCESS if code == 0 else FAILED,
                                 start_time=time.time()))
    ctx.run_state.execution_path.append(task.id)
    return return_now(ctx, task, str(task.id))


def run_command(ctx: RunContext, task: Task, label: str,
                it: Iteration = SINGLE_RUN) -> TaskResult:
    """Execute the command and store the result (without the task's sleep)."""
    report_started(ctx, task, label, it)
    result = command.execute(ctx, task, label, it=it)
    if it.iteration is not None:
        result = replace(result, iterations=it.iteration)
    store_result(ctx, result, it, label)
    ctx.run_state.last_task = task.id
    return result


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
        result = run_command(ctx, task, label, Iteration(iteration=k))
        sleep_after(ctx, task, label)
        if ctx.interrupt.requested:
            return Stop(None)
        if task.has("return"):
            return return_now(ctx, task, label)
        if loop_ends(ctx, task, result):
            break
    else:
        ctx.emit(info(f"Task {task.id}: Loop complete - max iterations reached"))
    return Goto(task.id + 1)


def run_ordinary(ctx: RunContext, task: Task) -> Step:
    """Run one top-level ordinary task and decide where to go (II.3.3).

    The condition of a task that loops is checked as its first iteration's (`N.1`, as
    TASKER labels it); a return-only task runs no command, so it never iterates.
    """
    looping = is_loop(task) and task.has("command")
    if not condition_allows(ctx, task, f"{task.id}.1" if looping else str(task.id)):
        return Goto(task.id + 1)
    if task.has("return") and not task.has("command"):
        return return_only(ctx, task)
    ctx.run_state.execution_path.append(task.id)
    if looping:
        return run_loop(ctx, task)
    result = run_command(ctx, task, str(task.id))
    if ctx.interrupt.event.is_set():  # a signal cut the command: it runs again on resume
        return Stop(None)
    sleep_after(ctx, task, str(task.id))
    nxt = return_now(ctx, task, str(task.id)) if task.has("return") \
        else route(ctx, task, result)
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
    ctx.run_state.failure = None  # the run ends as interrupted, and its records say so
    return Interrupted(failed_resume_point(ctx, task.id))
