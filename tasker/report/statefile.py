"""The state file: results and globals after every finished task (SPEC I.7, II.9.1).

It lets `--start-from N` and `--auto-recovery` restore the results of earlier
tasks. It is a journal (see StateWriter): a header line, then one JSON line
per save with the results stored since the previous save.
Secrets are masked here as everywhere else (SPEC I.4).
"""

from __future__ import annotations

import fcntl
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
    stdout, stdout_cut = masker.mask_stored_at(result.stdout, result.stdout_cut)
    stderr, stderr_cut = masker.mask_stored_at(result.stderr, result.stderr_cut)
    return {
        "task_id": result.task_id,
        "exit_code": result.exit_code,
        "stdout": stdout,
        "stderr": stderr,
        "stdout_cut": stdout_cut,
        "stderr_cut": stderr_cut,
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
    later save appends one line. A reader ignores a last line cut short by
    `kill -9`, so no finished task is lost and the file is never unreadable.
    With `fsync=True` (`--auto-recovery`) each save is also synced to disk.

    A save that fails (a full disk) leaves the file as it was before it: the
    part of the line that was written is cut off again, and nothing counts as
    saved, so the next save appends everything since the last one that worked.
    Where the cut itself fails, the next save writes the whole state again,
    atomically. The file is thus always either the last complete journal or a
    new complete one, and once there is space again it holds every result
    recorded (I.4a).
    """

    def __init__(self, path: Path, *, masker: Masker, fsync: bool = False,
                 task_file: str = "") -> None:
        self.path = Path(path)
        self.masker = masker
        self.fsync = fsync
        self.task_file = task_file  # absolute path, recorded in the header
        self._fd: Optional[int] = None
        self._size = 0  # bytes of complete lines in the file
        self._stored_len = 0  # record.stored_ids entries already written
        self._path_len = 0  # execution_path entries already written
        self._whole = True  # the next save writes the whole state (first, or after a failure)
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
        """Record the results stored since the last save, and the current position;
        OSError when the write failed (the file is then as it was before)."""
        with self._lock:
            stored, path = len(record.stored_ids), len(record.execution_path)
            position = {"current_task": current_task, "next_task": next_task,
                        "last_task": record.last_task,
                        "failure": self.masker.mask_data(record.failure)}
            if self._whole:
                self._write_whole(file_sha256, record.execution_path[:path], record.results,
                                  globals_, position)
            else:
                ids = record.stored_ids[self._stored_len:stored]
                fresh = [record.results[tid] for tid in dict.fromkeys(ids)
                         if tid in record.results]
                self._append(self._line(record.execution_path[self._path_len:path],
                                        position, fresh))
            self._stored_len, self._path_len = stored, path

    def _line(self, path_added: List[int], position: Dict[str, Any],
              results: List[TaskResult]) -> bytes:
        """One journal entry as a line of ASCII JSON."""
        entry = {"path_added": list(path_added), **position,  # path folded back on load
                 "task_results": {str(r.task_id): _result_data(r, self.masker)
                                  for r in results}}
        return (json.dumps(entry, separators=_COMPACT) + "\n").encode("ascii")

    def _write_whole(self, file_sha256: str, path: List[int], results: Mapping[int, TaskResult],
                     globals_: Mapping[str, str], position: Dict[str, Any]) -> None:
        """Replace the file atomically by the header and one entry holding everything."""
        head = {"version": STATE_VERSION, "file_hash": file_sha256,
                "task_file": self.masker.mask(self.task_file),
                "globals": {k: self.masker.mask(v) for k, v in globals_.items()}}
        data = (json.dumps(head, separators=_COMPACT) + "\n").encode("ascii") + self._line(
            path, position, list(results.values()))
        atomic_write(self.path, data, fsync=self.fsync, mode=0o600)  # old file kept on error
        self._close_fd()
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        _lock_while_running(self._fd)
        self._size, self._whole = len(data), False

    def _append(self, data: bytes) -> None:
        """Append one line; on failure cut the file back to its last complete line."""
        fd = self._fd
        assert fd is not None  # (opened by _write_whole; closing it makes the next save one)
        try:
            _write_all(fd, data)
            if self.fsync:
                os.fsync(fd)
        except OSError:
            try:  # the file is the last complete journal again: the next save appends
                os.ftruncate(fd, self._size)
            except OSError:  # a torn last line is ignored by readers, as long as
                self._whole = True  # nothing is appended after it: start over
                self._close_fd()
            raise
        self._size += len(data)

    def mark_completed(self) -> bool:
        """Record that the run completed, so auto-recovery starts afresh next time.

        When the journal cannot take the mark (the disk is full, or no save of this
        run succeeded), the file is removed instead: an outdated state of a
        completed run must not be resumed. False when neither was possible.
        """
        with self._lock:
            if self._fd is not None:
                try:
                    self._append(b'{"completed":true,"task_results":{}}\n')
                    return True
                except OSError:
                    pass
            try:
                self.path.unlink(missing_ok=True)
                return True
            except OSError:
                return False

    def close(self) -> None:
        """Close the journal (the state file itself stays)."""
        with self._lock:
            self._close_fd()

    def _close_fd(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _lock_while_running(fd: int) -> None:
    """Hold a shared lock on the journal while this run writes it (the kernel drops it
    when the run ends, however it ends), so that another run can tell a state still
    being written from one left behind (in_use)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        pass  # (a filesystem without locks: the state just looks left behind)


def in_use(path: Path) -> bool:
    """True while a running tasker writes the state file at `path`."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


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
    task_file: str = "",
) -> None:
    """One-off atomic save of the state; a run saving after every task should keep a StateWriter."""
    writer = StateWriter(path, masker=masker, fsync=fsync, task_file=task_file)
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


def read_header(path: Path) -> Optional[Dict[str, Any]]:
    """The first line of a state file as a dict; None when it cannot be read as one
    (used to find the states of a task file without reading whole journals)."""
    try:
        with open(path, "rb") as handle:
            first = handle.readline()
        head = json.loads(first)
    except (OSError, ValueError):
        return None
    return head if isinstance(head, dict) else None


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
            stdout_cut=_offset(data.get("stdout_cut")),
            stderr_cut=_offset(data.get("stderr_cut")),
        )
    except (AttributeError, KeyError, IndexError, TypeError, ValueError, OverflowError) as exc:
        raise StateError(f"state file has a malformed result for task {key}: {exc!r}") from None


def _offset(value: Any) -> Optional[int]:
    """A stored cut offset (None: the stream is whole); ValueError for a negative one."""
    if value is None:
        return None
    offset = int(value)
    if offset < 0:
        raise ValueError(f"offset {value!r} is negative")
    return offset


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
