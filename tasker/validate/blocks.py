"""Structural rules of blocks (SPEC II.2.2, II.5, II.8.1): what the engines rely on.

- a block list (`tasks`, `if_true_tasks`, `if_false_tasks`) names neither
  the block itself nor another block: blocks do not nest;
- a sub-task has no `loop`, `loop_break`, `next`, `on_success` or `on_failure`
  (it never routes or loops; the block does);
- a `hostnames=` block is a parallel block without `tasks=`, with 2 to 1000
  valid host names and a `command`;
- `host_success=` only means something on a `hostnames=` block;
- a decision block has `success=` or `failure=`, not both.

Keys that blocks forbid or ignore (`timeout`, `failure`, `command` on a
decision ...), aggregate `success=`/`next=` forms and the reserved ID range are
checked with the other field rules (tasker.validate.block_rules and
tasker.validate.condition_rules, run by tasker.validate.rules).

`block_errors` returns located diagnostics; it never raises.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Iterator, List, Optional, Set, Tuple

from tasker.syntax.ast import Field, Task, TaskFile
from tasker.syntax.diagnostics import Diagnostic, error
from tasker.syntax.fanout import MAX_HOSTS, host_list
from tasker.syntax.hostspec import HostSpecError, parse_host_spec
from tasker.syntax.taskfile import parse_task_id

LIST_FIELDS = ("tasks", "if_true_tasks", "if_false_tasks")
SUBTASK_FORBIDDEN = ("loop", "loop_break", "next", "on_success", "on_failure")  # II.8.1
BLOCK_KINDS = ("parallel", "conditional", "decision")
_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)\Z")
_IPV4 = re.compile(r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}"
                   r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\Z")


def _at(tf: TaskFile, f: Field, message: str, offset: int = 0,
        hint: Optional[str] = None) -> Diagnostic:
    return error(message, f.line, f.column + offset, hint, tf.source_line(f.line))


def valid_host(name: str) -> bool:
    """An RFC 1123 host name (at most 253 characters), a dotted IPv4 or an IPv6 address.

    A dotted name of digits only is meant as an IPv4 address (RFC 1123, 2.1), so
    `10.0.0.256` and `1.2.3` are typing slips, not host names.
    """
    if _IPV4.match(name):
        return True
    if ":" in name:
        return _is_ipv6(name)
    labels = name[:-1].split(".") if name.endswith(".") else name.split(".")
    if all(label.isdigit() for label in labels):
        return False
    return len(name) <= 253 and all(_LABEL.match(label) for label in labels)


def host_entry_problem(entry: str) -> Optional[str]:
    """Why one host of a `hostnames=` list is not `[user@]host[:port]`, or None."""
    try:
        spec = parse_host_spec(entry)
    except HostSpecError as exc:
        return str(exc)
    if not valid_host(spec.host):
        return (f"'{entry}' is not a valid host: '{spec.host}' is not a host name, IPv4 or "
                "IPv6 address")
    return None


def _is_ipv6(text: str) -> bool:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0]).version == 6  # zone: fe80::1%eth0
    except ValueError:
        return False


def _entries(f: Field) -> Iterator[Tuple[str, int]]:
    """(entry, 0-based offset in the value) for each non-empty comma-separated entry."""
    offset = 0
    for part in f.value.split(","):
        word = part.strip()
        if word:
            yield word, offset + len(part) - len(part.lstrip())
        offset += len(part) + 1


def _is_generated_list(tf: TaskFile, task: Task, key: str) -> bool:
    """The synthetic `tasks=` list of a fanned-out `hostnames=` block."""
    return key == "tasks" and task.has("hostnames") and any(
        t.generated_by == task.id for t in tf.tasks.values())


def list_errors(tf: TaskFile, block: Task, reported: Set[Tuple[int, str]]) -> Iterator[Diagnostic]:
    """Self-reference, nested blocks and routing keys in the tasks a block list names."""
    for key in LIST_FIELDS:
        f = block.fields.get(key)
        if f is None or _is_generated_list(tf, block, key):
            continue
        if not any(True for _ in _entries(f)):
            yield _at(tf, f, f"Task {block.id}: {key}= lists no tasks",
                      hint=f"{key}=10,11,12 (comma-separated task IDs)")
        for word, offset in _entries(f):
            tid = parse_task_id(word)
            sub = tf.tasks.get(tid) if tid is not None else None
            if sub is None:
                continue  # not an ID or not defined: the reference check reports it
            if sub.id == block.id:
                yield _at(tf, f, f"Task {block.id}: {key} names the block itself", offset,
                          "a block lists other tasks as its sub-tasks")
            elif sub.kind in BLOCK_KINDS:
                yield _at(tf, f, f"Task {block.id}: {key} names task {sub.id}, which is a "
                          f"{sub.kind} block; blocks cannot be nested", offset,
                          "list ordinary tasks only, or run the inner block sequentially")
            else:
                yield from _routing_in_subtask(tf, block, sub, reported)


def _routing_in_subtask(tf: TaskFile, block: Task, sub: Task,
                        reported: Set[Tuple[int, str]]) -> Iterator[Diagnostic]:
    for key in SUBTASK_FORBIDDEN:
        f = sub.fields.get(key)
        if f is None or (sub.id, key) in reported:
            continue
        reported.add((sub.id, key))
        yield _at(tf, f, f"Task {sub.id} is a sub-task of block {block.id} and cannot have "
                  f"'{key}'", hint="sub-tasks do not route or loop; put routing on the block "
                  "(success=, on_success=, on_failure=)")


def hostnames_errors(tf: TaskFile, block: Task) -> Iterator[Diagnostic]:
    """The rules of a `hostnames=` block (II.2.2, II.5.4)."""
    f = block.fields["hostnames"]
    if block.kind != "parallel":
        yield _at(tf, f, f"Task {block.id}: hostnames= is only valid on a parallel block",
                  hint="add type=parallel, or use hostname= for a single host")
        return
    if block.has("tasks") and not _is_generated_list(tf, block, "tasks"):
        yield _at(tf, block.fields["tasks"], f"Task {block.id}: tasks= and hostnames= cannot "
                  "be used together", hint="a parallel block either lists its sub-tasks or "
                  "fans one command out over hosts")
    hosts = host_list(f.value)
    if not 2 <= len(hosts) <= MAX_HOSTS:
        yield _at(tf, f, f"Task {block.id}: hostnames= needs 2 to {MAX_HOSTS} hosts, "
                  f"found {len(hosts)}", hint="for a single host use an ordinary task "
                  "with hostname=")
    for entry, offset in _entries(f):
        problem = host_entry_problem(entry)
        if problem is not None:
            yield _at(tf, f, f"Task {block.id}: {problem}", offset,
                      hint="write host, user@host, host:port or [IPv6]:port")
    if not (block.get("command") or "").strip():
        yield error(f"Task {block.id}: a hostnames= block needs a command", block.line, 1,
                    "command= (and arguments=, exec=) are run on every host",
                    tf.source_line(block.line))


def decision_conditions(tf: TaskFile, block: Task) -> Iterator[Diagnostic]:
    """A decision takes success= or failure= (inverted), never both."""
    if block.kind == "decision" and block.has("success") and block.has("failure"):
        yield _at(tf, block.fields["failure"], f"Task {block.id}: a decision block takes "
                  "either success= or failure=, not both")


def block_errors(tf: TaskFile) -> List[Diagnostic]:
    """Every block rule broken in the file, in task order."""
    found: List[Diagnostic] = []
    reported: Set[Tuple[int, str]] = set()  # (sub-task, key): report each key once
    for task in tf.tasks.values():
        if task.generated_by is not None:
            continue
        found.extend(decision_conditions(tf, task))
        if task.kind in ("parallel", "conditional"):
            found.extend(list_errors(tf, task, reported))
        if task.has("hostnames"):
            found.extend(hostnames_errors(tf, task))
        elif task.has("host_success"):
            found.append(_at(tf, task.fields["host_success"], f"Task {task.id}: host_success= "
                             "only applies to a hostnames= block"))
    return found

