"""Field rules of the task-file validator (SPEC II.8.1, II.8.2 as I.2 adapts them).

`structure.py` checks required fields and that references exist, `blocks.py`
the nesting and sub-task rules; the field rules check everything else about
the values of single fields and their combinations. This module has ID ranges,
inline comments, integers and ranges, `loop`/`next`/routing rules, splits,
unknown keys and exec types, and sub-task ID ranges, and runs all field rules:
the block and decision field rules are in block_rules.py, the condition rules
(aggregate forms on blocks, lone quotes, `exit_N` > 255) in condition_rules.py,
the helpers they share in fields.py. The gap rule lives with the flow analysis
(flow.py), the globals' usage rules with their security rules (security.py).
Every finding is a located Diagnostic.
"""

from __future__ import annotations

from typing import (
    Callable,
    Dict,
    FrozenSet,
    Iterable,
    Iterator,
    List,
    Optional,
    Sequence,
    Set,
    Tuple,
)

from tasker.exec.exectypes import ArgumentsError, split_arguments
from tasker.record import record
from tasker.syntax.ast import CONDITION_FIELDS, TASK_FIELDS, Field, Task, TaskFile
from tasker.syntax.diagnostics import WARNING, Diagnostic
from tasker.syntax.lines import (
    comment_marks,
    inline_comment,
    inline_comment_message,
    owners_of_matches,
)
from tasker.syntax.numbers import MAX_LOOP, MAX_SLEEP, parse_int, parse_seconds
from tasker.validate.block_rules import RETRY_FIELDS, block_fields
from tasker.validate.condition_rules import AGGREGATE_FORMS, conditions
from tasker.validate.fields import (
    LIST_FIELDS,
    at,
    block_list,
    diag,
    dynamic,
    int_field,
    is_loop_next,
    list_entries,
)
from tasker.validate.security import MAX_ARGUMENTS, globals_rules, is_shell

# Names of the split-off modules stay importable from here, where callers found them.
__all__ = [
    "MAX_ID", "RESERVED_ID", "HIGH_ID", "KNOWN_EXEC", "RETRY_FIELDS", "AGGREGATE_FORMS",
    "LIST_FIELDS", "RuleOptions", "parse_int", "diag", "at", "list_entries",
    "block_list", "id_range", "high_ids", "inline_comments", "numbers", "flow_fields", "splits",
    "block_fields", "conditions", "keys_and_exec", "TASK_RULES", "subtask_ranges", "task_rules",
    "rule_diagnostics",
]

MAX_ID, RESERVED_ID, HIGH_ID = 9999, 100000, 1000
KNOWN_EXEC = ("pbrun", "p7s", "local", "wwrs", "shell", "sh", "bash", "/bin/sh", "/bin/bash",
              "cmd", "ssh")


@record(frozen=True)
class RuleOptions:
    """Switches of the rule checks."""

    skip_subtask_range: bool = False  # --skip-subtask-range-validation
    # exec type names (lower case) that need no warning: built in, plus configured ones
    known_exec: FrozenSet[str] = frozenset(KNOWN_EXEC)


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
        offset = inline_comment(f.raw)
        if offset >= 0:
            message, hint = inline_comment_message(task.id, f.key, f.raw, offset)
            yield at(tf, f, message, offset, hint=hint)


def numbers(tf: TaskFile, task: Task) -> Iterator[Diagnostic]:
    """`return`, `sleep`, `timeout`, `retry_*`, `max_parallel` values and ranges."""
    f = task.fields.get("return")
    if f is not None and not dynamic(f):
        n = parse_int(f.value)
        if n is None:
            yield at(tf, f, f"Task {task.id}: return must be a whole number, not '{f.value}'")
        elif not 0 <= n <= 255:
            yield at(tf, f, f"Task {task.id}: return={n} is outside 0-255; the process exit "
                     f"code becomes {n % 256}", severity=WARNING)
    f = task.fields.get("sleep")
    if f is not None and not dynamic(f):
        seconds = parse_seconds(f.value)
        if seconds is None:
            yield at(tf, f, f"Task {task.id}: sleep must be a number of seconds, not "
                     f"'{f.value}'")
        elif seconds > MAX_SLEEP:
            yield at(tf, f, f"Task {task.id}: sleep={f.value} is longer than the longest "
                     f"sleep, {MAX_SLEEP:,} seconds (about 31 years)")
        elif seconds < 0:
            yield at(tf, f, f"Task {task.id}: negative sleep has no effect", severity=WARNING)
    yield from _timeout(tf, task)
    yield from int_field(tf, task, "retry_count", 1, 1000, 100)
    yield from int_field(tf, task, "retry_delay", 0, None, 300, replaced_by=1)


def _timeout(tf: TaskFile, task: Task) -> Iterator[Diagnostic]:
    f = task.fields.get("timeout")
    if f is None:
        return
    fanout = task.kind == "parallel" and task.has("hostnames")  # copied to every host
    if task.kind == "return":
        yield at(tf, f, f"Task {task.id}: timeout has no effect on a return task")
    elif task.kind != "normal" and not fanout:
        yield at(tf, f, f"Task {task.id}: timeout is not allowed on a {task.kind} block",
                 hint="a decision block runs no command: remove it" if task.kind == "decision"
                 else "set timeout= on the sub-tasks instead")
    elif dynamic(f):
        return
    elif (seconds := parse_int(f.value)) is None:
        yield at(tf, f, f"Task {task.id}: timeout must be a whole number of seconds, not "
                 f"'{f.value}'")
    elif not 5 <= seconds <= 1000:
        yield at(tf, f, f"Task {task.id}: timeout={f.value} is outside 5-1000 and will be "
                 "clamped", severity=WARNING)



def flow_fields(tf: TaskFile, task: Task) -> Iterator[Diagnostic]:
    """`loop`/`next=loop`, `next` with routing, bare-number `next`, forward-only jumps."""
    nxt = task.fields.get("next")
    if task.has("loop"):
        yield from int_field(tf, task, "loop", 1, MAX_LOOP, 100)
        if not is_loop_next(task):
            yield at(tf, task.fields["loop"], f"Task {task.id}: loop requires next=loop",
                     hint="add next=loop to repeat the task")
    elif nxt is not None and is_loop_next(task):
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
        target = None if f is None or dynamic(f) else parse_int(f.value)
        if f is not None and target is not None and target <= task.id:
            how = "points to the task itself" if target == task.id else "jumps backwards"
            yield at(tf, f, f"Task {task.id}: {key}={target} {how}; routing targets must be "
                     "greater than the task's own ID (forward-only rule)",
                     hint="use next=loop with loop=N to repeat a task")
    if task.has("success") and task.has("failure") and task.kind != "decision":
        # (a decision block has its own sentence for this, in blocks.decision_conditions)
        yield at(tf, task.fields["failure"], f"Task {task.id}: success and failure cannot be "
                 "used together", hint="failure=X means the same as success=!(X)")


def splits(tf: TaskFile, task: Task) -> Iterator[Diagnostic]:
    """`stdout_split`/`stderr_split` are `DELIMITER,INDEX`."""
    for key in ("stdout_split", "stderr_split"):
        f = task.fields.get(key)
        if f is None:
            continue
        delim, comma, index = f.value.partition(",")
        position = parse_int(index)
        if f.value.count(",") != 1 or not delim.strip() or position is None:
            yield at(tf, f, f"Task {task.id}: {key} must be DELIMITER,INDEX (one comma, a "
                     f"whole-number index), not '{f.value}'", hint="e.g. space,2 or comma,0")
        elif position < 0:
            yield at(tf, f, f"Task {task.id}: negative {key} index has no effect",
                     len(delim) + 1, severity=WARNING)


def one_edit_apart(a: str, b: str) -> bool:
    """True when one insertion, deletion, substitution or swap of two neighbouring
    characters turns `a` into `b` (Damerau-Levenshtein distance 1): the typos a hint
    can name with confidence."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    start = 0
    while start < min(len(a), len(b)) and a[start] == b[start]:
        start += 1
    a, b = a[start:], b[start:]  # (the common prefix cannot hold the edit)
    if len(a) == len(b):
        return a[1:] == b[1:] or (len(a) >= 2 and a[0] == b[1] and a[1] == b[0]
                                  and a[2:] == b[2:])
    longer, shorter = (a, b) if len(a) > len(b) else (b, a)
    return longer[1:] == shorter


def _similar_keys(key: str) -> List[str]:
    """Task keys that `key` was probably meant to be (for the "did you mean" hint):
    the same key in another case, else the keys one edit away."""
    same = [k for k in TASK_FIELDS if k.lower() == key.lower()]
    if same:
        return same
    return [k for k in sorted(TASK_FIELDS) if one_edit_apart(key, k)]


def keys_and_exec(tf: TaskFile, task: Task) -> Sequence[Diagnostic]:
    """Unknown keys, unbalanced quotes in arguments, spaces in commands, too many fields.

    It runs for every task, so it returns a list (no generator) and looks closer only
    at what can be wrong.
    """
    fields = task.fields
    args, command = fields.get("arguments"), fields.get("command")
    if not task.unknown and len(fields) <= 25 \
            and (args is None or not ('"' in args.value or "'" in args.value
                                      or "\\" in args.value)) \
            and (command is None or " " not in command.value.strip()):
        return ()  # (the commonest answer)
    return list(_keys_and_exec(tf, task))


def _keys_and_exec(tf: TaskFile, task: Task) -> Iterator[Diagnostic]:
    for unknown in task.unknown:
        close = _similar_keys(unknown.key)
        hint = f"did you mean `{close[0]}`?" if close else "keys are case-sensitive"
        yield diag(tf, WARNING, f"Task {task.id} has unknown field '{unknown.key}'; it is "
                   "ignored", unknown.line, _key_column(tf, unknown), hint)
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


def arguments_length(tf: TaskFile, task: Task) -> Sequence[Diagnostic]:
    """II.1.5: arguments longer than the general limit, even without the security checks."""
    f = task.fields["arguments"]
    if len(f.value) <= MAX_ARGUMENTS:
        return ()
    return [at(tf, f, f"Task {task.id}: arguments is {len(f.value)} characters long (at most "
               f"{MAX_ARGUMENTS})", MAX_ARGUMENTS if f.value == f.raw else 0,
               hint="put long input in a file and pass its path")]


def unknown_exec_types(tf: TaskFile, known: FrozenSet[str]) -> Iterator[Diagnostic]:
    """`exec=` values that are neither built in nor configured (any case)."""
    known_values: Set[str] = set()  # values seen to be known, as written (most files use few)
    for task in tf.tasks.values():
        f = task.fields.get("exec")
        if f is None or f.value in known_values or task.generated_by is not None \
                or dynamic(f) or inline_comment(f.raw) >= 0:  # (the comment: its own error)
            continue
        if f.value.strip().lower() in known:
            known_values.add(f.value)
        else:
            extra = sorted(known - set(KNOWN_EXEC))
            listed = ", ".join(KNOWN_EXEC + tuple(extra))
            yield at(tf, f, f"Task {task.id}: unknown exec type '{f.value}'", severity=WARNING,
                     hint=f"known types: {listed} (any case); others must be configured in "
                     "execution_types.yaml")


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
    (arguments_length, frozenset({"arguments"})),
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


Rule = Callable[[TaskFile, Task], Iterable[Diagnostic]]
Plans = Dict[Tuple[str, ...], Tuple[Rule, ...]]


def _rules_for(keys: Tuple[str, ...], plans: Plans) -> Tuple[Rule, ...]:
    """The rules of TASK_RULES that tasks with these keys need, chosen once per key set:
    the tasks of a file come in a few shapes."""
    plan = plans.get(keys)
    if plan is None:
        present = frozenset(keys)
        plan = plans[keys] = tuple(rule for rule, need in TASK_RULES
                                   if need is None or not present.isdisjoint(need))
    return plan


def task_rules(tf: TaskFile, task: Task, commented: bool = True,
               plans: Optional[Plans] = None) -> List[Diagnostic]:
    """Every rule finding of one task; a field with an inline comment is only reported once.

    `commented` False says that no line of the task can hold an inline comment;
    `plans` keeps the rule choice per key set across the tasks of one file.
    """
    found = list(id_range(tf, task)) if not 0 <= task.id <= MAX_ID else []
    for rule in _rules_for(tuple(task.fields), {} if plans is None else plans):
        found.extend(rule(tf, task))
    comments = list(inline_comments(tf, task)) if commented else []
    if comments:
        lines = {d.line for d in comments}
        found = comments + [d for d in found if d.line not in lines]
    return found


def tasks_with_comment_marks(tf: TaskFile) -> Set[int]:
    """IDs of the tasks that may hold an inline comment (one scan of the whole text)."""
    text = tf.text
    if "#" not in text:
        return set()
    starts = sorted((t.line, tid) for tid, t in tf.tasks.items() if t.generated_by is None)
    return owners_of_matches(text, comment_marks(text), starts)


def rule_diagnostics(tf: TaskFile, opts: RuleOptions = RuleOptions()) -> List[Diagnostic]:
    """Every rule error and warning of the file (unsorted)."""
    found: List[Diagnostic] = []
    commented = tasks_with_comment_marks(tf)
    plans: Plans = {}
    for tid, task in tf.tasks.items():
        if task.generated_by is None:
            found.extend(task_rules(tf, task, tid in commented, plans))
    found.extend(high_ids(tf))
    found.extend(unknown_exec_types(tf, opts.known_exec))
    if not opts.skip_subtask_range:
        found.extend(subtask_ranges(tf))
    found.extend(globals_rules(tf))
    return found
