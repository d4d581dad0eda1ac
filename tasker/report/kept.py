"""Kept outputs (`--output-dir DIR`): every execution's whole stdout and stderr as files.

The keeper is a subscriber of the run's events (tasker/events.py): the engine emits
`CommandOutputs` right after a real command ends, while its spill files still exist,
and `OutputKeeper.handle` copies both of its streams into DIR there and then
(synchronously: the files go after the emit), whole, as tasker reads them (UTF-8, line ends
as `\\n`): the text in memory, or the spill file a chunk at a time, never whole in
memory. Secrets are masked in chunks with overlap (Masker.mask_chunks), so one
that straddles a chunk border is masked too. Files are 0600; DIR, when tasker
creates it, 0700 (tasker/report/private.py).

One name per execution, from what the log's `Task 7-71.2` label says plus the
host: `task-7-71_attempt-2_host-web1.stdout` (sub-task 71 of block 7),
`task-5_iteration-3_attempt-1.stdout` (third run of a loop). Nothing is ever
overwritten: a name already taken (a resumed run, a jump back) gets `_again-N`.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import threading
from pathlib import Path
from typing import IO, Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import quote

from tasker.events import CommandOutputs, Event
from tasker.exec.base import CommandResult
from tasker.exec.output import CHUNK_SIZE, Stream, chunks
from tasker.record import record, replace
from tasker.report.masking import Masker
from tasker.report.private import make_private_dirs, open_private

HOST_NAME_LIMIT = 80  # characters of an encoded host kept in a file name
_HOST_SAFE = "-._@"  # besides letters and digits: kept as they are, never a path


@record(frozen=True)
class Placing:
    """Which execution a pair of files belongs to (as the JSON report's trace places it;
    report/executions.py's Execution is what an execution did)."""

    task: int
    block: Optional[int] = None  # the block of a sub-task
    iteration: Optional[int] = None  # loop iteration (of the task, or of its block)
    attempt: int = 1
    host: str = ""


@record(frozen=True)
class KeptFiles:
    """The files of one execution; `placing.host` is masked."""

    placing: Placing
    stdout: str
    stderr: str


def host_part(host: str) -> str:
    """A host string as a piece of a file name: anything but letters, digits and `-._@`
    percent-encoded (no `/`, no control character, distinct hosts stay distinct), and a
    very long one cut, with 8 hex of its hash so that it stays distinct."""
    encoded = quote(host, safe=_HOST_SAFE)
    if len(encoded) <= HOST_NAME_LIMIT:
        return encoded
    digest = hashlib.sha256(encoded.encode("ascii")).hexdigest()[:8]
    return f"{encoded[:HOST_NAME_LIMIT - 9]}~{digest}"


def base_name(placing: Placing) -> str:
    """The file name of an execution without its `.stdout`/`.stderr` extension."""
    task = f"{placing.block}-{placing.task}" if placing.block is not None \
        else str(placing.task)
    parts = [f"task-{task}"]
    if placing.iteration is not None:
        parts.append(f"iteration-{placing.iteration}")
    parts.append(f"attempt-{placing.attempt}")
    if placing.host:
        parts.append(f"host-{host_part(placing.host)}")
    return "_".join(parts)


class OutputKeeper:
    """Writes the kept files of a run and remembers them for the JSON report; shared by
    the threads of a block (names are claimed with O_EXCL, the list under a lock)."""

    wants = frozenset((CommandOutputs,))

    def __init__(self, directory: Path, masker: Masker, warn: Callable[[str], None],
                 chunk_size: int = CHUNK_SIZE) -> None:
        self.directory = Path(os.path.abspath(directory))  # (the report lists whole paths)
        self.masker = masker
        self.warn = warn
        self.chunk_size = chunk_size  # tests make it tiny, so that borders are exercised
        self._lock = threading.Lock()
        self._kept: List[KeptFiles] = []
        self._ready: Optional[bool] = None  # the directory exists (None: not tried yet)

    def handle(self, event: Event) -> None:
        """Keep the outputs of the command a CommandOutputs event reports, before the
        emit returns (its spill files are removed after)."""
        if isinstance(event, CommandOutputs):
            self.keep(Placing(event.task_id, event.block_id, event.iteration, event.attempt,
                              event.host), event.label, event.result)

    def keep(self, placing: Placing, label: str, result: CommandResult) -> None:
        """Write the whole stdout and stderr of one finished command; a failure warns
        (naming the task, the path and why) and leaves no partial file."""
        placing = replace(placing, host=self.masker.mask(placing.host))
        if not self._directory_ready():
            return
        try:
            paths = self._write_pair(base_name(placing), result)
        except OSError as exc:
            self.warn(f"Task {label}: its outputs could not be kept in {self.directory}: "
                      f"{exc.strerror or exc}")
            return
        with self._lock:
            self._kept.append(KeptFiles(placing, *paths))

    def _directory_ready(self) -> bool:
        """Make the directory once; when it cannot be made, say so once and keep nothing."""
        with self._lock:
            if self._ready is None:
                try:
                    make_private_dirs(self.directory)
                    self._ready = True
                except OSError as exc:
                    self._ready = False
                    self.warn(f"Outputs are not kept: cannot create {self.directory}: "
                              f"{exc.strerror or exc}")
            return self._ready

    def _write_pair(self, base: str, result: CommandResult) -> Tuple[str, str]:
        """Claim a free pair of names, then write both streams; OSError leaves neither."""
        streams = (Stream(result.stdout, result.stdout_file, self.chunk_size),
                   Stream(result.stderr, result.stderr_file, self.chunk_size))
        paths, fds = self._claim(base)
        handles = [os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape", newline="")
                   for fd in fds]
        try:
            for handle, stream in zip(handles, streams):
                for piece in self.masker.mask_chunks(chunks(stream)):
                    handle.write(piece)
                handle.close()  # (the last block is written here: ENOSPC shows now)
        except OSError:
            for handle in handles:
                _close_quietly(handle)
            for path in paths:
                _unlink(path)
            raise
        return paths[0], paths[1]

    def _claim(self, base: str) -> Tuple[Tuple[str, str], Tuple[int, int]]:
        """Create `<base>.stdout` and `.stderr` (0600), or with `_again-N` when taken."""
        flags = os.O_WRONLY | os.O_EXCL
        for n in itertools.count(1):
            name = base if n == 1 else f"{base}_again-{n}"
            out, err = (str(self.directory / f"{name}.{kind}") for kind in ("stdout", "stderr"))
            try:
                out_fd = open_private(Path(out), flags)
            except FileExistsError:
                continue
            try:
                err_fd = open_private(Path(err), flags)
            except FileExistsError:
                os.close(out_fd)
                _unlink(out)
                continue
            return (out, err), (out_fd, err_fd)
        raise AssertionError("unreachable")  # (itertools.count never ends)

    def files(self) -> List[KeptFiles]:
        """Every pair kept so far, in the order the commands ended."""
        with self._lock:
            return list(self._kept)

    def report_entries(self) -> Dict[int, List[Dict[str, Any]]]:
        """For the JSON report: per task ID, its executions' files in order."""
        entries: Dict[int, List[Dict[str, Any]]] = {}
        for kept in self.files():
            ex = kept.placing
            entries.setdefault(ex.task, []).append({
                "block": ex.block, "iteration": ex.iteration, "attempt": ex.attempt,
                "hostname": ex.host, "stdout": kept.stdout, "stderr": kept.stderr})
        return entries


def _close_quietly(handle: IO[str]) -> None:
    try:
        handle.close()
    except OSError:
        pass  # the same failure again, while flushing


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
