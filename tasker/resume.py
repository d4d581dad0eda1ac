"""Resuming a run from its state file: `--start-from N` and `--auto-recovery` (SPEC I.4, II.9.1).

`--start-from N` brings back the results of the previous run of the same file
and globals so `@K_stdout@` of earlier tasks resolve; `--auto-recovery` also
picks the task to resume at (the failed task, or the one the run was about to
start), and when the globals have no state of their own it offers the most
recent state of the same file (I.4a). A task file changed since the state was
saved is refused unless `--force`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Tuple

from tasker.engine.errors import FatalRunError
from tasker.report.paths import legacy_state_file_name, state_file_stem
from tasker.report.statefile import (
    StateError,
    in_use,
    load_state,
    read_header,
    results_from_state,
)
from tasker.results import TaskResult
from tasker.syntax.ast import TaskFile

EXIT_STATE = 12
State = Dict[str, Any]  # a state file's content, as read (tasker/report/statefile.py)


def read_state(path: Path) -> Optional[State]:
    """The saved state, None when there is none; FatalRunError (12) when unusable."""
    try:
        return load_state(path)
    except StateError as exc:
        raise FatalRunError(f"state file cannot be used: {exc.message}", EXIT_STATE) from None


def states_of_file(recovery_dir: Path, task_file: Path) -> List[Path]:
    """Every state file of `task_file` (any globals), most recently written first: those
    whose header names its absolute path, and one with the previous version's name."""
    import glob  # (only a fallback search needs it; every real run imports this module)

    absolute = os.path.abspath(str(task_file))
    pattern = f"{glob.escape(state_file_stem(task_file))}_????????.recovery.json"
    found = [Path(p) for p in glob.glob(os.path.join(glob.escape(str(recovery_dir)), pattern))
             if (read_header(Path(p)) or {}).get("task_file") == absolute]
    legacy = Path(recovery_dir) / legacy_state_file_name(task_file)
    if legacy not in found and _is_file(legacy):
        found.append(legacy)
    return sorted(found, key=_written, reverse=True)


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # (a name too long for the filesystem: the previous version's,
        return False  # which could not have been written either)


def _written(path: Path) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0


def latest_other_state(recovery_dir: Path, task_file: Path,
                       own: Path) -> Optional[Tuple[Path, State]]:
    """The most recent state of the same task file under other globals that has
    something to resume and is not being written by a run in progress (for
    `--auto-recovery` when the current globals have none); FatalRunError (12) when
    the most recent one is unusable."""
    for path in states_of_file(recovery_dir, task_file):
        if path == own or in_use(path):  # (a run still writing it: it is not left behind)
            continue
        state = read_state(path)
        if state is not None and not state.get("completed"):
            return path, state
    return None


def check_same_file(state: State, file_sha256: str, force: bool) -> None:
    """Refuse a state saved for another version of the task file, unless forced."""
    if state.get("file_hash") != file_sha256 and not force:
        raise FatalRunError("the task file changed since its state was saved; "
                            "use --force to resume anyway", EXIT_STATE)


def resume_task(state: State, tasks: Mapping[int, object]) -> Optional[int]:
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


def restored_results(state: State) -> Dict[int, TaskResult]:
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


def changed_globals(state: State, taskfile: TaskFile,
                    mask: Callable[[str], str]) -> List[str]:
    """Globals whose value differs from the saved run's (taken from the environment and
    now unset, changed, added or gone): one sentence each (II.9.1, I.4a).

    The state holds masked values, so a changed secret cannot be told apart.
    """
    saved = state.get("globals")
    saved = saved if isinstance(saved, dict) else {}
    found = []
    for name in sorted(set(saved) | set(taskfile.globals)):
        g = taskfile.globals.get(name)
        now = None if g is None else mask(g.value)
        if now == saved.get(name):
            continue
        if g is not None and g.unset_env and "$" in g.template:
            found.append(f"global {name}: ${', $'.join(g.unset_env)} is no longer set")
        elif g is None:
            found.append(f"global {name} was '{saved[name]}' and is no longer defined")
        elif name not in saved:
            found.append(f"global {name} was not defined and is now '{now}'")
        else:
            found.append(f"global {name} was '{saved[name]}' and is now '{now}'")
    return found


def describe(state: State, path: Path) -> str:
    """`--show-recovery-info` text."""
    results = state.get("task_results", {})
    ok = sorted(int(k) for k, v in results.items() if v.get("success"))
    failure = state.get("failure") or {}
    values = ", ".join(f"{k}={v}" for k, v in sorted(state.get("globals", {}).items()))
    lines = [f"Recovery state: {path}",
             f"  task file hash: {state.get('file_hash', '')[:16]}",
             f"  globals:        {values or '(none)'}",
             f"  results saved:  {len(results)} (successful: {ok})",
             f"  last task:      {state.get('last_task')}",
             f"  resume at:      {state.get('next_task')}"]
    if state.get("completed"):
        lines.append("  completed:      yes (nothing to resume)")
    if failure:
        lines.append(f"  failure:        task {failure.get('task_id')}, exit "
                     f"{failure.get('exit_code')}: {failure.get('error')}")
    return "\n".join(lines)


def recovery_info(recovery_dir: Path, task_file: Path) -> Iterator[str]:
    """`--show-recovery-info`: the description of every state of `task_file` (one per
    set of globals), most recent first; FatalRunError (12) at the first unusable one."""
    for path in states_of_file(recovery_dir, task_file):
        state = read_state(path)
        if state is None:  # (removed meanwhile)
            continue
        try:
            yield describe(state, path)
        except (AttributeError, KeyError, TypeError, ValueError, OverflowError) as exc:
            raise FatalRunError(f"state file {path} is corrupt: {exc}", EXIT_STATE) from None
