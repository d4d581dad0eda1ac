"""End-to-end: blocks run by `tasker.py` as a subprocess on files under tests/data/blocks/.

Each test runs `python3 tasker.py FILE -r --skip-host-validation --no-task-backup -l TMP
--output-json TMP/r.json` from the repository root and checks the exit code, the JSON report
(`execution_path`, `trace` entries with `block`/`attempt`, block counts) and log lines.
"""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import List, Tuple

import pytest

REPO = Path(__file__).resolve().parents[2]
DATA = Path("tests/data/blocks")


def tasker(tmp: Path, name: str, *extra: str, real: bool = True) -> List[str]:
    """The command line for one data file."""
    argv = [sys.executable, "tasker.py", str(DATA / name), "--skip-host-validation",
            "--no-task-backup", "-l", str(tmp / "logs"), "--output-json", str(tmp / "r.json")]
    return argv + (["-r"] if real else []) + list(extra)


def run(tmp: Path, name: str, *extra: str, real: bool = True) -> Tuple[int, dict, str]:
    """Run tasker to the end; (exit code, JSON report, console output)."""
    proc = subprocess.run(tasker(tmp, name, *extra, real=real), cwd=REPO, capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL,
                          env=dict(os.environ, NO_COLOR="1"))
    out = proc.stdout + proc.stderr
    assert "Traceback (most recent call last)" not in out, out
    report = json.loads((tmp / "r.json").read_text())
    return proc.returncode, report, out


def attempts(report: dict, task: int) -> List[Tuple[int, int]]:
    """(block, attempt) of every trace entry of `task`."""
    return [(e["block"], e["attempt"]) for e in report["trace"] if e["task"] == task]


def test_parallel_retry_and_min_success(tmp_path: Path) -> None:
    code, report, out = run(tmp_path, "parallel_retry.txt", "--set", f"STATE={tmp_path}")
    assert code == 0, out
    assert report["execution_summary"]["execution_path"] == [1, 2]
    assert attempts(report, 10) == [(1, 1)]
    assert attempts(report, 11) == [(1, 1), (1, 2)]
    assert attempts(report, 12) == [(1, 1), (1, 2), (1, 3)]
    block = report["task_results"]["1"]
    assert (block["success_count"], block["failed_count"], block["total_count"]) == (2, 1, 3)
    assert block["stdout"] == "Parallel execution: 2/3 successful, 1 failed"
    assert block["stderr"] == "Failed tasks: [12]. "
    assert report["task_results"]["11"]["attempts"] == 2
    assert report["task_results"]["2"]["stdout"] == "2 of 3, attempt 2 succeeds"
    assert "Task 1-11.1: FAILED - will retry as Task 1-11.2 in 0s" in out
    assert "Task 1-11.2: SUCCESS after 1 retry attempt(s)" in out
    assert "Task 1-12.3: FAILED after 2 retry attempt(s) - giving up" in out
    assert "Task 1: Parallel success (2/3), jumping to Task 2" in out


@pytest.mark.parametrize("mode, code, path, subs", [
    ("prod", 0, [0, 1, 2], [20, 21]),
    ("test", 10, [0, 1], [30, 21]),  # 21 cannot see task 20's result: all_success fails
])
def test_conditional_branches(tmp_path: Path, mode: str, code: int, path: list,
                              subs: list) -> None:
    got, report, out = run(tmp_path, "conditional.txt", "--set", f"MODE={mode}")
    assert got == code, out
    assert report["execution_summary"]["execution_path"] == path
    assert [e["task"] for e in report["trace"] if e["block"] == 1] == subs
    if code == 0:
        assert report["task_results"]["2"]["stdout"] == "done 2/2"
    else:
        assert report["workflow_metadata"]["status"] == "failed"
        assert report["execution_summary"]["failure_info"]["exit_code"] == 10


@pytest.mark.parametrize("word, code, path", [
    ("never", 10, [0]), ("loop", 10, [0]), ("always", 0, [0, 1]),
    ("success", 0, [0, 1]),  # all_success, as on a parallel block (C4; HEAD: false)
])
def test_conditional_special_next_words(tmp_path: Path, word: str, code: int,
                                        path: list) -> None:
    """II.5.2: never/loop are false on a conditional block, which never loops."""
    text = (REPO / DATA / "conditional_next.txt").read_text()
    if word == "loop":
        text = text.replace("next=@WORD@\n", "next=@WORD@\nloop=3\n")
    (tmp_path / "tasks.txt").write_text(text)
    got, report, out = run(tmp_path, str(tmp_path / "tasks.txt"), "--set", f"WORD={word}")
    assert got == code, out
    assert report["execution_summary"]["execution_path"] == path
    assert [e["task"] for e in report["trace"] if e["block"] == 0] == [10]
    if code:
        assert f"Task 0: 'next={word}' on a conditional block is false" in out


@pytest.mark.parametrize("limit, code, path", [("9", 0, [0, 1, 2]), ("3", 10, [0, 1])])
def test_decision_is_stored_and_never_restarts(tmp_path: Path, limit: str, code: int,
                                               path: list) -> None:
    got, report, out = run(tmp_path, "decision.txt", "--set", f"LIMIT={limit}")
    assert got == code, out
    assert report["execution_summary"]["execution_path"] == path
    assert report["task_results"]["1"]["success"] is (code == 0)
    assert "Task 1: DECISION - Evaluating conditions" in out


def test_hostnames_fan_out(tmp_path: Path) -> None:
    code, report, out = run(tmp_path, "hostnames.txt")
    assert code == 0, out
    assert report["execution_summary"]["execution_path"] == [3, 4]
    assert sorted(e["task"] for e in report["trace"] if e["block"] == 3) == \
        [130000, 130001, 130002]
    assert report["task_results"]["130001"]["success"] is False
    assert report["task_results"]["4"]["stdout"] == "2 130002 127.0.0.1"
    assert "Task 3-130001: Executing [local]: sh -c 'echo 130001; test 130001 -ne 130001'" in out


def test_dry_run_runs_nothing(tmp_path: Path) -> None:
    code, report, out = run(tmp_path, "dry_run.txt", "--set", f"DIR={tmp_path}", real=False)
    assert code == 0, out
    assert not list(tmp_path.glob("marker*"))
    assert f"Task 1-10.1: [DRY RUN] Would execute: touch {tmp_path}/marker10" in out
    assert report["task_results"]["11"]["stdout"] == "DRY RUN - Command not executed"
    assert report["workflow_metadata"]["dry_run"] is True


def test_nested_block_is_rejected(tmp_path: Path) -> None:
    code, report, out = run(tmp_path, "nested.txt")
    assert code == 20, out
    assert "blocks cannot be nested" in out
    # Rejected by validation, before anything ran (at run time it would be a fatal error).
    assert report["workflow_metadata"]["status"] == "validation_failed"
    assert report["execution_summary"]["execution_path"] == []


def _alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _wait_for(paths: List[Path], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not all(p.exists() and p.read_text().strip() for p in paths):
        assert time.monotonic() < deadline, f"sub-tasks did not start: {paths}"
        time.sleep(0.05)


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_during_block_kills_children(tmp_path: Path, signum: int, code: int) -> None:
    proc = subprocess.Popen(tasker(tmp_path, "interrupt.txt", "--set", f"DIR={tmp_path}"),
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, text=True)
    files = [tmp_path / n for n in ("10.pid", "10.child", "11.pid", "11.child")]
    try:
        _wait_for(files, 20)
        pids = [int(p.read_text()) for p in files]
        assert all(_alive(pid) for pid in pids)
        proc.send_signal(signum)
        out, _ = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == code, out
    assert not any(_alive(pid) for pid in pids)  # the whole process groups are gone
    assert not (tmp_path / "12.pid").exists()  # nothing new was launched
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["workflow_metadata"]["status"] == "interrupted"
    # The sub-tasks that ran are kept; the interrupted block stores no result (I.4a)
    assert sorted(report["task_results"]) == ["10", "11"]
    assert report["execution_summary"]["execution_path"] == [1]
    assert report["execution_summary"]["failure_info"]["task_id"] == 1


def test_progress_line_on_a_terminal_only(tmp_path: Path) -> None:
    master, slave = pty.openpty()
    proc = subprocess.Popen(tasker(tmp_path, "progress.txt"), cwd=REPO, stdin=subprocess.DEVNULL,
                            stdout=slave, stderr=slave, env=dict(os.environ, TERM="dumb"))
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 30)
        try:
            data = os.read(master, 65536) if ready else b""
        except OSError:  # EIO: the child closed the terminal
            data = b""
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait(timeout=30) == 0
    shown = b"".join(chunks).decode(errors="replace")
    assert "[block 1] " in shown and "/3, running " in shown
    log = next((tmp_path / "logs").rglob("*.log")).read_text()
    assert "[block" not in log and "Task 1: Parallel execution completed" in log
    _, _, out = run(tmp_path, "progress.txt")  # not a terminal: no progress line
    assert "[block" not in out
