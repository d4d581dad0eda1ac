"""Where a run's files go (SPEC I.7, II.7.4).

Layout under the base directory (`-l` → `TASK_EXECUTOR_LOG` → `~/TASKER`):
`log/`, `backup/`, `project/<name>.summary`, `recovery/` state files and
`output/` JSON reports. Everything here is a pure function of its inputs.
"""

from __future__ import annotations

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


def state_file_name(task_file: Path) -> str:
    """`<basename without .txt>_<8 hex of SHA-256 of the absolute path>.recovery.json`."""
    import hashlib  # (here: OpenSSL takes a few ms to load, and few runs need this name)

    absolute = os.path.abspath(str(task_file))
    digest = hashlib.sha256(absolute.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    base = os.path.basename(absolute)
    if base.endswith(".txt"):
        base = base[: -len(".txt")]
    return f"{base}_{digest}.recovery.json"


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

    @property
    def state_file(self) -> Path:
        """`recovery/<name>_<hash>.recovery.json`, named when first needed."""
        return self.base / "recovery" / state_file_name(self.task_file)


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
