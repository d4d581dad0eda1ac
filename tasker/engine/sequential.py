"""The walk: the numbered tasks one after the other (SPEC II.3.3-3.8 with I.2).

One loop picks the task with the current ID, hands it to the runner of its kind
(`RUNNERS`: the blocks by their type, every other task to `run_ordinary`), and
follows the `Step` it returns: go to another ID, or stop with an outcome. After
every task it reports where the walk goes (RoutingDecided) and where a resumed run
would go on (TaskFinished: the state file is saved on it).
"""

from __future__ import annotations

import time
from typing import Callable, Dict, Optional

from tasker.engine.conditional import run_conditional
from tasker.engine.context import Outcome, RunContext
from tasker.engine.decision import run_decision
from tasker.engine.errors import FatalRunError
from tasker.engine.ordinary import run_ordinary
from tasker.engine.parallel import run_parallel
from tasker.engine.routing import failed_resume_point, failure_stop, jump
from tasker.engine.step import BadValue, Goto, Interrupted, Step, Stop, store_result
from tasker.events import RoutingDecided, RunStarted, TaskFinished, error, info, warn
from tasker.record import replace
from tasker.results import FAILED, TaskResult
from tasker.syntax.ast import Task

EXIT_RECORDS = 26  # the run's records (its log) could not be written (I.4a)

# The one dispatch of task kinds: each block type (syntax.ast.BLOCK_TYPES) to its runner;
# every other task is an ordinary one.
RUNNERS: Dict[str, Callable[[RunContext, Task], Step]] = {
    "parallel": run_parallel,
    "conditional": run_conditional,
    "decision": run_decision,
}


def start_id(ctx: RunContext) -> int:
    """`--start-from`, else 0, else the lowest defined ID (with the two WARN lines)."""
    tasks = ctx.taskfile.tasks
    start = ctx.options.start_from
    if start is None:
        start = 0 if 0 in tasks else min(tasks)
    restored = any(tid < start for tid in ctx.run_state.results)
    if start > 0 and not restored:  # with restored results the earlier tasks do resolve
        ctx.emit(warn(f"# WARNING: Task dependencies @X_stdout@, @X_stderr@, @X_stdout_file@, "
                      f"@X_stderr_file@, @X_success@ for tasks 0-{start - 1} will be unresolved"))
        ctx.emit(warn(f"# Tasks {start}+ may fail if they depend on results from earlier tasks"))
    return start


def interrupted(ctx: RunContext, task_id: Optional[int] = None) -> Outcome:
    """The outcome of a stop request: 128 + the signal's number, or, for a halt (the
    run's records cannot be written), exit 26 with the reason. `task_id` is the task
    that was interrupted (default: the last that ran)."""
    if task_id is None:
        task_id = ctx.run_state.last_task
    if ctx.interrupt.signum is None and ctx.interrupt.halt_reason is not None:
        ctx.emit(error(f"Stopping: {ctx.interrupt.halt_reason}; no more tasks are started"))
        return Outcome(EXIT_RECORDS, "failed", ctx.interrupt.halt_reason, task_id)
    signum = ctx.interrupt.signum or 15
    ctx.emit(warn("Graceful shutdown requested - stopping execution"))
    return Outcome(128 + signum, "interrupted", f"interrupted by signal {signum}", task_id)


def value_failed(ctx: RunContext, task: Task, exc: BadValue) -> Step:
    """C19: a field that resolved to an unusable value fails its task, with the message.

    The task's result (if it ran) is kept but marked failed, so the report says
    why the run ended there; `on_failure` takes over when the bad field was not
    a routing target itself, otherwise the run stops as for an unrouted failure.
    """
    ctx.emit(error(exc.message))
    state = ctx.run_state
    prior = state.results.get(task.id)
    if prior is not None and state.last_task == task.id:
        result = replace(prior, success=False, status=FAILED,
                         stderr=f"{prior.stderr}\n{exc.message}".lstrip("\n"))
    else:
        result = TaskResult(task.id, 1, stderr=exc.message, status=FAILED,
                            start_time=time.time())
    store_result(ctx, result)
    if not state.execution_path or state.execution_path[-1] != task.id:
        state.execution_path.append(task.id)
    if exc.key not in ("on_success", "on_failure") and task.has("on_failure"):
        try:
            return jump(ctx, task, "on_failure", False)
        except BadValue as again:
            ctx.emit(error(again.message))
    ctx.emit(error(f"FAILED: Workflow stopped - {exc.message}"))
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


def routing_decided(ctx: RunContext, tid: int, nxt: Step) -> RoutingDecided:
    """The walk's decision after task `tid` as an event."""
    if isinstance(nxt, Goto):
        if nxt.task_id in ctx.taskfile.tasks:
            return RoutingDecided(tid, nxt.task_id, "next")
        return RoutingDecided(tid, None, "end")
    if isinstance(nxt, Stop) and nxt.outcome is not None:
        return RoutingDecided(tid, None, nxt.outcome.status)
    return RoutingDecided(tid, None, "interrupted")


def run_workflow(ctx: RunContext) -> Outcome:
    """Walk the workflow from the start task until it stops or runs off the end."""
    tasks = ctx.taskfile.tasks
    tid = start_id(ctx)
    ctx.emit(RunStarted(str(ctx.taskfile.path), ctx.options.dry_run, time.time(), tid))
    while tid in tasks:
        if ctx.interrupt.requested:
            return interrupted(ctx)
        task = tasks[tid]
        try:
            nxt = RUNNERS.get(task.kind, run_ordinary)(ctx, task)
        except BadValue as exc:
            nxt = value_failed(ctx, task, exc)
        except FatalRunError as exc:
            ctx.emit(TaskFinished(tid, failed_resume_point(ctx, tid)))
            raise exc
        ctx.emit(routing_decided(ctx, tid, nxt))
        ctx.emit(TaskFinished(tid, resume_point(ctx, tid, nxt)))
        if not isinstance(nxt, Goto):
            outcome = nxt.outcome if isinstance(nxt, Stop) else None
            return outcome if outcome is not None else interrupted(ctx, tid)
        tid = nxt.task_id
    if ctx.interrupt.requested:
        return interrupted(ctx)
    n = len(ctx.run_state.execution_path)
    ctx.emit(info(f"SUCCESS: Task execution completed - {n} task(s) executed successfully."))
    return Outcome(0, "success", task_id=ctx.run_state.last_task)


__all__ = ["run_workflow", "RUNNERS"]
