"""The RECAP: its rows, their order, the 50 sub-task limit, colour and the log."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import List, Optional

from hypothesis import given, settings, strategies as st

from tasker.report.executions import Execution, execution, run_executions
from tasker.report.logger import Log, wants_colour
from tasker.report.masking import Masker
from tasker.report.recap import (
    SUBTASK_LIMIT,
    closing_line,
    counted_rows,
    duration_text,
    log_recap,
    recap_rows,
    table_lines,
)
from tasker.results import RunRecord, TraceEntry

# What scripts grep for, unanchored (SPEC Appendix A.1): a recap row must never match.
A1_LINE = re.compile(r"Task [0-9][0-9.\-]*:")


def ex(task: int, status: str = "success", *, block: Optional[int] = None, host: str = "h",
       start: float = 100.0, seconds: float = 1.0, attempt: int = 1,
       iteration: Optional[int] = None, code: int = 0) -> Execution:
    return Execution(task=task, block=block, iteration=iteration, attempt=attempt, host=host,
                     status=status, exit_code=code, start=start, end=start + seconds)


def labels(executions: List[Execution], limit: Optional[int] = SUBTASK_LIMIT) -> List[str]:
    return [row.label for row in recap_rows(executions, limit)]


def test_one_row_per_task_from_its_last_execution_with_runs_and_attempts() -> None:
    runs = [ex(1, iteration=1, seconds=1), ex(1, iteration=2, seconds=2),
            ex(1, "failed", iteration=3, seconds=3, code=4, host="last")]
    (row,) = recap_rows(runs)
    assert (row.label, row.status, row.exit_code, row.host) == ("1", "failed", 4, "last")
    assert (row.runs, row.attempts, row.duration) == (3, 1, 6.0)


def test_retry_attempts_are_counted_in_the_sub_task_row() -> None:
    runs = [ex(11, "failed", block=1, attempt=1, code=1), ex(11, "failed", block=1, attempt=2,
                                                            code=1),
            ex(11, block=1, attempt=3), ex(1, host="")]
    rows = recap_rows(runs)
    sub = next(r for r in rows if r.label == "1-11")
    assert (sub.status, sub.runs, sub.attempts) == ("success", 3, 3)


def test_failures_come_last_in_the_order_they_ran() -> None:
    runs = [ex(0, start=1), ex(1, "failed", start=2, code=2), ex(2, "skipped", start=3),
            ex(3, "timeout", start=4, code=124), ex(4, start=5)]
    assert labels(runs) == ["0", "2", "4", "1", "3"]
    assert closing_line(counted_rows(runs)) == "2 succeeded, 1 skipped, 2 failed (1 timed out)"


def test_a_blocks_sub_tasks_follow_its_row_in_the_order_they_started() -> None:
    """The block is traced after its sub-tasks, and a sub-task when it ends."""
    runs = [ex(0, start=1), ex(12, block=5, start=3), ex(11, block=5, start=2),
            ex(5, host="", start=2), ex(6, start=9)]
    assert labels(runs) == ["0", "5", "5-11", "5-12", "6"]


def test_past_the_limit_a_block_is_counted_with_a_row_per_failed_host() -> None:
    subs = [ex(100000 + n, "failed" if n in (7, 40) else "success", block=3,
               host=f"web{n}", start=10 + n, code=1 if n in (7, 40) else 0)
            for n in range(SUBTASK_LIMIT + 1)]
    runs = [ex(1, start=1)] + subs + [ex(3, "failed", host="", start=99, code=1)]
    rows = recap_rows(runs)
    assert [r.label for r in rows] == ["1", "3", "3-*", "3-100007", "3-100040"]
    assert rows[1].status_text == "partial(49/51)"
    counts = rows[2]
    assert dict(counts.counts) == {"success": 49, "skipped": 0, "failed": 2, "timeout": 0}
    assert [r.host for r in rows[3:]] == ["web7", "web40"]
    lines = [text for text, _ in table_lines(rows)]
    assert "51 sub-tasks: 49 success, 0 skipped, 2 failed" in lines[3]
    assert closing_line(counted_rows(runs)) == "50 succeeded, 0 skipped, 2 failed"


def test_at_the_limit_every_sub_task_has_its_row() -> None:
    subs = [ex(100 + n, block=3, start=n) for n in range(SUBTASK_LIMIT)]
    assert len(recap_rows(subs + [ex(3, start=99)])) == SUBTASK_LIMIT + 1
    assert len(recap_rows(subs + [ex(3, start=99)] + [ex(999, block=3)], None)) == 52


def test_a_block_interrupted_before_its_result_keeps_its_sub_task_rows() -> None:
    runs = [ex(10, block=1), ex(11, "failed", block=1, code=-15)]
    assert labels(runs) == ["1-10", "1-11"]


def test_columns_are_aligned_and_a_skip_has_no_exit_code() -> None:
    lines = [t for t, _ in table_lines(recap_rows([ex(1, host="localhost"),
                                                   ex(22, "skipped", code=-1, seconds=0)]))]
    assert lines[0].split() == ["ID", "HOST", "STATUS", "EXIT", "RUNS", "ATTEMPTS", "DURATION"]
    assert lines[1].split() == ["1", "localhost", "success", "0", "1", "1", "1.00s"]
    assert lines[2].split() == ["22", "h", "skipped", "-", "1", "1", "0.00s"]
    assert len({line.index("STATUS") if i == 0 else line.index(("success", "skipped")[i - 1])
                for i, line in enumerate(lines)}) == 1


def test_durations_read_like_a_clock_past_a_minute() -> None:
    assert [duration_text(s) for s in (0.5, 59.994, 187, 7500)] == [
        "0.50s", "59.99s", "3m07s", "2h05m"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(min_size=0, max_size=30), min_size=1, max_size=5))
def test_no_row_reads_like_an_appendix_a_line_whatever_the_host(hosts: List[str]) -> None:
    """Host names can come from task outputs: blanks in them are shown as escapes."""
    runs = [ex(n, host=host, block=None if n % 2 else 7, start=n)
            for n, host in enumerate(hosts + ["Task 5: Exit code: 0", "Task", "5:"])]
    for text, _status in table_lines(recap_rows(runs, limit=2)):
        assert not A1_LINE.search(text), text
        assert "\n" not in text


def test_the_recap_goes_through_the_log_masked_timestamped_and_coloured_on_the_console(
        tmp_path: Path) -> None:
    console = io.StringIO()
    log = Log(masker=Masker(("s3cret",)), stream=console)
    log.open_file(tmp_path / "run.log")
    trace = [TraceEntry(task=1, hostname="s3cret-host", exit_code=0, success=True,
                        start_time=5.0, duration=1.0, status="success"),
             TraceEntry(task=2, exit_code=3, start_time=6.0, duration=1.0, status="failed")]
    log_recap(log, [execution(e, Masker(("s3cret",))) for e in trace], colour=True)
    log.close()
    shown, kept = console.getvalue(), (tmp_path / "run.log").read_text()
    assert "s3cret" not in shown + kept and "****-host" in kept
    assert "\x1b[32m" in shown and "\x1b[31m" in shown and "\x1b[1mRECAP\x1b[0m" in shown
    assert "\x1b" not in kept
    assert kept.splitlines()[0].endswith("] RECAP")
    assert re.match(r"\[\d\d[A-Z][a-z]{2}\d\d \d\d:\d\d:\d\d\]   2 .* failed", kept.splitlines()[3])
    assert kept.splitlines()[-1].endswith("  1 succeeded, 0 skipped, 1 failed")


def test_without_colour_the_console_has_the_files_lines(tmp_path: Path) -> None:
    console = io.StringIO()
    log = Log(stream=console)
    log.open_file(tmp_path / "run.log")
    log_recap(log, [ex(1)], colour=False)
    log.close()
    assert console.getvalue() == (tmp_path / "run.log").read_text()
    assert "\x1b" not in console.getvalue()


def test_an_empty_run_says_no_task_ran() -> None:
    console = io.StringIO()
    log_recap(Log(stream=console), [], colour=False)
    assert [line.split("] ", 1)[1] for line in console.getvalue().splitlines()] == [
        "RECAP", "  no task ran"]


def test_the_recap_is_an_info_line_a_warn_console_does_not_show() -> None:
    console = io.StringIO()
    log_recap(Log(level="WARN", stream=console), [ex(1)], colour=True)
    assert console.getvalue() == ""


def test_colour_only_on_a_terminal_and_never_with_no_color() -> None:
    master, slave = os.openpty()
    read, write = os.pipe()
    try:
        with open(slave, "w", closefd=False) as tty, open(write, "w", closefd=False) as pipe:
            assert wants_colour(tty, {})
            assert wants_colour(tty, {"NO_COLOR": ""})  # (set but empty: no-color.org)
            assert not wants_colour(tty, {"NO_COLOR": "1"})
            assert not wants_colour(tty, {"TERM": "dumb"})
            assert not wants_colour(pipe, {})
            assert not wants_colour(None, {})
    finally:
        for fd in (master, slave, read, write):
            os.close(fd)


class CountingStream(io.StringIO):
    """A console that counts its writes."""

    writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


def test_the_recap_is_written_at_once_so_no_other_line_comes_between() -> None:
    console = CountingStream()
    log_recap(Log(stream=console), [ex(n, start=n) for n in range(80)], colour=True)
    assert console.writes == 1 and len(console.getvalue().splitlines()) == 83


def block_run(*statuses: str) -> List[Execution]:
    """Block 0 (traced after its sub-tasks, failed unless all succeeded) with sub-tasks
    10, 11, ... of the given statuses, then task 1."""
    subs = [ex(10 + n, status, block=0, start=2 + n, code=0 if status == "success" else 1)
            for n, status in enumerate(statuses)]
    whole = all(s == "success" for s in statuses)
    return subs + [ex(0, "success" if whole else "failed", host="", start=1,
                      code=0 if whole else 1), ex(1, start=9)]


def test_a_block_stays_where_it_ran_and_only_failed_sub_tasks_move_to_the_end() -> None:
    """samples/parallel.txt: min_success=2 held, sub-task 11 failed."""
    runs = block_run("success", "failed", "success")
    rows = recap_rows(runs)
    assert [r.label for r in rows] == ["0", "0-10", "0-12", "1", "0-11"]
    assert rows[0].status_text == "partial(2/3)" and not rows[0].failed
    lines = [text.split() for text, _ in table_lines(rows)]
    assert lines[1][:4] == ["0", "-", "partial(2/3)", "1"]
    # commands only: the block is not counted, its failed sub-task once
    assert closing_line(counted_rows(runs)) == "3 succeeded, 0 skipped, 1 failed"


def test_a_blocks_status_is_success_partial_or_failed_by_its_sub_tasks() -> None:
    def status(*subs: str) -> str:
        return recap_rows(block_run(*subs))[0].status_text

    assert status("success", "success") == "success"
    assert status("success", "skipped") == "success"  # (a skip counts neither way)
    assert status("failed", "timeout", "success") == "partial(1/3)"
    assert status("failed", "timeout") == "failed"
    assert status("skipped") == "skipped"
    rows = recap_rows(block_run("failed", "failed"))
    assert [r.label for r in rows] == ["0", "1", "0-10", "0-11"]  # the block stays put
    assert closing_line(counted_rows(block_run("failed", "failed"))) == (
        "1 succeeded, 0 skipped, 2 failed")


def test_a_partial_block_is_yellow_on_the_console() -> None:
    console = io.StringIO()
    log_recap(Log(stream=console), block_run("success", "failed"), colour=True)
    line = next(line for line in console.getvalue().splitlines() if "partial(1/2)" in line)
    assert "\x1b[33m" in line


def run_record(trace: List[TraceEntry], failure: Optional[dict]) -> RunRecord:
    record_ = RunRecord()
    record_.trace.extend(trace)
    record_.failure = failure
    return record_


def test_a_task_that_ended_the_run_without_a_trace_gets_a_failed_row() -> None:
    """A missing program (exit 20): the engine stores and traces nothing for the task."""
    done = TraceEntry(task=0, hostname="localhost", exit_code=0, success=True,
                      start_time=5.0, duration=1.0, status="success")
    record_ = run_record([done], {"task_id": 1, "exit_code": 20,
                                  "error": "program 'nosuchprog_xyz' was not found"})
    executions = run_executions(record_, Masker(), "failed", 9.0)
    rows = recap_rows(executions)
    assert [(r.label, r.status, r.exit_code, r.host) for r in rows] == [
        ("0", "success", 0, "localhost"), ("1", "failed", None, "")]
    assert [t.split()[:4] for t, _ in table_lines(rows)][2] == ["1", "-", "failed", "-"]
    assert closing_line(counted_rows(executions)) == "1 succeeded, 0 skipped, 1 failed"


def test_no_extra_row_for_a_traced_task_an_interrupt_or_a_success() -> None:
    traced = TraceEntry(task=1, exit_code=3, start_time=5.0, duration=1.0, status="failed")
    sub = TraceEntry(task=11, block=4, exit_code=-15, start_time=5.0, status="failed")
    failure = {"task_id": 1, "exit_code": 3, "error": "return code 3"}
    assert len(run_executions(run_record([traced], failure), Masker(), "failed", 9.0)) == 1
    assert not run_executions(run_record([], failure), Masker(), "interrupted", 9.0)
    assert not run_executions(run_record([], None), Masker(), "failed", 9.0)
    assert len(run_executions(run_record([sub], dict(failure, task_id=4)), Masker(),
                              "failed", 9.0)) == 1  # (a block cut short has its sub-tasks)
