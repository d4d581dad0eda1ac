"""One sub-task of a parallel or conditional block, with its retries (SPEC II.5.1-5.5).

A sub-task runs like an ordinary task (condition, command, splits, success or
failure condition, sleep) with the block's differences: it never routes, a
`return` in it is its result instead of the end of the run, a program that
cannot be started is a failed result instead of a fatal stop, and in a dry run
it succeeds without being looked at. Every attempt is stored under the
sub-task's own ID and traced with the block's ID and the attempt number.
"""

from __future__ import annotations

import time
from typing import Optional, Tuple

from tasker.engine import command
from tasker.engine.context import RunContext
from tasker.engine.errors import FatalRunError
from tasker.engine.step import (
    BadValue,
    Iteration,
    condition_allows,
    report_started,
    resolve_int,
    sleep_after,
    store_result,
)
from tasker.engine.variables import Variables
from tasker.events import CommandLaunched, SubtaskFinished, error, info, warn
from tasker.exec.base import TIMEOUT_EXIT
from tasker.exec.exectypes import ArgumentsError
from tasker.record import record, replace
from tasker.results import FAILED, SUCCESS, TaskResult
from tasker.syntax.ast import BLOCK_TYPES, Task
from tasker.syntax.numbers import parse_int, parse_seconds

DRY_RUN_STDOUT = "DRY RUN - Command not executed"
ROUTING_KEYS = ("on_success", "on_failure", "next", "loop", "loop_break")  # as validate.blocks
COUNT_RANGE, DELAY_RANGE = (1, 1000), (0.0, 300.0)


@record(frozen=True)
class RetryPolicy:
    """The block's retry settings (II.5.5); disabled means one attempt, no label suffix."""

    enabled: bool = False
    count: int = 1  # additional attempts
    delay: float = 1.0  # seconds between attempts

    @property
    def attempts(self) -> int:
        """Most attempts a sub-task gets."""
        return 1 + self.count if self.enabled else 1

    @property
    def retry(self) -> Optional[Tuple[int, float]]:
        """(count, delay) when retry is on, as the block's start is reported; else None."""
        return (self.count, self.delay) if self.enabled else None


@record(frozen=True)
class Slot:
    """Where a sub-task runs: its block, the block's loop iteration, the retry policy."""

    block_id: int
    policy: RetryPolicy = RetryPolicy()
    iteration: Optional[int] = None


def _coerced(ctx: RunContext, block: Task, key: str, bounds: Tuple[float, float],
             default: float) -> float:
    """A retry number, resolved at run time; out of range or not a number gives the default."""
    text = block.get(key)
    if text is None or not text.strip():
        return default
    value = Variables(ctx.results()).resolve(text)[0].strip()
    number = parse_seconds(value) if key == "retry_delay" else parse_int(value)
    if number is None:
        ctx.emit(warn(f"Invalid retry configuration: {key} '{value}' is not a number, "
                      f"using {default:g}"))
        return default
    low, high = bounds
    if not low <= number <= high:
        ctx.emit(warn(f"{key} {number:g} out of range ({low:g}-{high:g}), using {default:g}"))
        return default
    return number


def retry_policy(ctx: RunContext, block: Task) -> RetryPolicy:
    """Retry is on with `retry_count` (any value) or `retry_failed=true` (II.5.5)."""
    flag = (block.get("retry_failed") or "").strip().lower() == "true"
    if not (flag or block.has("retry_count")):
        return RetryPolicy()
    count = int(_coerced(ctx, block, "retry_count", COUNT_RANGE, 1))
    delay = _coerced(ctx, block, "retry_delay", DELAY_RANGE, 1.0)
    return RetryPolicy(True, count, delay)


def _returned(ctx: RunContext, task: Task) -> TaskResult:
    """A sub-task with `return` is not executed: the value is its exit code (II.5.1).

    A value that is not an integer fails the sub-task with the message (C19).
    """
    try:
        code = resolve_int(ctx, task, "return")
    except BadValue as exc:
        ctx.emit(error(exc.message))
        return TaskResult(task.id, 1, stderr=exc.message, status=FAILED,
                          hostname=task.get("hostname") or "", start_time=time.time())
    return TaskResult(task.id, code, success=code == 0, status=SUCCESS if code == 0 else FAILED,
                      hostname=task.get("hostname") or "", start_time=time.time())


def _dry_run(ctx: RunContext, task: Task, label: str) -> TaskResult:
    """Show what would run; block sub-tasks succeed unconditionally in a dry run (II.7.3)."""
    started = time.time()
    try:
        prep = command.prepare(ctx, task, Variables(ctx.results()))
    except ArgumentsError as exc:
        ctx.emit(error(f"Task {label}: arguments cannot be split: {exc}"))
        return TaskResult(task.id, 1, stderr=str(exc), status=FAILED, start_time=started)
    shown = prep.shown(ctx.mask)
    ctx.emit(CommandLaunched(task.id, label, prep.exec_shown, shown, dry_run=True))
    return TaskResult(task.id, 0, stdout=DRY_RUN_STDOUT, success=True, status=SUCCESS,
                      hostname=prep.hostname, exec_type=prep.exec_name, command=shown,
                      start_time=started)


def attempt(ctx: RunContext, task: Task, label: str, it: Iteration) -> TaskResult:
    """One attempt: skip, return value, dry run or the command; stored and traced."""
    if not ctx.options.dry_run and not condition_allows(ctx, task, label, it):
        return ctx.run_state.results[task.id]  # condition_allows stored the skipped result
    report_started(ctx, task, label, it)
    if ctx.options.dry_run and task.has("return"):
        # not evaluated in a dry run: it succeeds like every sub-task there (II.7.3)
        ctx.emit(info(f"Task {label}: [DRY RUN] Would return: {task.get('return')}"))
        result = TaskResult(task.id, 0, stdout=DRY_RUN_STDOUT, success=True, status=SUCCESS,
                            start_time=time.time())
    elif task.has("return"):
        result = _returned(ctx, task)
    elif ctx.options.dry_run:
        result = _dry_run(ctx, task, label)
    else:
        result = command.execute(ctx, task, label, in_block=True, it=it)
    result = replace(result, attempts=it.attempt)
    store_result(ctx, result, it, label)
    if not task.has("return"):
        sleep_after(ctx, task, label)
    return result


def _check_subtask(ctx: RunContext, slot: Slot, task: Task) -> None:
    """Blocks do not nest; routing keys in a sub-task are ignored (validation rejects both)."""
    if task.kind in BLOCK_TYPES:
        raise FatalRunError(f"Task {slot.block_id}: sub-task {task.id} is a {task.kind} block; "
                            "blocks cannot be nested", 20, slot.block_id)
    stripped = [key for key in ROUTING_KEYS if task.has(key)]
    if stripped:
        ctx.emit(warn(f"Task {slot.block_id}: Stripped routing parameters from subtask {task.id} "
                      f"({', '.join(stripped)}). Sub-tasks of a block do not route."))


def _retry_wanted(ctx: RunContext, policy: RetryPolicy, result: TaskResult, k: int) -> bool:
    """Unsuccessful, not a timeout (timeouts are final), attempts left, not interrupted."""
    return (policy.enabled and not result.success and result.exit_code != TIMEOUT_EXIT
            and k < policy.attempts and not ctx.interrupt.requested)


def run_subtask(ctx: RunContext, slot: Slot, task: Task) -> TaskResult:
    """Run a sub-task with its retries and return its final result."""
    _check_subtask(ctx, slot, task)
    policy, base = slot.policy, f"{slot.block_id}-{task.id}"
    k = 1
    while True:
        label = f"{base}.{k}" if policy.enabled else base
        result = attempt(ctx, task, label, Iteration(slot.iteration, k, slot.block_id))
        if not _retry_wanted(ctx, policy, result, k):
            break
        ctx.emit(info(f"Task {label}: FAILED - will retry as Task {base}.{k + 1} "
                      f"in {policy.delay:g}s"))
        # Waiting on the interrupt event lets Ctrl-C cut the delay short.
        if not ctx.options.dry_run and ctx.interrupt.stop.wait(policy.delay):
            break
        k += 1
    ctx.emit(SubtaskFinished(slot.block_id, task.id, base, k, policy.enabled, result))
    return result
