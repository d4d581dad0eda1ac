"""The closing note of a dry run whose path was decided on simulated results.

A dry run gives every command exit code 0 and the output `DRY RUN STDOUT`, so a
condition, a `next=`, or the choice between `on_success` and `on_failure` may
take another way than the real run will. The note names the first task on the
path whose routing read such a result, so the operator knows from where on the
walk-through shows a guess (issue 17, section 1). It is an added console line;
no line of SPEC Appendix A.1 changes.
"""

from __future__ import annotations

import re
from typing import Iterable, Optional

from tasker.syntax.ast import Task, TaskFile

# Fields that decide on the task's own (simulated) result.
_OWN_RESULT_KEYS = ("success", "failure", "loop_break", "on_success", "on_failure")
# `next=` values that do not look at the result.
_FIXED_NEXT = ("always", "never", "loop")
# A placeholder that reads a task's result (`@3_stdout@`, `@3_exit_code@`).
_READS_RESULT = re.compile(r"@[0-9]+_")


def decides_on_result(task: Task) -> bool:
    """True when the way on from `task` depends on a command's result (its own, or
    one its `condition=` reads), which a dry run only simulates."""
    if any(task.has(key) for key in _OWN_RESULT_KEYS):
        return True
    nxt = (task.get("next") or "").strip().lower()
    if nxt and nxt not in _FIXED_NEXT:
        return True
    return bool(_READS_RESULT.search(task.get("condition") or ""))


def first_simulated_decision(taskfile: TaskFile, path: Iterable[int]) -> Optional[int]:
    """The first task of the dry run's `path` (top-level IDs in run order, skipped ones
    included) whose routing was decided on a simulated result, or None."""
    for tid in path:
        task = taskfile.tasks.get(tid)
        if task is not None and decides_on_result(task):
            return tid
    return None


def dry_run_note(task_id: int) -> str:
    """The last line of such a dry run."""
    return (f"Note: from task {task_id} on, the path of this dry run was decided on simulated "
            "results (exit code 0, output 'DRY RUN STDOUT'); run with -r to follow the "
            "real path.")
