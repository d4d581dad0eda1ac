"""Decision blocks: a condition that runs nothing decides the route (SPEC II.5.6).

`run_decision` is what the walk calls for a task with `type=decision`. With the
fixes C1-C3: `success=` (or `failure=`, inverted) is
evaluated on placeholders and globals only. The result is stored, so
`@N_success@` works (C2). Routing: a true decision takes `on_success`, a false
one `on_failure`; `next=never` stops the run successfully (and never restarts
at task 0, C1); `next=always` continues either way; otherwise a true decision
continues with ID + 1 and a false one stops the run with exit 10 (C3).
"""

from __future__ import annotations

import time

from tasker.engine.context import Outcome, RunContext
from tasker.engine.errors import FatalRunError
from tasker.engine.evaluate import Current, evaluate
from tasker.engine.routing import failure_stop, target
from tasker.engine.step import Goto, Step, Stop, store_result
from tasker.engine.variables import Variables
from tasker.events import error, info
from tasker.results import FAILED, SUCCESS, TaskResult
from tasker.syntax.ast import Task


def decide(ctx: RunContext, task: Task) -> bool:
    """The decision: `success=` as is, or `failure=` inverted, on dummy current values."""
    lookup = Variables(ctx.results()).lookup
    if "success" in task.conditions:
        value = evaluate(task.conditions["success"], Current(), lookup)
        ctx.emit(info(f"Task {task.id}: Decision condition '{task.get('success')}' "
                      f"evaluated to: {value}"))
        return value
    if "failure" in task.conditions:
        failed = evaluate(task.conditions["failure"], Current(), lookup)
        ctx.emit(info(f"Task {task.id}: Decision condition 'failure={task.get('failure')}' "
                      f"evaluated to: {failed} → success={not failed}"))
        return not failed
    raise FatalRunError(f"Task {task.id}: decision block needs 'success' or 'failure'",
                        20, task.id)


def run_decision(ctx: RunContext, task: Task) -> Step:
    """Evaluate, store and route a decision block."""
    ctx.emit(info(f"Task {task.id}: DECISION - Evaluating conditions"))
    ctx.run_state.execution_path.append(task.id)
    passed = decide(ctx, task)
    ctx.emit(info(f"Task {task.id}: Decision PASSED" if passed else
                  f"Task {task.id}: Decision FAILED (success condition not met)"))
    result = TaskResult(task.id, 0 if passed else 1, success=passed,
                        status=SUCCESS if passed else FAILED, start_time=time.time())
    store_result(ctx, result)
    ctx.run_state.last_task = task.id
    return route_decision(ctx, task, result)


def route_decision(ctx: RunContext, task: Task, result: TaskResult) -> Step:
    """Where a decision leads (C1, C3)."""
    passed = result.success
    key = "on_success" if passed else "on_failure"
    if task.has(key):
        tid = target(ctx, task, key)
        word = "success" if passed else "failure"
        ctx.emit(info(f"Task {task.id}: Decision {word}, jumping to task {tid} ({key})"))
        return Goto(tid)
    nxt = (task.get("next") or "").strip().lower()
    if nxt == "never":
        ctx.emit(info(f"Task {task.id}: 'next=never' found, stopping execution"))
        ctx.emit(info("SUCCESS: Task execution completed successfully with 'next=never'."))
        return Stop(Outcome(0, "success", task_id=task.id))
    if passed or nxt == "always":
        ctx.emit(info(f"Task {task.id}: Continuing to task {task.id + 1}"))
        return Goto(task.id + 1)
    ctx.emit(info(f"Task {task.id}: Decision failed and no on_failure - workflow will fail "
                  "with exit 10"))
    ctx.emit(error(f"FAILED: Workflow stopped - decision Task {task.id} failed."))
    return failure_stop(ctx, task, result, f"decision {task.id} failed", 10)
