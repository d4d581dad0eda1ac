"""Structural checks every run needs: required fields and references that exist.

This is the part of validation the engines rely on (SPEC II.2.3 required
fields, targets of routing and block lists, `@N_...@` and `@NAME@`
references). The full validator of II.8 builds on it.
"""

from __future__ import annotations

from typing import Iterator, List, Mapping, Optional, Tuple

from tasker.syntax.ast import Field, Task, TaskFile
from tasker.syntax.diagnostics import Diagnostic, error
from tasker.syntax.placeholders import GLOBAL_REF, RESULT_FIELDS, TASK_REF, global_refs, task_refs
from tasker.syntax.taskfile import parse_task_id

ID_LIST_FIELDS = ("tasks", "if_true_tasks", "if_false_tasks")
TARGET_FIELDS = ("on_success", "on_failure")


def _at(tf: TaskFile, f: Field, message: str, offset: int = 0,
        hint: Optional[str] = None) -> Diagnostic:
    return error(message, f.line, f.column + offset, hint, tf.source_line(f.line))


def required_fields(tf: TaskFile, task: Task) -> Iterator[Diagnostic]:
    """II.2.3: what each kind of task must have."""
    where = (task.line, 1)
    src = tf.source_line(task.line)
    kind = task.kind
    if kind == "normal":
        if task.has("type"):
            f = task.fields["type"]
            yield _at(tf, f, f"Task {task.id}: unknown type '{f.value}'",
                      hint="type is parallel, conditional or decision")
            return
        for key in missing_command_fields(task):
            empty = task.fields.get(key)
            if empty is not None:  # written, but empty: reported at its value (II.8.1)
                yield _at(tf, empty, f"Task {task.id}: {key} is empty",
                          hint="hostname=localhost with exec=local for this machine"
                          if key == "hostname" else "name the program to run")
                continue
            yield error(f"Task {task.id} is missing required '{key}' field", *where,
                        hint="a task needs hostname= and command=, a return=, or a type=",
                        source=src)
    elif kind == "conditional":
        for key in ("condition", "if_true_tasks", "if_false_tasks"):
            # Present but empty is reported at the value: by the condition parser, or by
            # the block rules ("lists no tasks").
            if key not in task.fields:
                yield error(f"Task {task.id}: conditional block needs '{key}'", *where,
                            source=src)
    elif kind == "parallel" and not (task.has("tasks") or task.has("hostnames")):
        yield error(f"Task {task.id}: parallel block needs 'tasks' or 'hostnames'", *where,
                    source=src)
    elif kind == "decision" and not (task.has("success") or task.has("failure")):
        yield error(f"Task {task.id}: decision block needs 'success' or 'failure'", *where,
                    source=src)


def missing_command_fields(task: Task) -> List[str]:
    """`hostname`/`command` a command task lacks (empty counts as missing); [] for others.

    A fan-out block's generated sub-tasks are judged by their block, and a task of an
    unknown `type` is reported for its type.
    """
    # (membership tests, not task.kind: this runs for every task while loading, so the
    # commonest case, both fields there, comes first; a task with `type` or `return` is
    # never a "normal" one)
    fields = task.fields
    if _has_host_and_command(fields):
        return []
    if task.generated_by is not None or "type" in fields or "return" in fields:
        return []
    return [key for key in ("hostname", "command") if not (task.get(key) or "").strip()
            and not (key == "hostname" and is_explicitly_local(task))]


def tasks_missing_command_fields(tf: TaskFile) -> Iterator[Tuple[Task, str]]:
    """(task, key) for every field `missing_command_fields` finds, in task order; one
    loop over the tasks, as the CLI checks them all before validating."""
    for task in tf.tasks.values():
        if not _has_host_and_command(task.fields):  # (the commonest case, in one call)
            for key in missing_command_fields(task):
                yield task, key


def _has_host_and_command(fields: Mapping[str, Field]) -> bool:
    """Both `hostname` and `command` written, neither blank: nothing missing there."""
    host, command = fields.get("hostname"), fields.get("command")
    return host is not None and command is not None and bool(host.value.strip()) \
        and bool(command.value.strip())


def is_explicitly_local(task: Task) -> bool:
    """`exec=local` written on a task with a hostname= line, which may then be empty here
    (the security rules report an empty one, II.8.3)."""
    return (task.get("exec") or "").strip().lower() == "local" and task.has("hostname")


def references(tf: TaskFile, task: Task) -> Iterator[Diagnostic]:
    """Routing targets and block lists must name defined tasks."""
    for key in TARGET_FIELDS:
        f = task.fields.get(key)
        if f is None or "@" in f.value:
            continue
        target = parse_task_id(f.value)
        if target is None:
            yield _at(tf, f, f"Task {task.id}: {key} must be a task ID, not '{f.value}'")
            continue
        if target not in tf.tasks:
            yield _at(tf, f, f"Task {task.id}: {key} points to task {target}, which is not "
                      "defined")
    for key in ID_LIST_FIELDS:
        f = task.fields.get(key)
        if f is not None:
            yield from _id_list(tf, task, f)


def _id_list(tf: TaskFile, task: Task, f: Field) -> Iterator[Diagnostic]:
    offset = 0
    for part in f.value.split(","):
        word = part.strip()
        col = offset + (len(part) - len(part.lstrip()))
        offset += len(part) + 1
        if not word:
            continue
        tid = parse_task_id(word)  # as task= lines: `-?[0-9]+` (not "+5", "1_0" or "٣")
        if tid is None:
            yield _at(tf, f, f"Task {task.id}: '{word}' in {f.key} is not a task ID", col)
        elif tid not in tf.tasks:
            yield _at(tf, f, f"Task {task.id}: {f.key} names task {word}, which is not "
                      "defined", col)


def placeholders(tf: TaskFile, task: Task) -> Iterator[Diagnostic]:
    """`@N_field@` must name a defined task, `@NAME@` a defined global."""
    for f in task.fields.values():
        if "@" not in f.raw or _all_defined(tf, f):
            continue
        for tid, name, pos in task_refs(f.raw):
            if tid not in tf.tasks:
                yield _at(tf, f, f"Task {task.id}: @{tid}_{name}@ refers to task {tid}, "
                          "which is not defined", pos)
        for name, pos in global_refs(f.raw):
            if name not in tf.globals and not (name == "task" and f.key == "arguments"):
                yield _at(tf, f, f"Task {task.id}: global variable @{name}@ is not defined",
                          pos, hint="define it before the first task= line, or pass "
                          f"--set {name}=VALUE")


def _all_defined(tf: TaskFile, f: Field) -> bool:
    """True when every reference in `f` names a defined task or global.

    A pre-check with findall (no positions, no generators): almost every field
    passes it, and only those that do not are scanned again for the report.
    """
    for tid, name in TASK_REF.findall(f.raw):
        if int(tid) not in tf.tasks and name.lower() in RESULT_FIELDS:
            return False
    for name in GLOBAL_REF.findall(f.raw):
        if name not in tf.globals and not (name == "task" and f.key == "arguments"):
            return False
    return True


def structural_errors(tf: TaskFile) -> Tuple[List[Diagnostic], List[Diagnostic]]:
    """(missing required fields, dangling references and placeholders), in line order.

    Two lists because the validation summary reports syntax and dependencies apart.
    """
    missing: List[Diagnostic] = []
    dangling: List[Diagnostic] = []
    every_reference_defined = _all_defined_in_text(tf)
    for task in tf.tasks.values():
        if task.generated_by is not None:
            continue  # a fan-out block's sub-task: its fields are the block's, checked there
        if not _plain_command_task(task):
            missing.extend(required_fields(tf, task))
        if not task.fields.keys().isdisjoint(REFERENCE_FIELDS):
            dangling.extend(references(tf, task))
        if not every_reference_defined:
            dangling.extend(placeholders(tf, task))
    return missing, dangling


REFERENCE_FIELDS = frozenset(TARGET_FIELDS + ID_LIST_FIELDS)


def _plain_command_task(task: Task) -> bool:
    """An ordinary task with a hostname and a command: it has what it needs (a shortcut)."""
    fields = task.fields
    return "type" not in fields and "return" not in fields and _has_host_and_command(fields)


def _all_defined_in_text(tf: TaskFile) -> bool:
    """True when every `@N_field@` and `@NAME@` anywhere in the file is defined.

    Then no field can hold an undefined one, and the per-field look is skipped:
    one scan of the text instead of one per field. References can not reach
    across the `=` of a line, so what the text holds, the values hold.
    """
    text = tf.text
    if "@" not in text:
        return True
    for tid in {int(n) for n, name in TASK_REF.findall(text) if name.lower() in RESULT_FIELDS}:
        if tid not in tf.tasks:
            return False
    return set(GLOBAL_REF.findall(text)) <= tf.globals.keys()
