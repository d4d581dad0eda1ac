"""The log writer renders each typed event to its exact SPEC A.1 line; the progress line
follows a block's events on a terminal only."""

import io
import re
import time

import pytest

from tasker.events import (
    AttemptFinished,
    BlockFinished,
    BlockProgress,
    BlockStarted,
    CommandFinished,
    CommandLaunched,
    Note,
    OutputSplit,
    Reporters,
    RoutingDecided,
    RunFinished,
    RunStarted,
    SubtaskFinished,
    TaskFinished,
    TaskStarted,
    debug,
    error,
    info,
    warn,
)
from tasker.report.console import LogReporter
from tasker.report.logger import Log
from tasker.report.masking import Masker
from tasker.report.progress import Progress, ProgressReporter
from tasker.results import SKIPPED, SUCCESS, TIMEOUT, TaskResult

STAMP = re.compile(r"^\[\d\d[A-Z][a-z]{2}\d\d \d\d:\d\d:\d\d\] ")


def lines(*events, masker=None, level="DEBUG"):
    """The console lines the events make, without their timestamps."""
    out = io.StringIO()
    reporters = Reporters(LogReporter(Log(level=level, masker=masker, stream=out)))
    for event in events:
        reporters.emit(event)
    text = out.getvalue().splitlines()
    assert all(STAMP.match(line) for line in text)
    return [STAMP.sub("", line) for line in text]


def result(success=True, status=SUCCESS, task_id=102):
    return TaskResult(task_id, 0 if success else 1, success=success, status=status,
                      hostname="web1", start_time=time.time())


@pytest.mark.parametrize("event, expected", [
    (CommandLaunched(3, "3", "local", "echo hi there"),
     ["Task 3: Executing [local]: echo hi there"]),
    (CommandLaunched(3, "3.2", "pbrun", "pbrun -n -h web1 id", dry_run=True),
     ["Task 3.2: [DRY RUN] Would execute: pbrun -n -h web1 id"]),
    (CommandFinished(3, "3", 0, False, 300.0, "hello\n", None, "", None),
     ["Task 3: Exit code: 0", "Task 3: STDOUT: hello"]),
    (CommandFinished(3, "10-102.2", 124, True, 5.0, "a\nb\n", None, "  err ", None),
     ["Task 10-102.2: Timeout after 5 seconds. Process killed.",
      "Task 10-102.2: Exit code: 124", "Task 10-102.2: STDOUT: a\\nb",
      "Task 10-102.2: STDERR: err"]),
    (CommandFinished(3, "3", 1, False, 7.5, " \n", None, "", None), ["Task 3: Exit code: 1"]),
    (CommandFinished(3, "3", 0, False, 7.5, "x" * 300, None, "y" * 50, 90000),
     ["Task 3: Exit code: 0", "Task 3: STDOUT: " + "x" * 200 + "... (300 chars total)",
      "Task 3: STDERR: " + "y" * 50 + "... (90000 chars total)"]),
    (OutputSplit(3, "3", "stdout", "second", None), ["Task 3: Split STDOUT: second"]),
    (OutputSplit(3, "3.1", "stderr", "e" * 201, None),
     ["Task 3.1: Split STDERR: " + "e" * 200 + "... (201 chars total)"]),
    (OutputSplit(3, "3", "stdout", "  ", None), []),
    (SubtaskFinished(10, 102, "10-102", 1, False, result()),
     ["Task 10-102: Completed - Success: True"]),
    (SubtaskFinished(10, 102, "10-102", 1, True, result(False)),
     ["Task 10-102: Completed - Success: False"]),
    (SubtaskFinished(10, 102, "10-102", 2, True, result()),
     ["Task 10-102.2: SUCCESS after 1 retry attempt(s)",
      "Task 10-102: Completed - Success: True"]),
    (SubtaskFinished(10, 102, "10-102", 3, True, result(False, TIMEOUT)),
     ["Task 10-102.3: FAILED after 2 retry attempt(s) - giving up",
      "Task 10-102: Completed - Success: False (timeout)"]),
    (SubtaskFinished(10, 102, "10-102", 1, False, result(False, SKIPPED)),
     ["Task 10-102: Completed - Success: False (skipped)"]),
    (BlockStarted(10, "parallel", 3, max_parallel=8),
     ["Task 10: Starting parallel execution of 3 tasks (max_parallel=8)"]),
    (BlockStarted(10, "parallel", 3, max_parallel=2, retry=(2, 1.5)),
     ["Task 10: Starting parallel execution of 3 tasks "
      "(max_parallel=2, retry_failed=true (count=2, delay=1.5s))"]),
    (BlockStarted(10, "conditional", 1, branch=False),
     ["Task 10: Executing FALSE branch with 1 tasks (sequential)"]),
    (BlockStarted(10, "conditional", 2, branch=True, retry=(1, 0.0)),
     ["Task 10: Executing TRUE branch with 2 tasks "
      "(sequential, retry_failed=true (count=1, delay=0s))"]),
    (BlockFinished(10, "parallel", 1.234),
     ["Task 10: Parallel execution completed in 1.23 seconds"]),
    (BlockFinished(10, "conditional", 0.005),
     ["Task 10: Conditional execution completed in 0.01 seconds"]),
    (BlockFinished(10, "parallel", 0.5, aborted=True), []),
    (info("Task 3: Sleeping for 2 seconds"), ["Task 3: Sleeping for 2 seconds"]),
    (warn("Task 3: sleep 9999 is too long"), ["WARN: Task 3: sleep 9999 is too long"]),
    (error("FAILED: Workflow stopped"), ["ERROR: FAILED: Workflow stopped"]),
    (debug("Task 3: not sleeping"), ["DEBUG: Task 3: not sleeping"]),
])
def test_each_event_renders_its_a1_lines(event, expected):
    assert lines(event) == expected


def test_events_for_other_subscribers_write_no_line():
    done = result()
    assert lines(RunStarted("t.txt", False, 1.0, 0), TaskStarted(0, "0", None, "h", None, 1),
                 AttemptFinished(0, "0", None, None, 1, done), BlockProgress(1, 0, 2, 1, 0),
                 RoutingDecided(0, 1, "next"), TaskFinished(0, 1),
                 RunFinished(0, "success", None, 0, 2.0)) == []


def test_a_debug_note_stays_off_a_console_at_info():
    assert lines(debug("quiet"), info("loud"), level="INFO") == ["loud"]


def test_secrets_are_masked_in_commands_and_before_an_output_is_cut():
    masker = Masker(("s3cr3tvalue",))
    out = "a" * 195 + "s3cr3tvalue" + "b" * 10
    got = lines(CommandLaunched(1, "1", "local", "login --password s3cr3tvalue"),
                CommandFinished(1, "1", 0, False, 300.0, out, None, "", None),
                Note("INFO", "Task 1: Condition 'x=s3cr3tvalue' evaluated to TRUE"),
                masker=masker)
    assert not any("s3cr3t" in line for line in got)
    assert got[0] == "Task 1: Executing [local]: login --password ****"
    masked = "a" * 195 + "****" + "b" * 10
    assert got[2] == f"Task 1: STDOUT: {masked[:200]}... ({len(masked)} chars total)"


# ---- the progress line -------------------------------------------------------------------
class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def test_progress_line_draws_and_clears():
    stream = FakeTTY()
    with Progress(7, 3, enabled=True, stream=stream, refresh=0.01, show_after=0) as p:
        p.update(BlockProgress(7, 1, 3, 0, 1))
        time.sleep(0.05)
    text = stream.getvalue()
    assert "[block 7] 1/3, running 0, failed 1, elapsed" in text
    assert text.endswith("\r") and "\n" not in text


def test_progress_line_disabled_writes_nothing():
    stream = FakeTTY()
    with Progress(7, 3, enabled=False, stream=stream, show_after=0) as p:
        p.update(BlockProgress(7, 0, 3, 1, 0))
    assert stream.getvalue() == ""


def test_the_progress_subscriber_follows_a_block_and_blanks_before_its_end_line():
    stream, console = FakeTTY(), io.StringIO()
    log = Log(stream=console)
    reporters = Reporters(ProgressReporter(log, stream, refresh=0.01, show_after=0),
                          LogReporter(log))
    reporters.emit(BlockStarted(4, "parallel", 2, max_parallel=2))
    reporters.emit(BlockProgress(4, 1, 2, 1, 0))
    deadline = time.monotonic() + 5
    while "[block 4] 1/2, running 1, failed 0" not in stream.getvalue():
        assert time.monotonic() < deadline, stream.getvalue()
        time.sleep(0.01)
    reporters.emit(BlockProgress(4, 2, 2, 0, 0))
    reporters.emit(BlockFinished(4, "parallel", 0.2))
    drawn = stream.getvalue()
    assert drawn.endswith("\r") and drawn.rstrip("\r").endswith(" ")  # blanked at the end
    assert console.getvalue().count("Task 4: Parallel execution completed in 0.20 seconds") == 1
    size = len(drawn)
    time.sleep(0.05)
    assert len(stream.getvalue()) == size  # nothing drawn once the block ended
