"""Fan-out of `hostnames=` parallel blocks into generated sub-tasks (SPEC II.5.4, fix C5).

A block such as

    task=2
    type=parallel
    hostnames=web1,web2,web3
    command=check_health.sh
    arguments=--id @task@

gets one sub-task per host, with the IDs of the original (100000 + 10000 x
block ID + index: 120000, 120001, 120002), `@task@` in the arguments replaced
by the sub-task's ID, and `command`, `exec`, `timeout`, the retry keys and
`failure` copied from the block. Unlike the original, the block's `success=`
and `next=` stay on the block as its aggregate condition; each host is judged
by `exit_0`, or by the block's `host_success=` (ours) when it sets one. The
block then carries a synthetic `tasks=` list of its sub-tasks, so the engine
runs it like any parallel block. Blocks the validator will reject (also with
`tasks=`, too many hosts, IDs already taken) are left alone.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Dict, List, Mapping

from tasker.record import replace
from tasker.syntax.ast import Field, Task

SUBTASK_BASE = 100000
BLOCK_STRIDE = 10000
MAX_HOSTS = 1000
COPIED_FIELDS = ("command", "arguments", "exec", "timeout", "retry_count", "retry_delay",
                 "failure")
TASK_PLACEHOLDER = "@task@"


def host_list(value: str) -> List[str]:
    """The hosts of a `hostnames=` value: comma-separated, trimmed, empty entries dropped."""
    return [h.strip() for h in value.split(",") if h.strip()]


def subtask_id(block_id: int, index: int) -> int:
    """The ID of the `index`-th generated sub-task of block `block_id`."""
    return SUBTASK_BASE + BLOCK_STRIDE * block_id + index


def is_fanout(task: Task) -> bool:
    """A parallel block with `hostnames=` (and, as it should be, no `tasks=`)."""
    return task.has("hostnames") and not task.has("tasks") and task.kind == "parallel"


def _copy(f: Field, key: str, value: str) -> Field:
    """A field of a generated sub-task: the block's position, its own value."""
    return Field(key, f.raw, value, f.line, f.column)


def _subtask(block: Task, sid: int, host: str) -> Task:
    """The sub-task for one host."""
    hosts = block.fields["hostnames"]
    fields: Dict[str, Field] = {
        "task": Field("task", str(sid), str(sid), block.line, 1),
        "hostname": _copy(hosts, "hostname", host),
    }
    conditions = {}
    for key in COPIED_FIELDS:
        f = block.fields.get(key)
        if f is None:
            continue
        if key == "arguments":  # (also in the text as written: the run reads arguments there)
            fields[key] = Field(key, f.raw.replace(TASK_PLACEHOLDER, str(sid)),
                                f.value.replace(TASK_PLACEHOLDER, str(sid)), f.line, f.column)
        else:
            fields[key] = _copy(f, key, f.value)
        if key in block.conditions:
            conditions[key] = block.conditions[key]
    per_host = block.fields.get("host_success")
    if per_host is not None:
        fields["success"] = _copy(per_host, "success", per_host.value)
        if "host_success" in block.conditions:
            conditions["success"] = block.conditions["host_success"]
    return Task(sid, block.line, MappingProxyType(fields), (), MappingProxyType(conditions),
                generated_by=block.id)


def _expand(block: Task, taken: Mapping[int, Task]) -> Dict[int, Task]:
    """The sub-tasks and the rewritten block, or nothing when the block is not expandable."""
    hosts = host_list(block.get("hostnames") or "")
    ids = [subtask_id(block.id, i) for i in range(len(hosts))]
    if not hosts or len(hosts) > MAX_HOSTS or any(sid in taken for sid in ids):
        return {}
    out = {sid: _subtask(block, sid, host) for sid, host in zip(ids, hosts)}
    listed = ",".join(str(sid) for sid in ids)
    hosts_field = block.fields["hostnames"]
    fields = dict(block.fields)
    fields["tasks"] = Field("tasks", listed, listed, hosts_field.line, hosts_field.column)
    out[block.id] = replace(block, fields=MappingProxyType(fields))
    return out


def expand_hostnames(tasks: Mapping[int, Task]) -> Dict[int, Task]:
    """Tasks with every `hostnames=` block fanned out, in ascending ID order.

    `tasks` must be in ascending ID order; without fan-out blocks it is returned as is.
    """
    blocks = [task for task in tasks.values() if "hostnames" in task.fields and is_fanout(task)]
    if not blocks:
        return dict(tasks)
    out = dict(tasks)
    for block in blocks:
        out.update(_expand(block, tasks))
    return dict(sorted(out.items()))
