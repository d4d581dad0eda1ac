"""Condition rules of the validator (SPEC II.8.1, II.8.2 as I.2 adapts them).

The loader already parsed every condition field (syntax errors stop loading);
these rules look at the parsed expressions: a block's `success=`/`next=` must
be built from the aggregate forms of II.5.3 with sensible counts, a lone
leading quote in a pattern is tolerated with a warning, and `exit_N` above 255
can never be true. Columns point inside the field's value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator, List, Sequence

from tasker.syntax.ast import Field, Task, TaskFile
from tasker.syntax.diagnostics import WARNING, Diagnostic
from tasker.validate.fields import LIST_FIELDS, at, block_list, is_loop_next

if TYPE_CHECKING:
    from tasker.syntax.condition_ast import MultiTask

AGGREGATE_FORMS = ("all_success, any_success, majority_success, min_success=N, "
                   "max_success=N, min_failed=N, max_failed=N")


def aggregates(tf: TaskFile, task: Task) -> Iterator[Diagnostic]:
    """A block's `success=`/`next=` must be built from the aggregate forms of II.5.3."""
    total = sum(len(block_list(task, k)) for k in LIST_FIELDS)
    for key in ("success", "next"):
        expr, f = task.conditions.get(key), task.fields.get(key)
        if expr is None or f is None or (key == "next" and (
                is_loop_next(task) or f.value.strip().lower() == "success")):
            continue  # `next=loop&COND` is a loop test; `next=success`: see rules.flow_fields
        from tasker.syntax import condition_ast as C  # loaded only when there are conditions

        for node in C.walk(expr):
            col = _cond_col(f, node.column)
            if isinstance(node, C.MultiTask):
                yield from _aggregate_count(tf, task, f, node, col, total)
            elif not isinstance(node, (C.Or, C.And, C.Not, C.MultiTask)):
                yield at(tf, f, f"Task {task.id}: {key}={f.value} is not an aggregate "
                         f"condition; a {task.kind} block's {key} is one of {AGGREGATE_FORMS}",
                         col - f.column, hint="sub-tasks are judged by their own success=")
                break


def _aggregate_count(tf: TaskFile, task: Task, f: Field, node: "MultiTask", col: int,
                     total: int) -> Iterator[Diagnostic]:
    if node.count is None:
        return
    if node.count < 0:
        yield at(tf, f, f"Task {task.id}: {node.kind}={node.count} cannot be negative",
                 col - f.column)
    elif node.count == 0 and node.kind.startswith("min_"):
        yield at(tf, f, f"Task {task.id}: {node.kind}=0 is always true", col - f.column,
                 severity=WARNING)
    elif total and node.count > total and node.kind.startswith("min_"):
        yield at(tf, f, f"Task {task.id}: {node.kind}={node.count} can never be met with "
                 f"{total} sub-tasks", col - f.column, severity=WARNING)


def _cond_col(f: Field, column: int) -> int:
    """File column of a 1-based column inside the parsed text of condition field `f`."""
    if f.value != f.raw:
        return f.column  # globals were substituted: positions no longer map
    skip = 5 if f.key == "next" and f.value.lower().startswith("loop&") else 0
    return f.column + skip + max(column, 1) - 1


def conditions(tf: TaskFile, task: Task) -> Sequence[Diagnostic]:
    """Lone leading quotes in patterns and `exit_N` above 255 (warnings).

    Most conditions have neither a quote nor an exit test: those are passed over
    without walking their tree, and without a generator.
    """
    found: List[Diagnostic] = []
    for key in task.conditions:
        low = task.fields[key].value.lower()
        if '"' in low or "'" in low or "exit_" in low or "_count" in low:
            found.extend(_condition_findings(tf, task, key))
    return found


def _condition_findings(tf: TaskFile, task: Task, key: str) -> Iterator[Diagnostic]:
    from tasker.syntax import condition_ast as C  # loaded only when there are conditions

    f = task.fields[key]
    compared = {id(n.right) for n in C.walk(task.conditions[key])
                if isinstance(n, C.Comparison)}
    for node in C.walk(task.conditions[key]):
        if isinstance(node, C.Template) and node.unclosed_quote:
            effect = "the comparison is always false" if id(node) in compared \
                else "it is ignored"
            yield at(tf, f, f"Task {task.id}: {key} has a quote that is never closed; "
                     f"{effect}", _cond_col(f, node.column - 1) - f.column,
                     severity=WARNING, hint="close the quote or remove it")
        elif isinstance(node, C.LineCount) and node.count is None:
            yield at(tf, f, f"Task {task.id}: {node.stream}_count{node.op}{node.written} can "
                     "never be true", _cond_col(f, node.column) - f.column, severity=WARNING,
                     hint=f"count lines with a whole number: {node.stream}_count>2 (operators "
                     "=, !=, <, <=, >, >=)")
        elif isinstance(node, C.ExitTest) and node.code > 255:
            yield at(tf, f, f"Task {task.id}: exit_{node.code} can never be true; exit "
                     "codes are 0-255", _cond_col(f, node.column) - f.column,
                     severity=WARNING)
