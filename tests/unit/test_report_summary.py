"""The project summary TSV (SPEC II.7.4)."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import pwd
import stat
import threading
import time
from pathlib import Path
from unittest import mock

import pytest

from tasker.report import summary
from tasker.report.masking import Masker
from tasker.report.summary import (
    ORIGINAL_HEADER,
    SUMMARY_HEADER,
    append_summary,
    clean_field,
    current_user,
    summary_line,
    utc_offset,
)

ENDED = time.mktime((2025, 10, 5, 14, 3, 11, 0, 0, -1))


def append(path: Path, **overrides) -> None:
    fields = dict(
        started=ENDED - 62.5, ended=ENDED, exit_code=0, task_file=Path("/x/flow.txt"),
        task_id=3, hostname="localhost", command="echo hi", log_file="/b/log/flow_1.log",
        masker=Masker(), user="ops",
    )
    fields.update(overrides)
    append_summary(path, summary_line(**fields))


def test_header_once_then_one_line_per_run(tmp_path):
    path = tmp_path / "project" / "REL_1.summary"
    append(path)
    append(path, exit_code=5, task_id=7)
    lines = path.read_text().splitlines()
    ours = f"\tops\t62.500\t{utc_offset(ENDED)}"
    assert lines == [
        SUMMARY_HEADER,
        "2025-10-05 14:03:11\tSUCCESS\t0\tflow.txt\t3\tlocalhost\techo hi\tflow_1.log" + ours,
        "2025-10-05 14:03:11\tFAILURE\t5\tflow.txt\t7\tlocalhost\techo hi\tflow_1.log" + ours,
    ]


def test_header_columns():
    assert SUMMARY_HEADER.split("\t") == [
        "#Timestamp", "Status", "Exit_Code", "Task_File", "Task_ID",
        "Hostname", "Command", "Log_File", "User", "Duration_Seconds", "UTC_Offset",
    ]
    assert SUMMARY_HEADER.startswith(ORIGINAL_HEADER + "\t")


def test_tabs_newlines_empty_values_and_masking(tmp_path):
    path = tmp_path / "p.summary"
    append(path, hostname="", command="a\tb\nc --pw s3cret", log_file="", task_id=-1,
           masker=Masker(("s3cret",)))
    fields = path.read_text().splitlines()[1].split("\t")
    assert len(fields) == 11
    assert fields[4:8] == ["-1", "N/A", "a b c --pw ****", "N/A"]


def test_clean_field():
    assert clean_field("") == "N/A"
    assert clean_field(" \t") == "N/A"
    assert clean_field("a\r\nb") == "a  b"


def test_append_waits_for_the_lock(tmp_path):
    path = tmp_path / "p.summary"
    append(path)
    done = threading.Event()
    with open(path, "a") as holder:
        fcntl.flock(holder.fileno(), fcntl.LOCK_EX)
        thread = threading.Thread(target=lambda: (append(path, task_id=9), done.set()))
        thread.start()
        assert not done.wait(0.3), "append must block while another run holds the lock"
        fcntl.flock(holder.fileno(), fcntl.LOCK_UN)
    thread.join(5)
    assert done.is_set()
    assert path.read_text().splitlines()[-1].split("\t")[4] == "9"


def _append_many(path: str, n: int) -> None:
    for i in range(n):
        append(Path(path), task_id=i, command="x" * 2000)


def test_concurrent_processes_write_one_header_and_whole_lines(tmp_path):
    path = tmp_path / "p.summary"
    procs = [multiprocessing.Process(target=_append_many, args=(str(path), 50)) for _ in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(30)
    lines = path.read_text().splitlines()
    assert lines[0] == SUMMARY_HEADER
    assert lines.count(SUMMARY_HEADER) == 1
    assert len(lines) == 1 + 4 * 50
    assert all(len(line.split("\t")) == 11 for line in lines[1:])


def test_an_existing_file_keeps_its_header_and_its_readers(tmp_path):
    """A file begun by an older version (eight columns) is appended to, never rewritten:
    the new line's first eight columns mean what the header says."""
    path = tmp_path / "p.summary"
    old = "2025-10-01 09:00:00\tSUCCESS\t0\tflow.txt\t3\tlocalhost\techo hi\tflow_0.log"
    path.write_text(ORIGINAL_HEADER + "\n" + old + "\n")
    append(path, exit_code=4, task_id=8)
    lines = path.read_text().splitlines()
    assert lines[:2] == [ORIGINAL_HEADER, old]
    new = lines[2].split("\t")
    assert len(new) == 11
    assert dict(zip(ORIGINAL_HEADER.lstrip("#").split("\t"), new)) == {
        "Timestamp": "2025-10-05 14:03:11", "Status": "FAILURE", "Exit_Code": "4",
        "Task_File": "flow.txt", "Task_ID": "8", "Hostname": "localhost",
        "Command": "echo hi", "Log_File": "flow_1.log"}


def test_user_duration_and_offset_columns(tmp_path):
    path = tmp_path / "p.summary"
    append(path, started=ENDED - 0.0004, user=None)
    user, duration, offset = path.read_text().splitlines()[1].split("\t")[8:]
    assert user == pwd.getpwuid(os.getuid()).pw_name
    assert duration == "0.000"
    assert offset == utc_offset(ENDED)


def test_user_comes_from_the_password_database_not_the_environment():
    with mock.patch.dict(os.environ, {"USER": "somebody-else", "LOGNAME": "x"}):
        assert current_user() == pwd.getpwuid(os.getuid()).pw_name


def test_a_uid_without_a_password_entry_is_shown_as_the_number():
    with mock.patch.object(pwd, "getpwuid", side_effect=KeyError("no entry")), \
            mock.patch.object(summary.os, "getuid", return_value=4242):
        assert current_user() == "4242"


@pytest.mark.parametrize("zone, expected", [
    ("UTC0", "+00:00"), ("CET-1", "+01:00"), ("EST5", "-05:00"), ("IST-5:30", "+05:30"),
    ("NST3:30", "-03:30"),
])
def test_utc_offset_follows_the_local_zone(zone, expected):
    try:
        with mock.patch.dict(os.environ, {"TZ": zone}):
            time.tzset()
            assert utc_offset(ENDED) == expected
    finally:
        time.tzset()  # (the environment is restored: back to the real zone)


def test_a_new_summary_is_private_and_an_existing_one_keeps_its_mode(tmp_path: Path) -> None:
    """It holds the runs' commands (masked): 0600 like every record, whatever the umask."""
    new = tmp_path / "project" / "ops.summary"
    old_umask = os.umask(0o022)
    try:
        append(new)
        assert stat.S_IMODE(new.stat().st_mode) == 0o600
        assert stat.S_IMODE(new.parent.stat().st_mode) == 0o700
        shared = tmp_path / "project" / "shared.summary"
        shared.write_text(SUMMARY_HEADER + "\n")
        shared.chmod(0o640)
        append(shared)
        append(new)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(shared.stat().st_mode) == 0o640
    assert len(shared.read_text().splitlines()) == 2 and len(new.read_text().splitlines()) == 3
