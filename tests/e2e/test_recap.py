"""End to end: the RECAP at the end of real runs (issue 17, section 1)."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

from tests.e2e.test_cli import DATA, ROOT, tasker

STAMP = r"\[\d\d[A-Z][a-z]{2}\d\d \d\d:\d\d:\d\d\] "


def recap(text: str) -> List[str]:
    """The recap's lines without their timestamps, from RECAP to the end."""
    lines = [re.sub("^" + STAMP, "", line) for line in text.splitlines()]
    return lines[lines.index("RECAP"):]


def log_text(tmp: Path) -> str:
    (log,) = (tmp / "logs" / "log").glob("*.log")
    return log.read_text()


def write(tmp: Path, text: str) -> Path:
    path = tmp / "work.txt"
    path.write_text(text)
    return path


LOOP_AND_FAILURE = """\
SECRET_TOKEN=hunter22
task=0
hostname=host-@SECRET_TOKEN@
exec=local
command=echo
arguments=zero
next=loop
loop=3

task=1
hostname=localhost
exec=local
command=sh
arguments=-c "exit 3"
"""


def test_a_real_run_ends_with_the_recap_on_the_console_and_in_the_log(tmp_path: Path) -> None:
    proc = tasker(write(tmp_path, LOOP_AND_FAILURE), "-r", "--skip-host-validation",
                  tmp=tmp_path)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    shown = recap(proc.stdout)
    assert [line.split() for line in shown[1:4]] == [
        ["ID", "HOST", "STATUS", "EXIT", "RUNS", "ATTEMPTS", "DURATION"],
        ["0", "host-****", "success", "0", "3", "1", shown[2].split()[-1]],
        ["1", "localhost", "failed", "3", "1", "1", shown[3].split()[-1]]]
    assert shown[4] == "  1 succeeded, 0 skipped, 1 failed"
    assert len(shown) == 5  # the recap is the end of the console
    assert recap(log_text(tmp_path)) == shown  # (the same lines, timestamps aside)
    assert "hunter22" not in proc.stdout + log_text(tmp_path)
    assert "\x1b" not in proc.stdout  # NO_COLOR (set by tasker()) and a pipe: no colour


def test_the_recap_adds_lines_and_changes_none(tmp_path: Path) -> None:
    proc = tasker(write(tmp_path, LOOP_AND_FAILURE), "-r", "--skip-host-validation",
                  tmp=tmp_path)
    before = proc.stdout.splitlines()[:-5]
    assert before[-1].endswith("ERROR: FAILED: Workflow stopped - last task (Task 1) failed "
                               "with exit code 3.")
    assert sum(1 for line in before if "Task 0.3: Exit code: 0" in line) == 1
    for line in recap(proc.stdout):
        assert not re.search(r"Task [0-9][0-9.\-]*:", line)


def test_a_dry_run_has_no_recap(tmp_path: Path) -> None:
    proc = tasker(write(tmp_path, LOOP_AND_FAILURE), "--skip-host-validation", tmp=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "RECAP" not in proc.stdout + proc.stderr


def test_a_run_that_stops_in_validation_has_no_recap(tmp_path: Path) -> None:
    proc = tasker(DATA / "syntax_error.txt", "-r", tmp=tmp_path)
    assert proc.returncode == 20
    assert "RECAP" not in proc.stdout + proc.stderr


def test_blocks_show_their_sub_tasks_and_retries(tmp_path: Path) -> None:
    """(flaky.sh is named relative to the checkout: run from there)"""
    argv = [sys.executable, "tasker.py", str(DATA / "blocks" / "parallel_retry.txt"), "-r",
            "--skip-host-validation", "--no-task-backup", "-l", str(tmp_path / "logs"),
            "--set", f"STATE={tmp_path}"]
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, NO_COLOR="1"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = {line.split()[0]: line.split() for line in recap(proc.stdout)[2:-1]}
    assert rows["1-11"][2:6] == ["success", "0", "2", "2"]  # failed once, then succeeded
    assert rows["1-12"][2:6] == ["failed", "3", "3", "3"]  # 1 + 2 attempts
    order = [line.split()[0] for line in recap(proc.stdout)[2:-1]]
    # The block stays where it ran, its sub-tasks after it; only the failed sub-task moves
    # to the end. Its min_success=2 held: partial, not failed (although @1_success@ is
    # false), and it is not counted: the closing line counts commands.
    assert order[0] == "1" and sorted(order[1:3]) == ["1-10", "1-11"]
    assert order[3:] == ["2", "1-12"]
    assert rows["1"][2] == "partial(2/3)"
    assert recap(proc.stdout)[-1] == "  3 succeeded, 0 skipped, 1 failed"


SLOW_SECOND_TASK = """\
task=0
hostname=localhost
exec=local
command=echo
arguments=first

task=1
hostname=localhost
exec=local
command=sh
arguments=-c "touch @DIR@/started; exec sleep 60"
"""


def test_an_interrupted_run_shows_a_recap(tmp_path: Path) -> None:
    env = dict(os.environ, HOME=str(tmp_path), NO_COLOR="1")
    argv = [sys.executable, str(ROOT / "tasker.py"), str(write(tmp_path, SLOW_SECOND_TASK)),
            "-r", "--skip-host-validation", "--no-task-backup", "-l", str(tmp_path / "logs"),
            "--set", f"DIR={tmp_path}"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "started").exists():
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 143, out + err
    rows = [line.split()[:3] for line in recap(out)[2:-1]]
    assert rows[0] == ["0", "localhost", "success"]
    assert rows[1][:2] == ["1", "localhost"] and rows[1][2] in ("failed", "timeout")
    assert recap(out)[-1] == "  1 succeeded, 0 skipped, 1 failed"


def run_on_terminal(tmp: Path, env: Dict[str, str]) -> str:
    """tasker's stdout when stdout is a pseudo-terminal (read as it comes: a pty's buffer
    is small)."""
    master, slave = os.openpty()
    argv = [sys.executable, str(ROOT / "tasker.py"), str(DATA / "hello.txt"), "-r",
            "--no-task-backup", "-l", str(tmp / "logs")]
    proc = subprocess.Popen(argv, stdout=slave, stderr=subprocess.DEVNULL, cwd=tmp,
                            env=dict(env, HOME=str(tmp)))
    os.close(slave)
    chunks: List[bytes] = []
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 30)
            assert ready, "tasker said nothing for 30 s"
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: every writer closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        os.close(master)
    return b"".join(chunks).decode("utf-8", "replace")


def _env_without_no_color(**extra: str) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env.pop("TERM", None)
    env.update(extra)
    return env


def test_the_recap_is_coloured_on_a_terminal(tmp_path: Path) -> None:
    out = run_on_terminal(tmp_path, _env_without_no_color())
    assert "\x1b[1mRECAP\x1b[0m" in out
    row = next(line for line in out.splitlines() if " localhost " in line and "RUNS" not in line)
    assert "\x1b[32m" in row and row.rstrip().endswith("\x1b[0m")
    log = log_text(tmp_path)
    assert "\x1b" not in log and "RECAP" in log  # the log file stays plain


def test_no_color_turns_the_colour_off_on_a_terminal(tmp_path: Path) -> None:
    out = run_on_terminal(tmp_path, _env_without_no_color(NO_COLOR="1"))
    assert "RECAP" in out and "\x1b" not in out


def test_a_pipe_gets_no_colour(tmp_path: Path) -> None:
    env: Optional[Dict[str, str]] = _env_without_no_color()
    argv = [sys.executable, str(ROOT / "tasker.py"), str(DATA / "hello.txt"), "-r",
            "--no-task-backup", "-l", str(tmp_path / "logs")]
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path,
                          env=dict(env or {}, HOME=str(tmp_path)), timeout=60)
    assert proc.returncode == 0 and "RECAP" in proc.stdout and "\x1b" not in proc.stdout


MISSING_PROGRAM = """\
task=0
hostname=localhost
exec=local
command=echo
arguments=zero

task=1
hostname=localhost
exec=local
command=nosuchprog_xyz
"""


def test_a_missing_program_that_ends_the_run_has_a_failed_row(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    page = tmp_path / "report.html"
    proc = tasker(write(tmp_path, MISSING_PROGRAM), "-r", "--skip-host-validation",
                  "--output-json", str(report), "--output-html", str(page), tmp=tmp_path)
    assert proc.returncode == 20, proc.stdout + proc.stderr
    assert "Task 1: FATAL ERROR - Missing command detected during runtime" in proc.stdout
    shown = recap(proc.stdout)
    assert [line.split()[:4] for line in shown[2:4]] == [
        ["0", "localhost", "success", "0"], ["1", "-", "failed", "-"]]
    assert shown[-1] == "  1 succeeded, 0 skipped, 1 failed"
    data = json.loads(report.read_text())
    assert list(data["task_results"]) == ["0"]  # (the engine stores no result, as TASKER)
    assert data["execution_summary"]["failure_info"]["task_id"] == 1
    assert '<tr data-task="1" class="failed"><td>1</td><td>-</td><td>failed</td>' \
        '<td class=num>-</td>' in page.read_text()
