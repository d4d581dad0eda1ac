"""The project summary: one TSV line per run in `project/<name>.summary` (SPEC II.7.4).

Several runs of the same project may end at the same moment, so every append
happens under an exclusive `flock`, and the header is written by whichever
run finds the file empty while holding the lock.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from typing import List

from tasker.report.masking import Masker
from tasker.report.private import make_private_dirs

SUMMARY_HEADER = "#Timestamp\tStatus\tExit_Code\tTask_File\tTask_ID\tHostname\tCommand\tLog_File"

_BLANKS = str.maketrans({"\t": " ", "\n": " ", "\r": " "})


def clean_field(value: object) -> str:
    """A TSV field: tabs and newlines as spaces, `N/A` when empty."""
    text = str(value).translate(_BLANKS)
    return text if text.strip() else "N/A"


def summary_line(
    *,
    ended: float,
    exit_code: int,
    task_file: Path,
    task_id: int,
    hostname: str,
    command: str,
    log_file: str,
    masker: Masker,
) -> str:
    """The summary line of one run (without newline), secrets masked."""
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
    ]
    return "\t".join(clean_field(field) for field in fields)


def append_summary(project_file: Path, line: str) -> None:
    """Append one run's `summary_line` to the project summary, with the header if new."""
    project_file = Path(project_file)
    make_private_dirs(project_file.parent)
    with open(project_file, "a", encoding="utf-8", newline="\n") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            # Size is checked under the lock: two runs creating the file at once
            # must not both write the header.
            new = os.fstat(handle.fileno()).st_size == 0
            handle.write((SUMMARY_HEADER + "\n" if new else "") + line + "\n")
            handle.flush()
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
