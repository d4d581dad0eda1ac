"""Parallel blocks: a bounded pool of workers runs the sub-tasks (SPEC II.5.1, II.5.4).

The pool is `max_parallel` threads (default 8, up to 1000). It is not capped
by the number of CPUs: the workers wait on processes and networks, not on the
CPU. Each worker takes the next sub-task in list order, runs it with its
retries (delays sleep in that worker only), and stores its results as it
goes; placeholders in sub-tasks read the results from before the block. A
Ctrl-C/SIGTERM stops the launching of new sub-tasks; the running ones are
cancelled by the executor, which watches the same event.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, List, Optional

from tasker.engine.aggregate import Tally, block_result, run_aggregate_block, store_block, subtasks
from tasker.engine.context import RunContext
from tasker.engine.step import Step, resolve_int
from tasker.engine.subtask import Slot, retry_policy, run_subtask
from tasker.events import BlockStarted
from tasker.record import replace
from tasker.results import TaskResult
from tasker.syntax.ast import Task

DEFAULT_MAX_PARALLEL = 8
MAX_WORKERS = 1000
_JOIN_SLICE = 0.25  # the main thread wakes this often, so signal handlers run promptly


def run_pool(count: int, workers: int, work: Callable[[int], None],
             stop: threading.Event) -> None:
    """Call work(i) for i in 0..count-1 on `workers` threads, in order of i.

    No new item starts once `stop` is set. The first exception raised by an
    item also stops the launching and is re-raised here, after every started
    item finished.
    """
    lock = threading.Lock()
    state = {"next": 0}
    errors: List[BaseException] = []

    def take() -> Optional[int]:
        with lock:
            i = state["next"]
            if i >= count or stop.is_set() or errors:
                return None
            state["next"] = i + 1
            return i

    def worker() -> None:
        i = take()
        while i is not None:
            try:
                work(i)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller below
                with lock:
                    errors.append(exc)
                return
            i = take()

    threads = [threading.Thread(target=worker, name=f"block-worker-{n}", daemon=True)
               for n in range(max(1, min(workers, count)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(_JOIN_SLICE)
    if errors:
        raise errors[0]


def max_parallel(ctx: RunContext, task: Task) -> int:
    """`max_parallel`, placeholders resolved at run time (C19): at least 1, at most 1000."""
    if not task.has("max_parallel"):
        return DEFAULT_MAX_PARALLEL
    return min(MAX_WORKERS, resolve_int(ctx, task, "max_parallel", lo=1))


def run_parallel_once(ctx: RunContext, task: Task,
                      iteration: Optional[int]) -> Optional[TaskResult]:
    """Run every sub-task once (with retries); store and return the block result (None,
    and nothing stored, when the run was interrupted)."""
    subs = subtasks(ctx, task, "tasks")
    limit = max_parallel(ctx, task)
    slot = Slot(task.id, retry_policy(ctx, task), iteration)
    results: List[Optional[TaskResult]] = [None] * len(subs)
    started = time.time()
    # Sub-tasks read the results as they were when the block started, never a sibling's
    # (which one finished first would decide the outcome); each is stored when it ends.
    sub_ctx = replace(ctx, visible=dict(ctx.run_state.results))
    start = BlockStarted(task.id, "parallel", len(subs), max_parallel=limit,
                         retry=slot.policy.retry)
    with Tally(ctx, start) as tally:
        def work(i: int) -> None:
            tally.started()
            result = results[i] = run_subtask(sub_ctx, slot, subs[i])
            tally.finished(result.success)

        run_pool(len(subs), limit, work, ctx.interrupt.stop)
    duration = tally.duration
    if ctx.interrupt.requested:  # no block result: the sub-tasks that ended keep theirs,
        return None  # and a resumed run runs the whole block again (I.4a)
    done = [r for r in results if r is not None]
    result = block_result(task, "Parallel execution", done, started, duration, iteration or 1)
    store_block(ctx, result, iteration)
    return result


def run_parallel(ctx: RunContext, task: Task) -> Step:
    """A parallel block from start to routing."""
    return run_aggregate_block(ctx, task, "Parallel",
                               lambda iteration: run_parallel_once(ctx, task, iteration))
