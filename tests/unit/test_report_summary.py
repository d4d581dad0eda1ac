"""The project summary TSV (SPEC II.7.4)."""

from __future__ import annotations

import fcntl
import multiprocessing
import threading
import time
from pathlib import Path

from tasker.report.masking import Masker
from tasker.report.summary import SUMMARY_HEADER, append_summary, clean_field, summary_line

ENDED = time.mktime((2025, 10, 5, 14, 3, 11, 0, 0, -1))


def append(path: Path, **overrides) -> None:
    fields = dict(
        ended=ENDED, exit_code=0, task_file=Path("/x/flow.txt"), task_id=3,
        hostname="localhost", command="echo hi", log_file="/b/log/flow_1.log",
        masker=Masker(),
    )
    fields.update(overrides)
    append_summary(path, summary_line(**fields))


def test_header_once_then_one_line_per_run(tmp_path):
    path = tmp_path / "project" / "REL_1.summary"
    append(path)
    append(path, exit_code=5, task_id=7)
    lines = path.read_text().splitlines()
    assert lines == [
        SUMMARY_HEADER,
        "2025-10-05 14:03:11\tSUCCESS\t0\tflow.txt\t3\tlocalhost\techo hi\tflow_1.log",
        "2025-10-05 14:03:11\tFAILURE\t5\tflow.txt\t7\tlocalhost\techo hi\tflow_1.log",
    ]


def test_header_columns():
    assert SUMMARY_HEADER.split("\t") == [
        "#Timestamp", "Status", "Exit_Code", "Task_File", "Task_ID",
        "Hostname", "Command", "Log_File",
    ]


def test_tabs_newlines_empty_values_and_masking(tmp_path):
    path = tmp_path / "p.summary"
    append(path, hostname="", command="a\tb\nc --pw s3cret", log_file="", task_id=-1,
           masker=Masker(("s3cret",)))
    fields = path.read_text().splitlines()[1].split("\t")
    assert len(fields) == 8
    assert fields[4:] == ["-1", "N/A", "a b c --pw ****", "N/A"]


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
    assert all(len(line.split("\t")) == 8 for line in lines[1:])
