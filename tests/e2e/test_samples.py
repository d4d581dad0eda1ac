"""End-to-end: every workflow under samples/ runs as its comments promise.

Each sample is run the way README tells users to run it: `tasker.py samples/<name>.txt -r`
from the repository root (the samples call their helper scripts as ./samples/...), with host
validation skipped, no task-file backup and a throw-away log directory. The assertions are the
exit code each sample was written for, plus a few log lines of SPEC I.8 (Appendix A.1 phrases)
that show the path actually taken.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import List, Sequence

import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"


def run_tasker(tmp_path: Path, sample: str, *extra: str) -> subprocess.CompletedProcess:
    """Run `tasker.py samples/<sample> ...` from the repo root and capture its output."""
    cmd: List[str] = [
        sys.executable,
        "tasker.py",
        f"samples/{sample}",
        "--skip-host-validation",
        "--no-task-backup",
        "-l",
        str(tmp_path / "logs"),
        *extra,
    ]
    # TMPDIR keeps the helper scripts' state files inside this test's directory.
    env = dict(os.environ, TMPDIR=str(tmp_path), NO_COLOR="1")
    return subprocess.run(
        cmd,
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


def check(
    proc: subprocess.CompletedProcess,
    exit_code: int,
    present: Sequence[str] = (),
    absent: Sequence[str] = (),
) -> None:
    """Assert the exit code and which log fragments do or do not appear on stdout."""
    shown = f"\n--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
    assert proc.returncode == exit_code, f"exit code {proc.returncode}, wanted {exit_code}{shown}"
    assert "Traceback (most recent call last)" not in proc.stdout + proc.stderr, shown
    for text in present:
        assert text in proc.stdout, f"missing {text!r}{shown}"
    for text in absent:
        assert text not in proc.stdout, f"unexpected {text!r}{shown}"


def test_hello_runs(tmp_path: Path) -> None:
    """hello: two local tasks; the second prints the first one's output."""
    proc = run_tasker(tmp_path, "hello.txt", "-r")
    check(
        proc,
        0,
        present=["Task 0: Executing", "Task 1: STDOUT: task 0 said: hello"],
    )


def test_hello_dry_run_runs_nothing(tmp_path: Path) -> None:
    """Without -r the same file is only walked through: exit 0, no command started."""
    proc = run_tasker(tmp_path, "hello.txt")
    check(proc, 0, present=["[DRY RUN] Would execute"], absent=["Task 0: Executing"])


def test_routing_goes_through_the_failure_handler(tmp_path: Path) -> None:
    """routing: 0 -> 1 (exit 3) -> on_failure 90 -> 91 (return=4)."""
    proc = run_tasker(tmp_path, "routing.txt", "-r")
    check(
        proc,
        4,
        present=[
            "Task 1: Exit code: 3",
            "Task 90: STDOUT: task 1 failed with exit code 3, cleaning up billing",
            "Task 91: Returning with exit code 4",
        ],
        absent=["Task 2: Executing", "Task 99: Executing"],
    )


def test_loop_breaks_at_three(tmp_path: Path) -> None:
    """loop: at most 5 iterations, loop_break=stdout~3 stops after the third."""
    proc = run_tasker(tmp_path, "loop.txt", "-r")
    check(
        proc,
        0,
        present=["Task 0.3: Executing", "Task 1: STDOUT: loop stopped at 3"],
        absent=["Task 0.4: Executing"],
    )


def test_workflow_takes_both_paths_on_two_runs(tmp_path: Path) -> None:
    """workflow: toggle_exit.sh succeeds on the first run and fails on the second."""
    common = [
        "Task 1: STDOUT: hello world",
        "Task 2.1: Executing",
        "Task 2.2: Executing",
    ]
    first = run_tasker(tmp_path, "workflow.txt", "-r")
    check(
        first,
        0,
        present=[*common, "Task 4: STDOUT: hello world", "Task 5: STDOUT: task3 exit code = 0"],
        absent=["Task 2.3: Executing", "Task 6: Executing", "Task 7: Executing"],
    )
    second = run_tasker(tmp_path, "workflow.txt", "-r")
    check(
        second,
        1,
        present=[*common, "Task 6: STDOUT: FAILED", "Task 7: STDOUT: task3 exit code = 1"],
        absent=["Task 2.3: Executing", "Task 4: Executing", "Task 5: Executing"],
    )


SAMPLE_FILES = sorted(p.name for p in SAMPLES.glob("*.txt"))
TESTED = {"hello.txt", "routing.txt", "loop.txt", "workflow.txt"}


def test_every_sample_has_a_run_test() -> None:
    """A new sample needs its own run test above."""
    assert set(SAMPLE_FILES) <= TESTED, f"untested samples: {sorted(set(SAMPLE_FILES) - TESTED)}"


@pytest.mark.parametrize("sample", SAMPLE_FILES)
def test_sample_passes_validation(tmp_path: Path, sample: str) -> None:
    """Every sample is a valid task file (--validate-only exits 0)."""
    proc = run_tasker(tmp_path, sample, "--validate-only")
    check(proc, 0)
