"""The state file: results and globals after every finished task (SPEC I.7, II.9.1).

It lets `--start-from N` and `--auto-recovery` restore the results of earlier
tasks. It is a journal (see StateWriter): a header line, then one JSON line
per save with the results stored since the previous save.
Secrets are masked here as everywhere else (SPEC I.4).
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from tasker.report.atomic import atomic_write
from tasker.report.masking import Masker
from tasker.results import BlockCounts, RunRecord, TaskResult

STATE_VERSION = "1.0"
_COMPACT = (",", ":")


class StateError(Exception):
    """The state file exists but cannot be used (unreadable, corrupt, wrong version)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _result_data(result: TaskResult, masker: Masker) -> Dict[str, Any]:
    """A TaskResult as JSON data (every field, so it round-trips)."""
    mask = masker.mask
    counts = result.counts
    return {
        "task_id": result.task_id,
        "exit_code": result.exit_code,
        "stdout": mask(result.stdout),
        "stderr": mask(result.stderr),
        "success": result.success,
        "status": result.status,
        "hostname": mask(result.hostname),
        "exec_type": result.exec_type,
        "command": mask(result.command),
        "start_time": result.start_time,
        "duration": result.duration,
        "attempts": result.attempts,
        "iterations": result.iterations,
        "stdout_file": result.stdout_file,
        "stderr_file": result.stderr_file,
        "counts": None if counts is None else [counts.success, counts.failed],
    }


class StateWriter:
    """Keeps one run's state file as a journal: one JSON line per save.

    Rewriting the whole state after every task costs a serialisation of all
    results plus a rename (~0.3 ms on ext4), a third of the tool's budget per
    task in the sequential benchmark. A journal costs one `write` of the new
    results only. The first save creates the file with a temp file + rename
    (a previous run's state is never lost to a half-written start); every
    later save appends one line with a single write call. A reader ignores a
    last line cut short by `kill -9`, so no finished task is lost and the file
    is never unreadable. With `fsync=True` (`--auto-recovery`) each save is
    also synced to disk.
    """

    def __init__(self, path: Path, *, masker: Masker, fsync: bool = False) -> None:
        self.path = Path(path)
        self.masker = masker
        self.fsync = fsync
        self._fd: Optional[int] = None
        self._stored_len = 0  # record.stored_ids entries already written
        self._path_len = 0  # execution_path entries already written
        # Sub-tasks of a parallel block may finish (and save) at the same time.
        self._lock = threading.Lock()

    def save(
        self,
        *,
        file_sha256: str,
        record: RunRecord,
        globals_: Mapping[str, str],
        current_task: Optional[int],
        next_task: Optional[int],
    ) -> None:
        """Record the results stored since the last save, and the current position."""
        with self._lock:
            ids = record.stored_ids[self._stored_len:]
            self._stored_len += len(ids)
            fresh = [record.results[tid] for tid in dict.fromkeys(ids) if tid in record.results]
            path = record.execution_path
            entry = {
                "path_added": path[self._path_len:],  # folded back into execution_path
                "current_task": current_task,
                "next_task": next_task,
                "last_task": record.last_task,
                "failure": self.masker.mask_data(record.failure),
                "task_results": {str(r.task_id): _result_data(r, self.masker) for r in fresh},
            }
            line = json.dumps(entry, separators=_COMPACT) + "\n"
            if self._fd is None:
                head = {"version": STATE_VERSION, "file_hash": file_sha256,
                        "globals": {k: self.masker.mask(v) for k, v in globals_.items()}}
                self._start(json.dumps(head, separators=_COMPACT) + "\n" + line)
            else:
                _write_all(self._fd, line.encode("ascii"))
                if self.fsync:
                    os.fsync(self._fd)
            self._path_len = len(path)

    def _start(self, text: str) -> None:
        """Create the journal with its header atomically, then keep it open for appends."""
        atomic_write(self.path, text.encode("ascii"), fsync=self.fsync, mode=0o600)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)

    def mark_completed(self) -> None:
        """Record that the run completed, so auto-recovery starts afresh next time."""
        with self._lock:
            if self._fd is not None:
                _write_all(self._fd, b'{"completed":true,"task_results":{}}\n')
                if self.fsync:
                    os.fsync(self._fd)

    def close(self) -> None:
        """Close the journal (the state file itself stays)."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def _write_all(fd: int, data: bytes) -> None:
    """os.write until every byte is written."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def save_state(
    path: Path,
    *,
    file_sha256: str,
    record: RunRecord,
    globals_: Mapping[str, str],
    current_task: Optional[int],
    next_task: Optional[int],
    masker: Masker,
    fsync: bool = False,
) -> None:
    """One-off atomic save of the state; a run saving after every task should keep a StateWriter."""
    writer = StateWriter(path, masker=masker, fsync=fsync)
    try:
        writer.save(file_sha256=file_sha256, record=record, globals_=globals_,
                    current_task=current_task, next_task=next_task)
    finally:
        writer.close()


def load_state(path: Path) -> Optional[Dict[str, Any]]:
    """The saved state folded into one dict, or None; StateError when it is unusable."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise StateError(f"cannot read state file {path}: {exc}") from None
    state = _fold(text.split("\n"), path)
    _check_shape(state, path)
    return state


def _fold(lines: List[str], path: Path) -> Dict[str, Any]:
    """Merge the header and the journal entries; a torn last line is ignored."""
    entries = []
    for number, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            entries.append(json.loads(line))
        except ValueError as exc:
            if any(rest.strip() for rest in lines[number + 1:]):
                raise StateError(f"state file {path} is corrupt: line {number + 1}: {exc}") \
                    from None
            break  # the last write was cut short: everything before it is intact
    if not entries or not isinstance(entries[0], dict):
        raise StateError(f"state file {path} is corrupt: no header")
    state = dict(entries[0])
    state.setdefault("task_results", {})
    state.setdefault("execution_path", [])
    for entry in entries[1:]:
        if not isinstance(entry, dict) or not isinstance(entry.get("task_results"), dict) \
                or not isinstance(entry.get("path_added", []), list):
            raise StateError(f"state file {path} is corrupt: bad journal entry")
        state["task_results"].update(entry.pop("task_results"))
        state["execution_path"].extend(entry.pop("path_added", []))
        state.update(entry)
    return state


def _check_shape(state: Any, path: Path) -> None:
    """Raise StateError unless `state` looks like a state file of our version."""
    if not isinstance(state, dict):
        raise StateError(f"state file {path} is corrupt: not a JSON object")
    version = state.get("version")
    if version != STATE_VERSION:
        raise StateError(
            f"state file {path} has version {version!r}, expected {STATE_VERSION!r}"
        )
    kinds = {"file_hash": str, "task_results": dict, "globals": dict}
    for key, kind in kinds.items():
        if not isinstance(state.get(key), kind):
            raise StateError(f"state file {path} is corrupt: bad or missing {key!r}")


def _result_from(key: str, data: Any) -> TaskResult:
    """Rebuild one TaskResult; StateError on anything malformed."""
    try:
        counts = data.get("counts")
        return TaskResult(
            task_id=int(data["task_id"]),
            exit_code=int(data["exit_code"]),
            stdout=str(data.get("stdout", "")),
            stderr=str(data.get("stderr", "")),
            success=bool(data.get("success", False)),
            status=str(data.get("status", "failed")),
            hostname=str(data.get("hostname", "")),
            exec_type=str(data.get("exec_type", "")),
            command=str(data.get("command", "")),
            start_time=_time(data.get("start_time", 0.0)),
            duration=_time(data.get("duration", 0.0)),
            attempts=int(data.get("attempts", 1)),
            iterations=int(data.get("iterations", 1)),
            stdout_file=data.get("stdout_file"),
            stderr_file=data.get("stderr_file"),
            counts=None if counts is None else BlockCounts(int(counts[0]), int(counts[1])),
        )
    except (AttributeError, KeyError, IndexError, TypeError, ValueError, OverflowError) as exc:
        raise StateError(f"state file has a malformed result for task {key}: {exc!r}") from None


# Times are seconds since the epoch (or durations): finite, not negative, before year 5000.
_MAX_TIME = 95617584000.0


def _time(value: Any) -> float:
    """A stored time or duration; ValueError for one no clock can have written."""
    t = float(value)
    if not 0.0 <= t < _MAX_TIME:  # (also false for nan)
        raise ValueError(f"time {value!r} out of range")
    return t


def results_from_state(state: Dict[str, Any]) -> Dict[int, TaskResult]:
    """The task results stored in a loaded state, by task ID."""
    results: Dict[int, TaskResult] = {}
    for key, data in state.get("task_results", {}).items():
        result = _result_from(key, data)
        results[result.task_id] = result
    return results
