"""Field rules of the task-file validator (SPEC II.8.1, II.8.2 as I.2 adapts them).

`structure.py` checks required fields and that references exist, `blocks.py`
the nesting and sub-task rules; this module checks everything else about the
values of single fields and their combinations: ID ranges, integers and
ranges, `loop`/`next`/routing rules, block-only and decision-only fields,
unknown keys and exec types, conditions (lone quotes, `exit_N` > 255,
aggregate forms on blocks) and sub-task ID ranges. The gap rule lives with the
flow analysis (flow.py), the globals' usage rules with their security rules
(security.py). Every finding is a located Diagnostic.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Iterator, List, Optional, Tuple

from tasker.exec.exectypes import ArgumentsError, split_arguments
from tasker.syntax import condition as C
from tasker.syntax.ast import CONDITION_FIELDS, TASK_FIELDS, Field, Task, TaskFile
from tasker.syntax.diagnostics import ERROR, WARNING, Diagnostic
from tasker.syntax.placeholders import GLOBAL_REF, TASK_REF
from tasker.validate.security import globals_rules, is_shell

MAX_ID, RESERVED_ID, HIGH_ID = 9999, 100000, 1000
KNOWN_EXEC = ("pbrun", "p7s", "local", "wwrs", "shell", "sh", "bash", "/bin/sh", "/bin/bash",
              "cmd", "ssh")
RETRY_FIELDS = ("retry_failed", "retry_count", "retry_delay")
AGGREGATE_FORMS = ("all_success, any_success, majority_success, min_success=N, "
                   "max_success=N, min_failed=N, max_failed=N")
_INLINE_COMMENT = re.compile(r"\s(#)\s*\S")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)\Z")
_INT = re.compile(r"[+-]?[0-9]+\Z")  # ASCII digits only: int() also takes "1_0" and "٣"
LIST_FIELDS = ("tasks", "if_true_tasks", "if_false_tasks")


@dataclass(frozen=True)
class RuleOptions:
    """Switches of the rule checks."""

    skip_subtask_range: bool = False  # --skip-subtask-range-validation


def parse_int(text: str) -> Optional[int]:
    """The decimal integer `text` denotes (blanks around allowed), else None."""
    text = text.strip()
    return int(text) if _INT.match(text) else None


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


def _dynamic(f: Field) -> bool:
    """A value still holding `@...@` placeholders is resolved at run time (fix C19)."""
    return "@" in f.value and bool(TASK_REF.search(f.value) or GLOBAL_REF.search(f.value))


def _int_field(tf: TaskFile, task: Task, key: str, lo: int, hi: int,
               warn_above: Optional[int] = None) -> Iterator[Diagnostic]:
    """An integer field within [lo, hi] (error), warning above `warn_above`."""
    f = task.fields.get(key)
    if f is None or _dynamic(f):
        return
    n = parse_int(f.value)
    if n is None:
        yield at(tf, f, f"Task {task.id}: {key} must be a whole number, not '{f.value}'")
    elif not lo <= n <= hi:
        yield at(tf, f, f"Task {task.id}: {key}={n} is out of range ({lo}-{hi})")
    elif warn_above is not None and n > warn_above:
        yield at(tf, f, f"Task {task.id}: {key}={n} is unusually high (above {warn_above})",
                 severity=WARNING)


def id_range(tf: TaskFile, task: Task) -> Iterator[Diagnostic]:
    """Usable IDs are 0-9999; 100000 and up are reserved; 1000 and up draw a warning."""
    f = task.fields["task"]
    if task.id < 0:
        yield at(tf, f, f"Task {task.id}: task IDs cannot be negative", hint="use 0-9999")
    elif task.id >= RESERVED_ID:
        yield at(tf, f, f"Task {task.id}: IDs from {RESERVED_ID} up are reserved for the "
                 "generated sub-tasks of hostnames= blocks", hint="use 0-9999")
    elif task.id > MAX_ID:
        yield at(tf, f, f"Task {task.id}: task ID exceeds the maximum ({MAX_ID})")


def high_ids(tf: TaskFile) -> Iterator[Diagnostic]:
    """IDs from 1000 up draw one warning, at the first of them (not one per task)."""
    high = [t for t in tf.tasks.values() if HIGH_ID <= t.id <= MAX_ID and t.generated_by is None]
    if high:
        more = f" (and {len(high) - 1} more task(s) up to {high[-1].id})" if len(high) > 1 else ""
        yield at(tf, high[0].fields["task"], f"Task {high[0].id}: high task ID (1000 or more)"
                 f"{more}", severity=WARNING, hint="IDs 0-999 keep logs and sub-task ranges "
                 "readable")


def inline_comments(tf: TaskFile, task: Task) -> Iterator[Diagnostic]:
    """`timeout=30   # two minutes` is an error; `arguments=a#b` is data."""
    for f in task.fields.values():
        m = _INLINE_COMMENT.search(f.raw) if "#" in f.raw else None
        if m:
            yield at(tf, f, f"Task {task.id}: {f.key} contains an inline comment "
                     f"('{f.raw[m.start(1):]}'); comments must be on a line of their own",
                     m.start(1), hint="move the comment to its own line starting with '#'")


def numbers(tf: TaskFile, task: Task) -> Iterator[Diagnostic]:
    """`return`, `sleep`, `timeout`, `retry_*`, `max_parallel` values and ranges."""
    f = task.fields.get("return")
    if f is not None and not _dynamic(f):
        n = parse_int(f.value)
        if n is None:
            yield at(tf, f, f"Task {task.id}: return must be a whole number, not '{f.value}'")
        elif not 0 <= n <= 255:
            yield at(tf, f, f"Task {task.id}: return={n} is outside 0-255; the process exit "
                     f"code becomes {n % 256}", severity=WARNING)
    f = task.fields.get("sleep")
    if f is not None and not _dynamic(f):
        if not _NUMBER.match(f.value):
            yield at(tf, f, f"Task {task.id}: sleep must be a number of seconds, not "
                     f"'{f.value}'")
        elif f.value.startswith("-"):
            yield at(tf, f, f"Task {task.id}: negative sleep has no effect", severity=WARNING)
    yield from _timeout(tf, task)
    yield from _int_field(tf, task, "retry_count", 1, 1000, 100)
    yield from _int_field(tf, task, "retry_delay", 0, 10 ** 9, 300)


def _timeout(tf: TaskFile, task: Task) -> Iterator[Diagnostic]:
    f = task.fields.get("timeout")
    if f is None:
        return
    fanout = task.kind == "parallel" and task.has("hostnames")  # copied to every host
    if task.kind == "return":
        yield at(tf, f, f"Task {task.id}: timeout has no effect on a return task")
    elif task.kind != "normal" and not fanout:
        yield at(tf, f, f"Task {task.id}: timeout is not allowed on a {task.kind} block",
                 hint="set timeout= on the sub-tasks instead")
    elif _dynamic(f):
        return
    elif parse_int(f.value) is None:
        yield at(tf, f, f"Task {task.id}: timeout must be a whole number of seconds, not "
                 f"'{f.value}'")
    elif not 5 <= parse_int(f.value) <= 1000:
        yield at(tf, f, f"Task {task.id}: timeout={f.value} is outside 5-1000 and will be "
                 "clamped", severity=WARNING)


def _is_loop_next(task: Task) -> bool:
    low = (task.get("next") or "").strip().lower()
    return low == "loop" or low.startswith("loop&")


def flow_fields(tf: TaskFile, task: Task) -> Iterator[Diagnostic]:
    """`loop`/`next=loop`, `next` with routing, bare-number `next`, forward-only jumps."""
    nxt = task.fields.get("next")
    if task.has("loop"):
        yield from _int_field(tf, task, "loop", 1, 1000, 100)
        if not _is_loop_next(task):
            yield at(tf, task.fields["loop"], f"Task {task.id}: loop requires next=loop",
                     hint="add next=loop to repeat the task")
    elif nxt is not None and _is_loop_next(task):
        yield at(tf, nxt, f"Task {task.id}: next=loop requires loop=N", hint="add loop=N")
    if task.has("loop_break") and not task.has("loop"):
        yield at(tf, task.fields["loop_break"], f"Task {task.id}: loop_break has no effect "
                 "without loop=N and next=loop", severity=WARNING)
    if nxt is not None:
        if parse_int(nxt.value) is not None:
            yield at(tf, nxt, f"Task {task.id}: next={nxt.value}: direct task jumping is not "
                     "supported", hint="use on_success= or on_failure= to jump")
        routed = [k for k in ("on_success", "on_failure") if task.has(k)]
        if routed:
            yield at(tf, nxt, f"Task {task.id}: next cannot be combined with "
                     f"{' and '.join(routed)}", hint="use either next= or on_success=/"
                     "on_failure=")
        if task.kind in ("parallel", "conditional") and nxt.value.lower() == "success":
            yield at(tf, nxt, f"Task {task.id}: next=success on a block is treated as "
                     "all_success", severity=WARNING, hint="write next=all_success")
    for key in ("on_success", "on_failure"):
        f = task.fields.get(key)
        target = None if f is None or _dynamic(f) else parse_int(f.value)
        if target is not None and target <= task.id:
            how = "points to the task itself" if target == task.id else "jumps backwards"
            yield at(tf, f, f"Task {task.id}: {key}={target} {how}; routing targets must be "
                     "greater than the task's own ID (forward-only rule)",
                     hint="use next=loop with loop=N to repeat a task")
    if task.has("success") and task.has("failure"):
        yield at(tf, task.fields["failure"], f"Task {task.id}: success and failure cannot be "
                 "used together", hint="failure=X means the same as success=!(X)")


def splits(tf: TaskFile, task: Task) -> Iterator[Diagnostic]:
    """`stdout_split`/`stderr_split` are `DELIMITER,INDEX`."""
    for key in ("stdout_split", "stderr_split"):
        f = task.fields.get(key)
        if f is None:
            continue
        delim, comma, index = f.value.partition(",")
        if f.value.count(",") != 1 or not delim.strip() or parse_int(index) is None:
            yield at(tf, f, f"Task {task.id}: {key} must be DELIMITER,INDEX (one comma, a "
                     f"whole-number index), not '{f.value}'", hint="e.g. space,2 or comma,0")
        elif parse_int(index) < 0:
            yield at(tf, f, f"Task {task.id}: negative {key} index has no effect",
                     len(delim) + 1, severity=WARNING)


def block_fields(tf: TaskFile, task: Task) -> Iterator[Diagnostic]:
    """Fields that blocks forbid or ignore, and what only blocks may use."""
    kind = task.kind
    if kind in ("parallel", "conditional"):
        f = task.fields.get("failure")
        if f is not None and not (kind == "parallel" and task.has("hostnames")):
            yield at(tf, f, f"Task {task.id}: failure is not allowed on a {kind} block",
                     hint=f"use success= with one of {AGGREGATE_FORMS}")
        yield from _aggregates(tf, task)
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
    if f is None or _dynamic(f):
        return
    n = parse_int(f.value)
    count = len(block_list(task, "tasks"))
    if n is None or n < 1:
        yield at(tf, f, f"Task {task.id}: max_parallel must be a whole number of at least 1, "
                 f"not '{f.value}'")
    elif n > 20:
        yield at(tf, f, f"Task {task.id}: max_parallel={n} is above 20", severity=WARNING)
    elif count and n > count:
        yield at(tf, f, f"Task {task.id}: max_parallel={n} is more than the {count} sub-tasks",
                 severity=WARNING)


def _aggregates(tf: TaskFile, task: Task) -> Iterator[Diagnostic]:
    """A block's `success=`/`next=` must be built from the aggregate forms of II.5.3."""
    total = sum(len(block_list(task, k)) for k in LIST_FIELDS)
    for key in ("success", "next"):
        expr, f = task.conditions.get(key), task.fields.get(key)
        if expr is None or f is None or (key == "next" and (
                _is_loop_next(task) or f.value.strip().lower() == "success")):
            continue  # `next=loop&COND` is a loop test; `next=success` warned about above
        for node in C.walk(expr):
            col = _cond_col(f, node.column)
            if isinstance(node, C.MultiTask):
                yield from _aggregate_count(tf, task, f, node, col, total)
            elif not isinstance(node, (C.Or, C.And, C.Not, C.MultiTask)):
                yield at(tf, f, f"Task {task.id}: {key}={f.value} is not an aggregate "
                         f"condition; a {task.kind} block's {key} is one of {AGGREGATE_FORMS}",
                         col - f.column, hint="sub-tasks are judged by their own success=")
                break


def _aggregate_count(tf: TaskFile, task: Task, f: Field, node: C.MultiTask, col: int,
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


def conditions(tf: TaskFile, task: Task) -> Iterator[Diagnostic]:
    """Lone leading quotes in patterns and `exit_N` above 255 (warnings)."""
    for key, expr in task.conditions.items():
        f = task.fields[key]
        low = f.value.lower()
        if '"' not in low and "'" not in low and "exit_" not in low:
            continue  # neither a quote nor an exit test: nothing to look for (speed)
        for node in C.walk(expr):
            if isinstance(node, C.Template) and node.unclosed_quote:
                yield at(tf, f, f"Task {task.id}: {key} has a quote that is never closed; it "
                         "is ignored", _cond_col(f, node.column - 1) - f.column,
                         severity=WARNING, hint="close the quote or remove it")
            elif isinstance(node, C.ExitTest) and node.code > 255:
                yield at(tf, f, f"Task {task.id}: exit_{node.code} can never be true; exit "
                         "codes are 0-255", _cond_col(f, node.column) - f.column,
                         severity=WARNING)


def keys_and_exec(tf: TaskFile, task: Task) -> Iterator[Diagnostic]:
    """Unknown keys, unknown exec types, spaces in commands, too many fields."""
    for f in task.unknown:
        close = [k for k in TASK_FIELDS if k.lower() == f.key.lower()] or \
            difflib.get_close_matches(f.key, sorted(TASK_FIELDS), n=1, cutoff=0.6)
        hint = f"did you mean `{close[0]}`?" if close else "keys are case-sensitive"
        yield diag(tf, WARNING, f"Task {task.id} has unknown field '{f.key}'; it is ignored",
                   f.line, _key_column(tf, f), hint)
    f = task.fields.get("exec")
    if f is not None and not _dynamic(f) and f.value.strip().lower() not in KNOWN_EXEC:
        yield at(tf, f, f"Task {task.id}: unknown exec type '{f.value}'", severity=WARNING,
                 hint=f"known types: {', '.join(KNOWN_EXEC)} (any case); others must be "
                 "configured in execution_types.yaml")
    f = task.fields.get("arguments")
    if f is not None and ('"' in f.value or "'" in f.value or "\\" in f.value) \
            and not is_shell(task):
        try:
            split_arguments(f.value)
        except ArgumentsError as exc:  # C21: a located error, never a traceback at run time
            yield at(tf, f, f"Task {task.id}: arguments: {exc.message}",
                     exc.column - 1 if f.value == f.raw else 0,
                     hint="close the quote, or escape it with a backslash")
    f = task.fields.get("command")
    if f is not None and " " in f.value.strip() and not is_shell(task):
        yield at(tf, f, f"Task {task.id}: command '{f.value}' contains a space; it is run as "
                 "one program name", f.value.find(" ") if f.value == f.raw else 0,
                 severity=WARNING, hint="put the options in arguments=, or use exec=shell "
                 "for pipes")
    if len(task.fields) + len(task.unknown) > 25:
        yield at(tf, task.fields["task"], f"Task {task.id} has more than 25 fields",
                 severity=WARNING)


def _key_column(tf: TaskFile, f: Field) -> int:
    """The column of the key of field `f` (first non-blank of its line)."""
    text = tf.source_line(f.line) or ""
    return len(text) - len(text.lstrip()) + 1


# Each rule with the keys that can make it report (None: always run). Skipping rules a
# task gives no reason to run keeps validation of large files fast.
TASK_RULES = (
    (numbers, frozenset({"return", "sleep", "timeout", "retry_count", "retry_delay"})),
    (flow_fields, frozenset({"loop", "next", "loop_break", "on_success", "on_failure",
                             "failure"})),
    (splits, frozenset({"stdout_split", "stderr_split"})),
    (block_fields, frozenset({"type", "max_parallel"}) | frozenset(RETRY_FIELDS)),
    (conditions, frozenset(CONDITION_FIELDS)),
    (keys_and_exec, None),
)


def subtask_ranges(tf: TaskFile) -> Iterator[Diagnostic]:
    """Sub-tasks of block P (P <= 9) are recommended to be P*100 .. P*100+99."""
    for task in tf.tasks.values():
        if not 0 <= task.id <= 9 or task.kind not in ("parallel", "conditional"):
            continue
        lo = task.id * 100
        for key in LIST_FIELDS:
            f = task.fields.get(key)
            if f is None or task.has("hostnames"):
                continue
            for tid, offset in list_entries(f):
                if not lo <= tid <= lo + 99:
                    yield at(tf, f, f"Task {task.id}: sub-task {tid} is outside the "
                             f"recommended range {lo}-{lo + 99} for block {task.id}", offset,
                             severity=WARNING, hint="--skip-subtask-range-validation "
                             "silences this")


def task_rules(tf: TaskFile, task: Task) -> List[Diagnostic]:
    """Every rule finding of one task; a field with an inline comment is only reported once."""
    found = list(id_range(tf, task)) if not 0 <= task.id <= MAX_ID else []
    present = task.fields.keys()
    for rule, keys in TASK_RULES:
        if keys is None or not present.isdisjoint(keys):
            found.extend(rule(tf, task))
    comments = list(inline_comments(tf, task))
    if comments:
        lines = {d.line for d in comments}
        found = comments + [d for d in found if d.line not in lines]
    return found


def rule_diagnostics(tf: TaskFile, opts: RuleOptions = RuleOptions()) -> List[Diagnostic]:
    """Every rule error and warning of the file (unsorted)."""
    found: List[Diagnostic] = []
    for task in tf.tasks.values():
        if task.generated_by is None:
            found.extend(task_rules(tf, task))
    found.extend(high_ids(tf))
    if not opts.skip_subtask_range:
        found.extend(subtask_ranges(tf))
    found.extend(globals_rules(tf))
    return found
