"""Resuming a run from its state file: `--start-from N` and `--auto-recovery` (SPEC I.4, II.9.1).

`--start-from N` brings back the results of the previous run of the same file
so `@K_stdout@` of earlier tasks resolve; `--auto-recovery` also picks the
task to resume at (the failed task, or the one the run was about to start).
A task file changed since the state was saved is refused unless `--force`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Mapping, Optional

from tasker.engine.errors import FatalRunError
from tasker.report.statefile import StateError, load_state, results_from_state
from tasker.results import TaskResult
from tasker.syntax.ast import TaskFile

EXIT_STATE = 12


def read_state(path: Path) -> Optional[dict]:
    """The saved state, None when there is none; FatalRunError (12) when unusable."""
    try:
        return load_state(path)
    except StateError as exc:
        raise FatalRunError(f"state file cannot be used: {exc.message}", EXIT_STATE) from None


def check_same_file(state: dict, file_sha256: str, force: bool) -> None:
    """Refuse a state saved for another version of the task file, unless forced."""
    if state.get("file_hash") != file_sha256 and not force:
        raise FatalRunError("the task file changed since its state was saved; "
                            "use --force to resume anyway", EXIT_STATE)


def resume_task(state: dict, tasks: Mapping[int, object]) -> Optional[int]:
    """Where an interrupted or failed run should go on: the next task its state records
    (the engine chose it: see sequential.resume_point), else last + 1.

    None for a run that completed, or had nothing left: start afresh.
    """
    if state.get("completed"):
        return None
    nxt = state.get("next_task")
    if isinstance(nxt, int) and nxt in tasks:
        return nxt
    if "next_task" in state and nxt is None:
        return None  # the run had nothing left (it ended well while being interrupted)
    current = state.get("current_task")
    if isinstance(current, int) and current in tasks:
        return current
    last = state.get("last_task")
    if isinstance(last, int):
        later = [tid for tid in tasks if tid > last]
        return min(later) if later else None
    return None


def restored_results(state: dict) -> Dict[int, TaskResult]:
    """Results of the saved run, FatalRunError (12) when malformed."""
    try:
        return results_from_state(state)
    except StateError as exc:
        raise FatalRunError(exc.message, EXIT_STATE) from None


def before_start(results: Mapping[int, TaskResult], taskfile: TaskFile,
                 start: int) -> Dict[int, TaskResult]:
    """The results of tasks before `start`: lower IDs, and the sub-tasks of blocks with
    lower IDs. The task resumed at and the ones after it start afresh, so none of
    them sees a value from the run being resumed (I.4, II.9.1)."""
    from tasker.validate.fields import LIST_FIELDS, block_list

    earlier_subs = set()
    for tid, task in taskfile.tasks.items():
        if task.generated_by is not None and task.generated_by < start:
            earlier_subs.add(tid)
        elif tid < start and "type" in task.fields:
            for key in LIST_FIELDS:
                earlier_subs.update(block_list(task, key))
    return {tid: r for tid, r in results.items() if tid < start or tid in earlier_subs}


def backward_dependencies(taskfile: TaskFile, start: int,
                          restored: Mapping[int, TaskResult]) -> List[str]:
    """Reads, in the resumed part of the workflow, of earlier tasks that never ran.

    Task start and later run again; a `@K_...@` of an earlier task K with no saved
    result could only stay unresolved, so auto-recovery refuses such a resume point
    (II.9.1, exit 12). Each problem as "task R reads @K_field@".
    """
    from tasker.syntax.placeholders import TASK_REF

    found = []
    for tid in sorted(taskfile.tasks):
        task = taskfile.tasks[tid]
        if tid < start or task.generated_by is not None:
            continue
        for f in task.fields.values():
            for n, name in TASK_REF.findall(f.value) if "@" in f.value else ():
                k = int(n)
                if k < start and k in taskfile.tasks and k not in restored:
                    found.append(f"task {tid} reads @{k}_{name}@ ({f.key})")
    return found


def changed_environment(state: dict, taskfile: TaskFile, mask) -> List[str]:
    """Globals taken from the environment (`$VAR`) whose value differs from the saved
    run's, or whose variable is now unset: one sentence each (II.9.1).

    The state holds masked values, so a changed secret cannot be told apart.
    """
    saved = state.get("globals") or {}
    found = []
    for name, g in sorted(taskfile.globals.items()):
        if "$" not in g.template or name not in saved:
            continue
        if g.unset_env:
            found.append(f"global {name}: ${', $'.join(g.unset_env)} is no longer set")
        elif mask(g.value) != saved[name]:
            found.append(f"global {name} was '{saved[name]}' and is now '{mask(g.value)}'")
    return found


def describe(state: dict, path: Path) -> str:
    """`--show-recovery-info` text."""
    results = state.get("task_results", {})
    ok = sorted(int(k) for k, v in results.items() if v.get("success"))
    failure = state.get("failure") or {}
    lines = [f"Recovery state: {path}",
             f"  task file hash: {state.get('file_hash', '')[:16]}",
             f"  results saved:  {len(results)} (successful: {ok})",
             f"  last task:      {state.get('last_task')}",
             f"  resume at:      {state.get('next_task')}"]
    if failure:
        lines.append(f"  failure:        task {failure.get('task_id')}, exit "
                     f"{failure.get('exit_code')}: {failure.get('error')}")
    return "\n".join(lines)
