"""What parallel and conditional blocks share: the aggregate result and the routing on it.

A block stores one result under its own ID (SPEC II.4.3): exit 0 when every
sub-task succeeded, a summary line as stdout, the failed and timed-out IDs as
stderr, and the counts behind `@P_success_count@` and friends. Routing then
follows II.5.1 step 6 with the fixes of I.2: `success=` (a multi-task
condition), else `next`, else `all_success` for both kinds of block (C4).
"""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Callable, List, Optional, Sequence, Type

from tasker.engine.context import Outcome, RunContext
from tasker.engine.errors import FatalRunError
from tasker.engine.evaluate import Current, evaluate_block
from tasker.engine.routing import failure_stop, target
from tasker.engine.step import (
    Goto,
    Iteration,
    Step,
    Stop,
    is_loop,
    loop_ends,
    resolve_int,
    store_result,
)
from tasker.engine.variables import Variables
from tasker.events import (
    BlockFinished,
    BlockProgress,
    BlockStarted,
    error,
    info,
)
from tasker.record import replace
from tasker.results import FAILED, SUCCESS, TIMEOUT, BlockCounts, TaskResult
from tasker.syntax.ast import Task
from tasker.syntax.numbers import MAX_LOOP

# iteration -> block result, None when interrupted (a resumed run runs the block again)
RunOnce = Callable[[Optional[int]], Optional[TaskResult]]


def subtask_ids(task: Task, key: str) -> List[int]:
    """The IDs of a block list (`tasks`, `if_true_tasks`, ...), in list order."""
    ids = []
    for word in (task.get(key) or "").split(","):
        word = word.strip()
        if not word:
            continue
        try:
            ids.append(int(word))
        except ValueError:
            raise FatalRunError(f"Task {task.id}: '{word}' in {key} is not a task ID",
                                20, task.id) from None
    return ids


def subtasks(ctx: RunContext, task: Task, key: str) -> List[Task]:
    """The tasks a block list names; every one must be defined."""
    found = []
    for tid in subtask_ids(task, key):
        sub = ctx.taskfile.tasks.get(tid)
        if sub is None:
            raise FatalRunError(f"Task {task.id}: {key} names task {tid}, which is not defined",
                                20, task.id)
        found.append(sub)
    return found


class Tally:
    """A block's run as events: BlockStarted on entry, BlockProgress whenever a sub-task
    starts or finishes, BlockFinished on exit (`duration` is then the block's time).

    Workers of a parallel block count from their threads: each change is counted and
    emitted under one lock, so the progress events arrive in the order of the counts.
    """

    def __init__(self, ctx: RunContext, start: BlockStarted) -> None:
        self._ctx, self._start = ctx, start
        self._lock = threading.Lock()
        self.done = self.running = self.failed = 0
        self.duration = 0.0
        self._t0 = time.monotonic()

    def __enter__(self) -> "Tally":
        self._ctx.emit(self._start)
        self._t0 = time.monotonic()
        return self

    def __exit__(self, exc_type: Optional[Type[BaseException]],
                 exc: Optional[BaseException], traceback: Optional[TracebackType]) -> None:
        self.duration = elapsed(self._t0)
        self._ctx.emit(BlockFinished(self._start.block_id, self._start.kind, self.duration,
                                     aborted=exc_type is not None))

    def started(self) -> None:
        """A sub-task began running."""
        with self._lock:
            self.running += 1
            self._report()

    def finished(self, success: bool) -> None:
        """A sub-task is done (after its last attempt)."""
        with self._lock:
            self.running -= 1
            self.done += 1
            self.failed += 0 if success else 1
            self._report()

    def _report(self) -> None:
        self._ctx.emit(BlockProgress(self._start.block_id, self.done, self._start.total,
                                     self.running, self.failed))


def block_result(task: Task, title: str, results: Sequence[TaskResult], started: float,
                 duration: float, iterations: int = 1) -> TaskResult:
    """The block's own stored result, worded as TASKER words it (II.4.3).

    A sub-task that timed out is counted apart from the failed ones, each count
    only when it is not zero (`2/3 successful, 1 failed, 1 timeout`); stderr is
    `Failed tasks: [ids]. ` then `Timeout tasks: [ids]`, each only when it has IDs.
    The counts behind `@P_failed_count@` still take every unsuccessful sub-task.
    """
    unsuccessful = [r for r in results if not r.success]
    timeouts = [r.task_id for r in unsuccessful if r.status == TIMEOUT]
    failed = [r.task_id for r in unsuccessful if r.status != TIMEOUT]
    total, ok = len(results), len(results) - len(unsuccessful)
    stdout = f"{title}: {ok}/{total} successful"
    if failed:
        stdout += f", {len(failed)} failed"
    if timeouts:
        stdout += f", {len(timeouts)} timeout"
    stderr = f"Failed tasks: {failed}. " if failed else ""
    if timeouts:
        stderr += f"Timeout tasks: {timeouts}"
    all_ok = not unsuccessful
    return TaskResult(task.id, 0 if all_ok else 1, stdout=stdout, stderr=stderr,
                      success=all_ok, status=SUCCESS if all_ok else FAILED, start_time=started,
                      duration=duration, iterations=iterations,
                      counts=BlockCounts(ok, len(unsuccessful)))


def store_block(ctx: RunContext, result: TaskResult, iteration: Optional[int]) -> None:
    """Store the block result, trace it, and make it the run's last task."""
    store_result(ctx, result, Iteration(iteration))
    ctx.run_state.last_task = result.task_id


def elapsed(started_monotonic: float) -> float:
    """Seconds since a time.monotonic() reading."""
    return time.monotonic() - started_monotonic


def _ratio(result: TaskResult) -> str:
    counts = result.counts or BlockCounts(0, 0)
    return f"{counts.success}/{counts.total}"


def _current(task: Task, result: TaskResult) -> Current:
    """The aggregate as "current" values for a `next=` condition or `loop_break`.

    A parallel block's current stdout is TASKER's summary sentence (II.5.1 step 6),
    not the stored `@P_stdout@` text.
    """
    stdout = result.stdout
    if task.kind == "parallel" and result.counts is not None:
        stdout = (f"Parallel execution summary: {result.counts.success} successful, "
                  f"{result.counts.failed} failed")
    return Current(result.exit_code, stdout, result.stderr, result.success)


def _all_success(ctx: RunContext, task: Task, result: TaskResult, why: str) -> bool:
    counts = result.counts or BlockCounts(0, 0)
    met = counts.total > 0 and counts.failed == 0
    ctx.emit(info(f"Task {task.id}: {why}, using all_success logic: {_ratio(result)} = {met}"))
    return met


def aggregate_met(ctx: RunContext, task: Task, result: TaskResult) -> Optional[bool]:
    """Truth of the block's aggregate test; None for `next=never` (stop successfully)."""
    counts = result.counts or BlockCounts(0, 0)
    lookup = Variables(ctx.results()).lookup
    key = "success" if task.has("success") else "next"
    text = (task.get(key) or "").strip()
    low = text.lower()
    if not text:
        return _all_success(ctx, task, result, "No 'next' condition")
    if key == "next" and task.kind == "conditional" and low in ("never", "loop"):
        # II.5.2: a conditional block's `next` is a multi-task condition only; `never`
        # and `loop` (which only a parallel block knows) are false there. (`success` was
        # false too, bug C4: it means all_success here as on a parallel block.)
        ctx.emit(info(f"Task {task.id}: 'next={text}' on a conditional block is false"))
        return False
    if key == "next" and low == "never":
        return None
    if key == "next" and low == "always":
        ctx.emit(info(f"Task {task.id}: 'next=always' found, proceeding to next task"))
        return True
    if key == "next" and low == "success":
        return _all_success(ctx, task, result, "'next=success'")
    expr = task.conditions.get(key)
    if expr is None:  # `next=loop` after the loop is done
        return True
    met = evaluate_block(expr, counts.success, counts.failed, _current(task, result), lookup)
    ctx.emit(info(f"Task {task.id}: Success condition '{text}' evaluated to: {met}"))
    return met


def route_block(ctx: RunContext, task: Task, result: TaskResult, word: str) -> Step:
    """Jump, continue with ID + 1, or stop with exit 10, after a parallel/conditional block."""
    met = aggregate_met(ctx, task, result)
    if met is None:
        ctx.emit(info(f"Task {task.id}: 'next=never' found, stopping execution"))
        ctx.emit(info("SUCCESS: Task execution completed successfully with 'next=never'."))
        return Stop(Outcome(0, "success", task_id=task.id))
    state = "success" if met else "failure"
    key = "on_success" if met else "on_failure"
    if task.has(key):
        tid = target(ctx, task, key)
        ctx.emit(info(f"Task {task.id}: {word} {state} ({_ratio(result)}), jumping to Task {tid}"))
        return Goto(tid)
    if met:
        ctx.emit(info(f"Task {task.id}: {word} {state} ({_ratio(result)}), proceeding to next "
                      "task"))
        return Goto(task.id + 1)
    ctx.emit(info(f"Task {task.id}: {word} {state} ({_ratio(result)}) and no on_failure - "
                  "workflow will fail with exit 10"))
    ctx.emit(error(f"FAILED: Workflow stopped - Task {task.id} block condition not met."))
    return failure_stop(ctx, task, result, f"block {task.id}: {word.lower()} condition not met "
                        f"({_ratio(result)} successful)", 10)


def run_looped(ctx: RunContext, task: Task, once: RunOnce) -> Step:
    """`next=loop` with `loop=N` on a block: run it up to N times, then go on with ID + 1;
    interrupted, it starts again from its first iteration on resume (I.4a)."""
    count = resolve_int(ctx, task, "loop", lo=1, hi=MAX_LOOP)
    for k in range(1, count + 1):
        result = once(k)
        if result is None:
            return Stop(None)
        if loop_ends(ctx, task, replace(result, stdout=_current(task, result).stdout)):
            return Goto(task.id + 1)
    ctx.emit(info(f"Task {task.id}: Loop complete - max iterations reached"))
    return Goto(task.id + 1)


def run_aggregate_block(ctx: RunContext, task: Task, word: str, once: RunOnce) -> Step:
    """Enter a parallel/conditional block: path entry, (loop of) runs, routing."""
    ctx.run_state.execution_path.append(task.id)
    # Only a parallel block loops (II.3.7), and only when no `success=` decides (II.5.1)
    if is_loop(task) and task.kind == "parallel" and not task.has("success"):
        return run_looped(ctx, task, once)
    result = once(None)
    if result is None:
        return Stop(None)
    return route_block(ctx, task, result, word)
