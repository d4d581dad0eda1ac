"""Where a run's files go (SPEC I.7, II.7.4).

Layout under the base directory (`-l` → `TASK_EXECUTOR_LOG` → `~/TASKER`):
`log/`, `backup/`, `project/<name>.summary`, `recovery/` state files and
`output/` JSON reports. Everything here is a pure function of its inputs.
"""

from __future__ import annotations

import errno
import os
import re
import time
from pathlib import Path
from typing import Mapping, Optional

from tasker.record import record

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
PREFIX_LIMIT = 50


def _sanitise(name: str) -> str:
    """Name without extension, unsafe characters as `_`, at most 50 chars, `task` if empty."""
    stem = os.path.splitext(name)[0]
    return _UNSAFE.sub("_", stem)[:PREFIX_LIMIT] or "task"


def file_prefix(task_file: Path) -> str:
    """Prefix of log and JSON file names derived from the task file's base name."""
    return _sanitise(Path(task_file).name)


def project_name(name: str) -> str:
    """Project name as used for the summary file (`REL_1.2` → `REL_1`, like HEAD)."""
    return _sanitise(name)


def run_stamp(t: float) -> str:
    """`YYYYMMDD_HHMMSS_micro` in local time."""
    whole = int(t)
    micro = min(int(round((t - whole) * 1_000_000)), 999_999)
    return time.strftime("%Y%m%d_%H%M%S", time.localtime(whole)) + f"_{micro:06d}"


# A file name derived from a task file name stays within NAME_LIMIT bytes (UTF-8): most
# filesystems allow 255, and an atomic write adds `.` and `.XXXXXXXX.tmp` (14 bytes) for
# its temporary file, so a longer task file name must not make a record unwritable.
NAME_LIMIT = 200
_HASHED_TAIL = 9  # `-` and 8 hex


def bounded_name(name: str, room: int = 0) -> str:
    """`name` if its UTF-8 form fits in NAME_LIMIT - `room` bytes; else its head and
    `-<8 hex of SHA-256 of the whole name>`, so distinct long names stay distinct."""
    budget = NAME_LIMIT - room
    if len(name.encode("utf-8", "surrogateescape")) <= budget:
        return name
    size, end = 0, 0
    for char in name:  # whole characters only: a cut never splits a UTF-8 sequence
        size += len(char.encode("utf-8", "surrogateescape"))
        if size > budget - _HASHED_TAIL:
            break
        end += 1
    return f"{name[:end]}-{_sha256_hex(name)[:8]}"


def _sha256_hex(text: str) -> str:
    import hashlib  # (here: OpenSSL takes a few ms to load, and few runs need these names)

    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def _state_stem(absolute: str) -> str:
    """The task file's base name without `.txt`, as state file names begin."""
    base = os.path.basename(absolute)
    return base[: -len(".txt")] if base.endswith(".txt") else base


STATE_SUFFIX = ".recovery.json"
_STATE_ROOM = len("_12345678" + STATE_SUFFIX)


def state_file_name(task_file: Path, masked_globals: Mapping[str, str]) -> str:
    """`<basename without .txt>_<8 hex>.recovery.json`: the hex is SHA-256 of the absolute
    path and the canonical JSON of the globals (secrets masked, so no hash of a secret
    leaves the process). Two runs of one file with other globals keep apart; an edit of
    the file keeps its state (I.4a). A long base name is bounded (bounded_name)."""
    import json

    absolute = os.path.abspath(str(task_file))
    canonical = json.dumps(dict(sorted(masked_globals.items())), separators=(",", ":"))
    digest = _sha256_hex(f"{absolute}\0{canonical}")[:8]
    return f"{bounded_name(_state_stem(absolute), _STATE_ROOM)}_{digest}{STATE_SUFFIX}"


def state_file_stem(task_file: Path) -> str:
    """What every state file name of `task_file` starts with, before `_<8 hex>`."""
    return bounded_name(_state_stem(os.path.abspath(str(task_file))), _STATE_ROOM)


def legacy_state_file_name(task_file: Path) -> str:
    """The name the previous version gave the state file: 8 hex of SHA-256 of the
    absolute path only (one state per file, whatever its globals)."""
    absolute = os.path.abspath(str(task_file))
    return f"{_state_stem(absolute)}_{_sha256_hex(absolute)[:8]}{STATE_SUFFIX}"


@record(frozen=True)
class RunPaths:
    """All the files one run may write; `project_file` is None without `-p`."""

    base: Path
    log_file: Path
    backup_dir: Path
    project_file: Optional[Path]
    task_file: Path
    output_dir: Path
    json_file: Path  # default `--output-json` target when no path is given
    # The state file's name, once the globals are known (Session.choose_state_file).
    state_name: Optional[str] = None

    @property
    def recovery_dir(self) -> Path:
        """Where state files are kept."""
        return self.base / "recovery"

    @property
    def state_file(self) -> Path:
        """`recovery/<name>_<hash>.recovery.json` of this task file and its globals (before
        the globals are known: the name for no globals)."""
        return self.recovery_dir / (self.state_name or state_file_name(self.task_file, {}))


def run_paths(base: Path, task_file: Path, started: float, project: Optional[str]) -> RunPaths:
    """The files of a run started at `started` on `task_file` under `base`."""
    base = Path(base)
    prefix = file_prefix(task_file)
    stamp = run_stamp(started)
    output_dir = base / "output"
    return RunPaths(
        base=base,
        log_file=base / "log" / f"{prefix}_{stamp}.log",
        backup_dir=base / "backup",
        project_file=(base / "project" / f"{project_name(project)}.summary") if project else None,
        task_file=Path(task_file),
        output_dir=output_dir,
        json_file=output_dir / f"{prefix}_{stamp}.json",
    )


def default_base(cli_dir: Optional[str], environ: Mapping[str, str]) -> Path:
    """Base directory: `-l DIR`, else `$TASK_EXECUTOR_LOG`, else `~/TASKER`."""
    if cli_dir:
        return Path(cli_dir).expanduser()
    env_dir = environ.get("TASK_EXECUTOR_LOG", "")
    if env_dir:
        return Path(env_dir).expanduser()
    home = environ.get("HOME") or str(Path.home())
    return Path(home) / "TASKER"


def named_file(value: str) -> Path:
    """The path of a report file the operator named, once its directory is known to exist
    (as for any file a program is told to write, e.g. a shell's `>`):
    tasker creates no directory for such a file (a typo would leave one, mode 0700, where
    nobody looks), so a missing one is an OSError the caller reports as a WARN line."""
    path = Path(value)
    if not path.parent.is_dir():
        raise FileNotFoundError(errno.ENOENT, "its directory does not exist", str(path.parent))
    return path
