"""Log lines, level filtering, buffering before the file opens, threads, shorten()."""

from __future__ import annotations

import io
import re
import threading
import time
from pathlib import Path

import pytest

from tasker.report.logger import Log, level_rank, shorten
from tasker.report.masking import Masker

# 2025-10-05 14:03:11 local time, whatever the test machine's zone is.
FIXED = time.mktime((2025, 10, 5, 14, 3, 11, 0, 0, -1))
STAMP = "[05Oct25 14:03:11] "


def make_log(level: str = "INFO", masker: Masker = None) -> tuple:
    stream = io.StringIO()
    return Log(level, masker=masker, stream=stream, clock=lambda: FIXED), stream


def test_line_format_per_level():
    log, out = make_log("DEBUG")
    log.info("Task 0: Exit code: 0")
    log.warn("Timeout 2 too low, using minimum 5")
    log.error("boom")
    log.debug("# WARNING: something")
    assert out.getvalue().splitlines() == [
        STAMP + "Task 0: Exit code: 0",
        STAMP + "WARN: Timeout 2 too low, using minimum 5",
        STAMP + "ERROR: boom",
        STAMP + "DEBUG: # WARNING: something",
    ]


@pytest.mark.parametrize(
    "level, shown",
    [
        ("ERROR", ["e"]),
        ("WARN", ["e", "w"]),
        ("INFO", ["e", "w", "i"]),
        ("DEBUG", ["e", "w", "i", "d"]),
    ],
)
def test_console_filters_by_level_but_file_gets_everything(tmp_path, level, shown):
    log, out = make_log(level)
    log.open_file(tmp_path / "run.log")
    log.error("e")
    log.warn("w")
    log.info("i")
    log.debug("d")
    log.close()
    console = [line.rsplit(" ", 1)[-1] for line in out.getvalue().splitlines()]
    in_file = [line.rsplit(" ", 1)[-1] for line in (tmp_path / "run.log").read_text().splitlines()]
    assert console == shown
    assert in_file == ["e", "w", "i", "d"]


def test_level_names():
    assert level_rank("warning") == level_rank("WARN") == 1
    with pytest.raises(ValueError):
        level_rank("LOUD")
    log, _ = make_log("debug")
    assert log.level == "DEBUG"
    log.set_level("ERROR")
    assert log.level == "ERROR"


def test_lines_before_open_file_are_written_when_it_opens(tmp_path):
    log, out = make_log()
    log.info("early")
    log.debug("early debug")
    path = tmp_path / "deep" / "dir" / "run.log"
    log.open_file(path)
    log.info("late")
    log.close()
    assert log.path == path
    assert path.read_text().splitlines() == [
        STAMP + "early",
        STAMP + "DEBUG: early debug",
        STAMP + "late",
    ]
    assert out.getvalue().splitlines() == [STAMP + "early", STAMP + "late"]


def test_file_and_console_carry_the_same_lines(tmp_path):
    log, out = make_log("DEBUG")
    log.open_file(tmp_path / "run.log")
    for i in range(5):
        log.info(f"Task {i}: Executing [local]: echo {i}")
    log.plain("WARNING: Skipping host validation can lead to connection failures!")
    log.close()
    assert out.getvalue() == (tmp_path / "run.log").read_text()
    assert out.getvalue().splitlines()[-1] == (
        "WARNING: Skipping host validation can lead to connection failures!"
    )


def test_each_line_reaches_the_file_immediately(tmp_path):
    """Line buffering: a kill -9 after a log call loses nothing."""
    log, _ = make_log()
    path = tmp_path / "run.log"
    log.open_file(path)
    log.info("one")
    assert path.read_text() == STAMP + "one\n"
    log.close()


def test_secrets_are_masked_in_console_and_file(tmp_path):
    log, out = make_log(masker=Masker(("hunter2",)))
    log.info("pw=hunter2 in output")
    log.set_masker(Masker(("s3cret", "hunter2")))
    log.info("then s3cret")
    log.open_file(tmp_path / "run.log")
    log.close()
    text = (tmp_path / "run.log").read_text()
    assert "hunter2" not in out.getvalue() + text
    assert "s3cret" not in text
    assert STAMP + "pw=**** in output" in text


def test_a_secret_that_looks_like_a_date_does_not_eat_the_timestamp():
    log, out = make_log(masker=Masker(("Oct25",)))
    log.info("x Oct25 y")
    assert out.getvalue() == STAMP + "x **** y\n"


def test_timestamp_follows_the_clock():
    now = [FIXED]
    stream = io.StringIO()
    log = Log("INFO", stream=stream, clock=lambda: now[0])
    log.info("a")
    now[0] = FIXED + 61.5
    log.info("b")
    assert stream.getvalue().splitlines() == [STAMP + "a", "[05Oct25 14:04:12] b"]


def test_many_threads_never_interleave_lines(tmp_path):
    log = Log("INFO", stream=io.StringIO())
    log.open_file(tmp_path / "run.log")
    payload = "x" * 300

    def worker(n: int) -> None:
        for i in range(200):
            log.info(f"T{n}-{i} {payload}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.close()
    lines = (tmp_path / "run.log").read_text().splitlines()
    assert len(lines) == 8 * 200
    pattern = re.compile(r"\[\d\d\w{3}\d\d \d\d:\d\d:\d\d\] T\d-\d+ x{300}\Z")
    assert all(pattern.match(line) for line in lines)
    assert len(set(lines)) == len(lines)


def test_closed_console_pipe_does_not_break_logging(tmp_path):
    class Broken(io.StringIO):
        def write(self, s: str) -> int:
            raise BrokenPipeError

    log = Log("INFO", stream=Broken(), clock=lambda: FIXED)
    log.open_file(tmp_path / "run.log")
    log.info("still logged")
    log.info("again")
    log.close()
    assert (tmp_path / "run.log").read_text().count("logged") == 1


def test_logging_1200_lines_is_cheap(tmp_path):
    with open(Path("/dev/null"), "w") as sink:
        log = Log("INFO", stream=sink)
        log.open_file(tmp_path / "run.log")
        start = time.perf_counter()
        for i in range(300):
            log.info(f"Task {i}: Executing [local]: true")
            log.info(f"Task {i}: Exit code: 0")
            log.debug(f"Task {i}: Success condition 'exit_0' evaluated to: True")
            log.info(f"Task {i}: No routing specified, task succeeded - proceeding to next task")
        elapsed = time.perf_counter() - start
        log.close()
    # The target is < 20 ms; allow slack for a loaded CI machine.
    assert elapsed < 0.06, f"1200 log lines took {elapsed * 1000:.1f} ms"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("  hello\n", "hello"),
        ("a\nb\n", "a\\nb"),
        ("", ""),
        ("x" * 200, "x" * 200),
        ("x" * 201, "x" * 200 + "... (201 chars total)"),
        ("\n" + "ab\n" * 100, ("ab\\n" * 50)[:200] + "... (398 chars total)"),
    ],
)
def test_shorten(text, expected):
    assert shorten(text) == expected


def test_shorten_custom_limit():
    assert shorten("abcdef", limit=3) == "abc... (6 chars total)"


def test_a_status_line_is_blanked_before_each_console_line():
    import io

    from tasker.report.logger import Log

    class Status:
        cleared = 0

        def clear_for_log(self):
            Status.cleared += 1

    log = Log(stream=io.StringIO())
    log.set_status(Status())
    log.info("one")
    log.debug("not on the console at INFO")
    log.set_status(None)
    log.info("two")
    assert Status.cleared == 1


# -- hardening: controls, masking before the cut, a log that cannot be written ----------

def test_terminal_controls_are_shown_escaped_in_console_and_file(tmp_path):
    log, out = make_log()
    log.open_file(tmp_path / "t.log")
    log.info("Task 0: STDOUT: \x1b[31mred\x07 tab\there \x9b bell\x7f")
    log.close()
    expected = r"Task 0: STDOUT: \x1b[31mred\x07 tab" + "\there " + r"\x9b bell\x7f"
    assert out.getvalue() == STAMP + expected + "\n"
    assert (tmp_path / "t.log").read_text() == STAMP + expected + "\n"


def test_lines_logged_before_the_file_opened_are_escaped_there_too(tmp_path):
    log, _ = make_log()
    log.info("early \x1b]0;title\x07")
    log.open_file(tmp_path / "t.log")
    log.close()
    assert r"early \x1b]0;title\x07" in (tmp_path / "t.log").read_text()


@pytest.mark.parametrize("offset", range(190, 202))
def test_a_secret_across_the_200_character_cut_leaves_no_piece(offset):
    secret = "hunter2xyzzy"
    log, _ = make_log(masker=Masker((secret,)))
    shown = log.shorten("x" * offset + secret + "y" * 50)
    for start in range(len(secret) - 3):
        assert secret[start:start + 4] not in shown
    assert shown.startswith("x" * min(offset, 200))
    # the count is of the masked text (what the reader could have seen)
    assert shown.endswith(f"... ({offset + 4 + 50} chars total)")


def test_the_log_file_is_created_owner_only(tmp_path):
    import os
    import stat

    old = os.umask(0o022)
    try:
        log, _ = make_log()
        log.open_file(tmp_path / "logs" / "new" / "t.log")
        log.close()
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "logs" / "new" / "t.log").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "logs" / "new").stat().st_mode) == 0o700


def _full_log(tmp_path, monkeypatch, log):
    """Open `log` on /dev/full: every write fails with ENOSPC."""
    import os

    import tasker.report.logger as logger

    monkeypatch.setattr(logger, "open_private", lambda path, flags: os.open("/dev/full",
                                                                            os.O_WRONLY))
    log.open_file(tmp_path / "t.log")


def test_a_full_disk_is_reported_once_and_never_raises(tmp_path, monkeypatch):
    log, out = make_log()
    told = []
    log.on_write_error(told.append)
    _full_log(tmp_path, monkeypatch, log)
    for n in range(5):
        log.info(f"Task {n}: Exit code: 0")
    log.close()
    reason = f"cannot write the log file '{tmp_path / 't.log'}': No space left on device"
    assert log.write_error == reason
    assert told == [reason]
    assert out.getvalue().count("ERROR: " + reason) == 1
    assert out.getvalue().count("Exit code: 0") == 5  # the console keeps every line


def test_a_handler_set_after_the_failure_is_told_at_once(tmp_path, monkeypatch):
    log, _ = make_log()
    log.info("before")
    _full_log(tmp_path, monkeypatch, log)  # the pending line fails to reach the file
    told = []
    log.on_write_error(told.append)
    assert told and "No space left on device" in told[0]


def test_without_a_console_the_failure_goes_to_stderr(tmp_path, monkeypatch, capsys):
    gone = io.StringIO()
    gone.close()  # a console that went away
    log = Log("INFO", stream=gone)
    _full_log(tmp_path, monkeypatch, log)
    log.info("line")
    assert "cannot write the log file" in capsys.readouterr().err
