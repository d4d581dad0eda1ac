"""The project summary: one TSV line per run in `project/<name>.summary` (SPEC II.7.4).

Several runs of the same project may end at the same moment, so every append
happens under an exclusive `flock`, and the header is written by whichever
run finds the file empty while holding the lock.

The original's eight columns come first and keep their meaning; ours (the user,
the duration, the UTC offset of the timestamp) follow, so readers of the first
columns keep working. A file begun by an older version keeps its header.
"""

from __future__ import annotations

import fcntl
import os
import time
from datetime import datetime
from pathlib import Path
from typing import List, Optional

from tasker.report.masking import Masker
from tasker.report.private import make_private_dirs, open_private

ORIGINAL_HEADER = "#Timestamp\tStatus\tExit_Code\tTask_File\tTask_ID\tHostname\tCommand\tLog_File"
SUMMARY_HEADER = ORIGINAL_HEADER + "\tUser\tDuration_Seconds\tUTC_Offset"

_BLANKS = str.maketrans({"\t": " ", "\n": " ", "\r": " "})


def clean_field(value: object) -> str:
    """A TSV field: tabs and newlines as spaces, `N/A` when empty."""
    text = str(value).translate(_BLANKS)
    return text if text.strip() else "N/A"


def current_user() -> str:
    """The name of the user running tasker, from the password database ($USER can say
    anything); the numeric uid as text when it has no entry (e.g. a container's)."""
    import pwd  # (only runs with -p write a summary line)

    uid = os.getuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def utc_offset(t: float) -> str:
    """The UTC offset of local time at `t`, as ISO 8601 writes it (`+01:00`, `-05:30`)."""
    offset = datetime.fromtimestamp(t).astimezone().utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def summary_line(
    *,
    started: float,
    ended: float,
    exit_code: int,
    task_file: Path,
    task_id: int,
    hostname: str,
    command: str,
    log_file: str,
    masker: Masker,
    user: Optional[str] = None,
) -> str:
    """The summary line of one run (without newline), secrets masked; `user` defaults to
    `current_user()`."""
    mask = masker.mask
    # Only free-text columns are masked: a short secret like "20" must not
    # garble the timestamp or the exit code.
    fields: List[str] = [
        time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ended)),
        "SUCCESS" if exit_code == 0 else "FAILURE",
        str(exit_code),
        mask(os.path.basename(str(task_file))),
        str(task_id),
        mask(hostname),
        mask(command),
        mask(os.path.basename(log_file)) if log_file else "",
        current_user() if user is None else user,
        f"{max(0.0, ended - started):.3f}",
        utc_offset(ended),
    ]
    return "\t".join(clean_field(field) for field in fields)


def append_summary(project_file: Path, line: str) -> None:
    """Append one run's `summary_line` to the project summary, with the header if new; a
    new file is 0600 like every record (it holds the runs' commands), an existing one
    keeps its mode."""
    project_file = Path(project_file)
    make_private_dirs(project_file.parent)
    fd = open_private(project_file, os.O_WRONLY | os.O_APPEND)
    with os.fdopen(fd, "a", encoding="utf-8", newline="\n") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            # Size is checked under the lock: two runs creating the file at once
            # must not both write the header.
            new = os.fstat(handle.fileno()).st_size == 0
            handle.write((SUMMARY_HEADER + "\n" if new else "") + line + "\n")
            handle.flush()
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
