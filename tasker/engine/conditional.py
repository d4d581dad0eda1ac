"""Conditional blocks: a condition picks a branch, run in list order (SPEC II.5.2).

The condition sees only placeholders and globals (dummy current values). The
branch tasks run one after the other in the order of the list (duplicates
run again), each stored right after it ran so later ones can use its result;
a failure does not stop the branch. Routing is the aggregate routing of every
block, with `all_success` when nothing else is said (fix C4).
"""

from __future__ import annotations

import time
from typing import List, Optional

from tasker.engine.aggregate import Tally, block_result, run_aggregate_block, store_block, subtasks
from tasker.engine.context import RunContext
from tasker.engine.errors import FatalRunError
from tasker.engine.evaluate import Current, evaluate
from tasker.engine.step import Goto, Step
from tasker.engine.subtask import Slot, retry_policy, run_subtask
from tasker.engine.variables import Variables
from tasker.events import BlockStarted, info, warn
from tasker.results import TaskResult
from tasker.syntax.ast import Task


def choose_branch(ctx: RunContext, task: Task) -> bool:
    """Evaluate the block's `condition` on placeholders and globals only."""
    value = evaluate(task.conditions["condition"], Current(),
                     Variables(ctx.results()).lookup)
    ctx.emit(info(f"Task {task.id}: Conditional block condition '{task.get('condition')}' "
                  f"evaluated to: {value}"))
    return value


def run_conditional_once(ctx: RunContext, task: Task,
                         iteration: Optional[int]) -> Optional[TaskResult]:
    """Run the chosen branch once; store and return the block result (None, and nothing
    stored, when the run was interrupted)."""
    branch = choose_branch(ctx, task)
    word = "TRUE" if branch else "FALSE"
    key = "if_true_tasks" if branch else "if_false_tasks"
    subs = subtasks(ctx, task, key)
    if not subs:
        raise FatalRunError(f"Task {task.id}: the {word} branch ({key}) is empty", 20, task.id)
    slot = Slot(task.id, retry_policy(ctx, task), iteration)
    results: List[TaskResult] = []
    started = time.time()
    start = BlockStarted(task.id, "conditional", len(subs), branch=branch,
                         retry=slot.policy.retry)
    with Tally(ctx, start) as tally:
        for sub in subs:
            if ctx.interrupt.requested:
                break
            tally.started()
            results.append(run_subtask(ctx, slot, sub))
            tally.finished(results[-1].success)
    duration = tally.duration
    if ctx.interrupt.requested:  # no block result: the sub-tasks that ended keep theirs,
        return None  # and a resumed run runs the whole block again (I.4a)
    result = block_result(task, f"Conditional {word} branch", results, started, duration,
                          iteration or 1)
    store_block(ctx, result, iteration)
    return result


def run_conditional(ctx: RunContext, task: Task) -> Step:
    """A conditional block from start to routing; without a condition it is passed over."""
    if "condition" not in task.conditions:
        ctx.emit(warn(f"Task {task.id}: conditional block without a condition, skipping it"))
        return Goto(task.id + 1)
    return run_aggregate_block(ctx, task, "Conditional",
                               lambda iteration: run_conditional_once(ctx, task, iteration))
