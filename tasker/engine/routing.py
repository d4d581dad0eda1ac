"""Where a task leads (SPEC II.3.4): `next`, `on_success`, `on_failure`, or the failed end."""

from __future__ import annotations

from typing import Optional

from tasker.engine.context import Outcome, RunContext
from tasker.engine.errors import FatalRunError
from tasker.engine.evaluate import evaluate, stored_current
from tasker.engine.step import Goto, Step, Stop, resolve_int
from tasker.engine.variables import Variables
from tasker.events import error, info, warn
from tasker.results import TaskResult
from tasker.syntax.ast import Task


def process_exit_code(code: int) -> int:
    """A task's exit code as a process exit status: never 0 for a failure."""
    code %= 256
    return code or 1


def failed_resume_point(ctx: RunContext, task_id: int) -> int:
    """Where a run that ends in failure at `task_id` resumes: the task whose failure led
    into an `on_failure` path, if one did, so the handler runs again only if that task
    fails again (I.4a); else the failed task itself."""
    origin = ctx.run_state.failure_origin
    return task_id if origin is None else origin


def failure_stop(ctx: RunContext, task: Task, result: TaskResult, reason: str,
                 exit_code: Optional[int] = None) -> Stop:
    """Stop the run because `task` failed: exit with its code (or 1 when that is 0)."""
    code = process_exit_code(result.exit_code) if exit_code is None else exit_code
    ctx.run_state.failure = {"task_id": task.id, "exit_code": code, "error": reason}
    return Stop(Outcome(code, "failed", reason, task.id))


def target(ctx: RunContext, task: Task, key: str) -> int:
    """The ID in `on_success`/`on_failure`, resolved at run time (fix C19), for a route
    being taken now.

    The forward-only rule (II.8.1) holds for targets known only now, too: a
    placeholder must not route backwards into a loop that validation could not see.
    """
    tid = resolve_int(ctx, task, key, "a task ID")
    if tid <= task.id:
        raise FatalRunError(f"Task {task.id}: {key} resolved to {tid}, which is not greater "
                            "than the task's own ID; routing is forward only, so the run "
                            "stops here rather than loop", 20, task.id)
    # Every route taken through `on_failure` (tasks, blocks, decisions) passes here:
    # remember the first, where a failed run will resume (failed_resume_point).
    if key == "on_failure" and ctx.run_state.failure_origin is None:
        ctx.run_state.failure_origin = task.id
    return tid


def jump(ctx: RunContext, task: Task, key: str, met: bool) -> Goto:
    """Follow `on_success`/`on_failure`, with the log line parsers look for."""
    tid = target(ctx, task, key)
    word = "met" if met else "not met"
    ctx.emit(info(f"Task {task.id}: Success condition {word}, jumping to Task {tid}"))
    return Goto(tid)


def route_next(ctx: RunContext, task: Task, result: TaskResult) -> Step:
    """Apply a `next` value (II.3.4, first rows)."""
    word = (task.get("next") or "").strip()
    low = word.lower()
    if low == "never":
        ctx.emit(info(f"Task {task.id}: 'next=never' found, stopping execution"))
        ctx.emit(info("SUCCESS: Task execution completed successfully with 'next=never'."))
        return Stop(Outcome(0, "success", task_id=task.id))
    if low == "always":
        ctx.emit(info(f"Task {task.id}: 'next=always' found, proceeding to next task"))
        return Goto(task.id + 1)
    current = stored_current(task, result, result.success)
    cond = task.conditions.get("next")  # (none for `next=loop` without loop=N, when
    # validation was skipped: a word no condition matches, false as in TASKER)
    met = cond is not None and evaluate(cond, current, Variables(ctx.results()).lookup)
    if met:
        ctx.emit(info(f"Task {task.id}: Proceeding to next task ({word}=TRUE)"))
        return jump(ctx, task, "on_success", True) if task.has("on_success") \
            else Goto(task.id + 1)
    ctx.emit(info(f"Task {task.id}: Stopping execution ({word}=FALSE)"))
    if task.has("on_failure"):
        return jump(ctx, task, "on_failure", False)
    ctx.emit(error("FAILED: Workflow stopped - next condition not met (End Failure Block)."))
    return failure_stop(ctx, task, result, f"next condition '{word}' not met")


def route(ctx: RunContext, task: Task, result: TaskResult) -> Step:
    """Decide the next step after an executed ordinary task."""
    if task.has("next"):
        return route_next(ctx, task, result)
    ok = result.success
    has_s, has_f = task.has("on_success"), task.has("on_failure")
    if ok and has_s:
        return jump(ctx, task, "on_success", True)
    if not ok and has_f:
        return jump(ctx, task, "on_failure", False)
    if ok:
        ctx.emit(info(f"Task {task.id}: No routing specified, task succeeded - "
                      "proceeding to next task"))
        return Goto(task.id + 1)
    if has_s:
        ctx.emit(info(f"Task {task.id}: Failure with on_success-only pattern - "
                      "workflow will fail with exit 10"))
        return failure_stop(ctx, task, result, "task failed and only on_success is set", 10)
    if ctx.options.fire_and_forget:
        ctx.emit(warn(f"Task {task.id}: No routing specified, task failed - "
                      "continuing anyway (fire-and-forget mode)"))
        return Goto(task.id + 1)
    ctx.emit(info(f"Task {task.id}: No routing specified, task failed - stopping execution"))
    ctx.emit(error(f"FAILED: Workflow stopped - last task (Task {task.id}) failed with exit "
                   f"code {result.exit_code}."))
    return failure_stop(ctx, task, result, f"task {task.id} failed")
