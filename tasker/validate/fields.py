"""Reading task fields for the validator's rules, and placing findings inside them.

The field rules (rules.py, block_rules.py, condition_rules.py) and the flow
analysis share these: strict integer parsing (ASCII digits only), comma-separated
ID lists with the offset of every entry, placeholder detection, and diagnostics
located at a column inside a field's value.
"""

from __future__ import annotations

from typing import Iterator, List, Optional, Tuple

from tasker.syntax.ast import Field, Task, TaskFile
from tasker.syntax.diagnostics import ERROR, WARNING, Diagnostic
from tasker.syntax.numbers import parse_int
from tasker.syntax.placeholders import GLOBAL_REF, TASK_REF

LIST_FIELDS = ("tasks", "if_true_tasks", "if_false_tasks")


def diag(tf: TaskFile, severity: str, message: str, line: int, column: int,
         hint: Optional[str] = None) -> Diagnostic:
    """A diagnostic with the source line attached for the caret display."""
    return Diagnostic(severity, message, line, column, hint, tf.source_line(line))


def at(tf: TaskFile, f: Field, message: str, offset: int = 0, hint: Optional[str] = None,
       severity: str = ERROR) -> Diagnostic:
    """A diagnostic at `offset` (0-based) inside the value of field `f`."""
    return diag(tf, severity, message, f.line, f.column + max(offset, 0), hint)


def list_entries(f: Field) -> Iterator[Tuple[int, int]]:
    """(ID, 0-based offset) of every integer entry of a comma-separated ID list."""
    offset = 0
    for part in f.value.split(","):
        n = parse_int(part)
        if n is not None:
            yield n, offset + len(part) - len(part.lstrip())
        offset += len(part) + 1


def block_list(task: Task, key: str) -> List[int]:
    """The integer IDs of list field `key` of a block, in list order."""
    f = task.fields.get(key)
    return [n for n, _ in list_entries(f)] if f is not None else []


def dynamic(f: Field) -> bool:
    """A value still holding `@...@` placeholders is resolved at run time (fix C19)."""
    return "@" in f.value and bool(TASK_REF.search(f.value) or GLOBAL_REF.search(f.value))


def int_field(tf: TaskFile, task: Task, key: str, lo: int, hi: Optional[int],
              warn_above: Optional[int] = None,
              replaced_by: Optional[int] = None) -> Iterator[Diagnostic]:
    """An integer field within [lo, hi] (error; no hi: no upper bound), warning above
    `warn_above`, saying so when the run then uses `replaced_by` instead (II.5.5)."""
    f = task.fields.get(key)
    if f is None or dynamic(f):
        return
    n = parse_int(f.value)
    if n is None:
        yield at(tf, f, f"Task {task.id}: {key} must be a whole number, not '{f.value}'")
    elif n < lo or (hi is not None and n > hi):
        allowed = f"{lo}-{hi}" if hi is not None else f"{lo} or more"
        yield at(tf, f, f"Task {task.id}: {key}={n} is out of range ({allowed})")
    elif warn_above is not None and n > warn_above:
        yield at(tf, f, f"Task {task.id}: {key}={n} is unusually high (above {warn_above})"
                 + (f"; the run uses {replaced_by} instead" if replaced_by is not None else ""),
                 severity=WARNING)


def is_loop_next(task: Task) -> bool:
    """`next=loop` or `next=loop&COND`: the task repeats (with `loop=N`)."""
    low = (task.get("next") or "").strip().lower()
    return low == "loop" or low.startswith("loop&")
