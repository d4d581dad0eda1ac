"""Block and decision field rules of the validator (SPEC II.2.2, II.8.1).

Which fields a parallel, conditional or decision block forbids or ignores,
what only blocks may use (`max_parallel`, the retry keys), and the
`max_parallel` range. The nesting and sub-task rules are in blocks.py; the
aggregate `success=`/`next=` forms are checked by condition_rules.py.
"""

from __future__ import annotations

from typing import Iterator

from tasker.syntax.ast import Task, TaskFile
from tasker.syntax.diagnostics import WARNING, Diagnostic
from tasker.syntax.numbers import parse_int
from tasker.validate.condition_rules import AGGREGATE_FORMS, aggregates
from tasker.validate.fields import at, block_list, dynamic

RETRY_FIELDS = ("retry_failed", "retry_count", "retry_delay")


def block_fields(tf: TaskFile, task: Task) -> Iterator[Diagnostic]:
    """Fields that blocks forbid or ignore, and what only blocks may use."""
    kind = task.kind
    if kind in ("parallel", "conditional"):
        f = task.fields.get("failure")
        if f is not None and not (kind == "parallel" and task.has("hostnames")):
            yield at(tf, f, f"Task {task.id}: failure is not allowed on a {kind} block",
                     hint=f"use success= with one of {AGGREGATE_FORMS}")
        yield from aggregates(tf, task)
        nxt = task.fields.get("next")
        if nxt is not None and task.has("success"):
            yield at(tf, nxt, f"Task {task.id}: next is ignored on a block with success= "
                     "(success= decides where the block goes, and the block does not loop)",
                     severity=WARNING, hint="remove next=, or success=")
    if kind == "parallel":
        yield from _max_parallel(tf, task)
    elif task.has("max_parallel"):
        yield at(tf, task.fields["max_parallel"], f"Task {task.id}: max_parallel only applies "
                 "to parallel blocks", severity=WARNING)
    if kind == "decision":
        for key in ("command", "hostname", "arguments"):
            if task.has(key):
                yield at(tf, task.fields[key], f"Task {task.id}: a decision block runs no "
                         f"command; '{key}' is not allowed", hint="decisions only evaluate "
                         "success= or failure=")
        for key in ("exec", "stdout_split", "stderr_split", "stdout_count", "stderr_count"):
            if task.has(key):
                yield at(tf, task.fields[key], f"Task {task.id}: '{key}' is ignored on a "
                         "decision block", severity=WARNING)
        if not any(task.has(k) for k in ("on_success", "on_failure", "next")):
            yield at(tf, task.fields["type"], f"Task {task.id}: decision block without "
                     "on_success, on_failure or next", severity=WARNING,
                     hint="a false decision stops the run")
    if kind not in ("parallel", "conditional"):
        for key in RETRY_FIELDS:
            if task.has(key):
                yield at(tf, task.fields[key], f"Task {task.id}: {key} only applies to "
                         "parallel and conditional blocks and is ignored", severity=WARNING)


def _max_parallel(tf: TaskFile, task: Task) -> Iterator[Diagnostic]:
    f = task.fields.get("max_parallel")
    if f is None or dynamic(f):
        return
    n = parse_int(f.value)
    count = len(block_list(task, "tasks"))
    if n is None or n < 1:
        yield at(tf, f, f"Task {task.id}: max_parallel must be a whole number of at least 1, "
                 f"not '{f.value}'")
        return
    if n > 20:
        yield at(tf, f, f"Task {task.id}: max_parallel={n} is above 20", severity=WARNING)
    if count and n > count:  # (both warnings can apply, II.2.2)
        yield at(tf, f, f"Task {task.id}: max_parallel={n} is more than the {count} sub-tasks",
                 severity=WARNING)
