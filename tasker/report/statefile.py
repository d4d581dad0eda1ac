"""The state file: results and globals after every finished task (SPEC I.7, II.9.1).

It lets `--start-from N` and `--auto-recovery` restore the results of earlier
tasks. It is rewritten after every task, so writing is kept cheap (compact
JSON, cached per result, a double-buffered file + rename); it is never torn
because of the rename, and with `fsync=True` (`--auto-recovery`) it also
survives a power cut.
Secrets are masked here as everywhere else (SPEC I.4).
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from tasker.report.atomic import fsync_dir
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


def _header(
    file_sha256: str,
    record: RunRecord,
    globals_: Mapping[str, str],
    current_task: Optional[int],
    next_task: Optional[int],
    masker: Masker,
) -> Dict[str, Any]:
    """Everything of the state except `task_results`."""
    return {
        "version": STATE_VERSION,
        "file_hash": file_sha256,
        "saved_at": time.time(),
        "current_task": current_task,
        "next_task": next_task,
        "last_task": record.last_task,
        "execution_path": list(record.execution_path),
        "failure": masker.mask_data(record.failure),
        "globals": {name: masker.mask(value) for name, value in globals_.items()},
    }


class StateWriter:
    """Writes one run's state file; keep one per run so each save costs little.

    Two costs dominate a naive rewrite of 300 results after every task:
    serialising every result again, and (on ext4) renaming a freshly
    allocated file over the old one, which frees blocks and forces
    allocation (~0.3 ms). So each result's JSON is remembered until the
    engine stores a new result object for that task, and the file is
    double-buffered: the previous state inode is kept under a private
    per-process "spare" name and rewritten in place next time, then renamed
    over the state file. Readers still only ever see complete files.
    """

    def __init__(self, path: Path, *, masker: Masker, fsync: bool = False) -> None:
        self.path = Path(path)
        self.masker = masker
        self.fsync = fsync
        tag = f".{self.path.name}.{os.getpid()}"
        self._spare = self.path.with_name(tag + ".spare")
        self._link = self.path.with_name(tag + ".link")
        # Keyed by id() of the result; `_alive` holds the objects so ids stay unique.
        self._fragments: Dict[int, str] = {}
        self._alive: Dict[int, TaskResult] = {}
        self._swept = False
        # Sub-tasks of a parallel block may finish (and save) at the same time;
        # they share one spare file, so saves are serialised.
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
        """Atomically replace the state file with the run's current state."""
        with self._lock:
            # One C-level copy: parallel sub-tasks may store results while we read.
            results = [r for _, r in sorted(record.results.copy().items())]
            self._remember(results)
            header = _header(file_sha256, record, globals_, current_task,
                             next_task, self.masker)
            head = json.dumps(header, separators=_COMPACT)
            body = ",".join(map(self._fragments.__getitem__, map(id, results)))
            text = f'{head[:-1]},"task_results":{{{body}}}}}'
            # ASCII JSON: lone surrogates from undecodable output bytes round-trip as escapes.
            self._replace(text.encode("ascii"))

    def close(self) -> None:
        """Remove this process's spare files (the state file itself stays)."""
        with self._lock:
            for name in (self._spare, self._link):
                _unlink_quietly(name)

    def _remember(self, results: List[TaskResult]) -> None:
        """Serialise the results not seen before; forget those no longer stored."""
        # Set and map operations run in C: with 300 results and one new per
        # save, finding the new one must not cost a Python loop over all.
        by_id = dict(zip(map(id, results), results))
        for key in by_id.keys() - self._fragments.keys():
            result = by_id[key]
            data = json.dumps(_result_data(result, self.masker), separators=_COMPACT)
            self._fragments[key] = f'"{result.task_id}":{data}'
            self._alive[key] = result
        if len(self._fragments) > 2 * len(by_id) + 64:
            self._fragments = {key: self._fragments[key] for key in by_id}
            self._alive = by_id

    def _replace(self, data: bytes) -> None:
        """Write `data` to the spare inode, then rename it over the state file."""
        if not self._swept:
            _sweep_dead_spares(self.path)
            self._swept = True
        fd = self._open_spare()
        try:
            _write_all(fd, data)
            os.ftruncate(fd, len(data))
            if self.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        kept = self._link_current()
        os.rename(self._spare, self.path)
        if kept:
            os.rename(self._link, self._spare)
        if self.fsync:
            fsync_dir(self.path.parent)

    def _open_spare(self) -> int:
        """Open the private spare inode for rewriting, or create a fresh one."""
        flags = os.O_WRONLY | os.O_NOFOLLOW
        try:
            fd = os.open(self._spare, flags)
            # Another name on it means another writer may touch it: start fresh.
            if os.fstat(fd).st_nlink == 1:
                return fd
            os.close(fd)
            os.unlink(self._spare)
        except FileNotFoundError:
            pass
        create = flags | os.O_CREAT | os.O_EXCL
        try:
            return os.open(self._spare, create, 0o600)
        except FileNotFoundError:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return os.open(self._spare, create, 0o600)

    def _link_current(self) -> bool:
        """Keep the current state inode under the link name; False when there is none."""
        for _ in range(2):
            try:
                os.link(self.path, self._link)
                return True
            except FileNotFoundError:
                return False
            except FileExistsError:  # left over by a killed run with our pid
                _unlink_quietly(self._link)
        return False


def _write_all(fd: int, data: bytes) -> None:
    """os.write until every byte is written."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _unlink_quietly(path: Path) -> None:
    """Remove `path` if it exists."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _pid_alive(pid: int) -> bool:
    """True when a process with this id exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _sweep_dead_spares(path: Path) -> None:
    """Remove spare files that runs killed with SIGKILL left beside the state file."""
    pattern = re.compile(r"\." + re.escape(path.name) + r"\.(\d+)\.(?:spare|link)\Z")
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return
    for entry in entries:
        match = pattern.match(entry.name)
        if match and not _pid_alive(int(match.group(1))):
            _unlink_quietly(Path(entry.path))


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
    """The saved state, or None when there is none; StateError when it is unusable."""
    path = Path(path)
    error = ""
    # A second try covers a reader that raced a writer of another process
    # reusing the inode it had just opened; a truly corrupt file fails twice.
    for _ in range(2):
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise StateError(f"cannot read state file {path}: {exc}") from None
        try:
            state = json.loads(text)
        except ValueError as exc:
            error = str(exc)
            continue
        _check_shape(state, path)
        return state
    raise StateError(f"state file {path} is corrupt: {error}")


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
            start_time=float(data.get("start_time", 0.0)),
            duration=float(data.get("duration", 0.0)),
            attempts=int(data.get("attempts", 1)),
            iterations=int(data.get("iterations", 1)),
            stdout_file=data.get("stdout_file"),
            stderr_file=data.get("stderr_file"),
            counts=None if counts is None else BlockCounts(int(counts[0]), int(counts[1])),
        )
    except (AttributeError, KeyError, IndexError, TypeError, ValueError) as exc:
        raise StateError(f"state file has a malformed result for task {key}: {exc!r}") from None


def results_from_state(state: Dict[str, Any]) -> Dict[int, TaskResult]:
    """The task results stored in a loaded state, by task ID."""
    results: Dict[int, TaskResult] = {}
    for key, data in state.get("task_results", {}).items():
        result = _result_from(key, data)
        results[result.task_id] = result
    return results
