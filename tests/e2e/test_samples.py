"""End-to-end: every workflow under samples/ runs as its comments promise.

Each sample is run the way README tells users to run it: `tasker.py samples/<name>.txt -r`
from the repository root (the samples call their helper scripts as ./samples/...), with host
validation skipped, no task-file backup and a throw-away log directory. The assertions are the
exit code each sample was written for, plus a few log lines of SPEC I.8 (Appendix A.1 phrases)
that show the path actually taken.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import List, Sequence

import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"


def run_tasker(tmp_path: Path, sample: str, *extra: str,
               skip_hosts: bool = True) -> subprocess.CompletedProcess:
    """Run `tasker.py samples/<sample> ...` from the repo root and capture its output."""
    cmd: List[str] = [
        sys.executable,
        "tasker.py",
        f"samples/{sample}",
        *(["--skip-host-validation"] if skip_hosts else []),
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
        present=["Task 0.3: Executing", "Task 1: Executing [local]: test 3 -eq 3",
                 "Task 2: STDOUT: loop stopped at 3"],
        absent=["Task 0.4: Executing"],
    )


def test_routing_dry_run_notes_the_simulated_path(tmp_path: Path) -> None:
    """routing without -r: task 1 "succeeds", so 0 -> 1 -> 2 (return=0); the last line says
    the path was decided on simulated results from task 0 on."""
    proc = run_tasker(tmp_path, "routing.txt")
    check(proc, 0, present=["Task 1: Success condition met, jumping to Task 2"],
          absent=["Task 90: [DRY RUN]"])
    assert "Note: from task 0 on, the path of this dry run was decided on simulated" \
        in proc.stdout.rstrip().splitlines()[-1]


def test_hello_dry_run_has_no_note(tmp_path: Path) -> None:
    """hello has no condition or routing: nothing was decided on a simulated result."""
    proc = run_tasker(tmp_path, "hello.txt")
    check(proc, 0, absent=["Note:"])


def test_workflow_takes_the_failure_path(tmp_path: Path) -> None:
    """workflow: task 3 fails (ls of a missing file), so 0 1 2 3 6 7 and return=1."""
    proc = run_tasker(tmp_path, "workflow.txt", "-r")
    check(
        proc,
        1,
        present=["Task 1: STDOUT: hello world", "Task 2.1: Executing", "Task 2.2: Executing",
                 "Task 6: STDOUT: FAILED", "Task 7: STDOUT: task3 exit code = 2"],
        absent=["Task 2.3: Executing", "Task 4: Executing", "Task 5: Executing"],
    )


def test_workflow_dry_run_shows_the_success_path(tmp_path: Path) -> None:
    """Without -r every command "exits 0": 0 1 2 3 4 5, and the note names task 0."""
    proc = run_tasker(tmp_path, "workflow.txt")
    check(proc, 0, present=["Task 5: Returning with exit code 0"],
          absent=["Task 6: [DRY RUN]"])
    assert proc.stdout.rstrip().splitlines()[-1].endswith(
        "Note: from task 0 on, the path of this dry run was decided on simulated results "
        "(exit code 0, output 'DRY RUN STDOUT'); run with -r to follow the real path.")


def test_parallel_block_succeeds_with_two_of_three(tmp_path: Path) -> None:
    """parallel: 10 and 12 succeed, 11 fails; min_success=2 is met."""
    proc = run_tasker(tmp_path, "parallel.txt", "-r")
    check(
        proc,
        0,
        present=["Task 0: Starting parallel execution of 3 tasks (max_parallel=2)",
                 "Task 0-11: Exit code: 1", "Task 0: Parallel success (2/3), jumping to Task 1",
                 "Task 1: STDOUT: 2 of 3 succeeded (1 failed); task 10 said ten"],
        absent=["Task 90:"],
    )


def test_fanout_passes_host_validation_and_runs_on_every_host(tmp_path: Path) -> None:
    """fanout: three loopback names pass host validation (not skipped here); all succeed."""
    proc = run_tasker(tmp_path, "fanout.txt", "-r", skip_hosts=False)
    check(
        proc,
        0,
        present=["All validations passed", "Task 0-100000: STDOUT: sub-task 100000 done",
                 "Task 0-100002: Executing", "Task 1: STDOUT: 3 of 3 hosts succeeded"],
        absent=["[SKIP] Host validation"],
    )


SAMPLE_FILES = sorted(p.name for p in SAMPLES.glob("*.txt"))
TESTED = {"hello.txt", "routing.txt", "loop.txt", "workflow.txt", "parallel.txt",
          "fanout.txt"}


def announced_exit_code(sample: str) -> int:
    """The exit code the sample's header comment announces (`exit code N`)."""
    header = []
    for line in (SAMPLES / sample).read_text().splitlines():
        if not line.startswith("#"):
            break
        header.append(line.lstrip("#").strip())
    found = re.search(r"exit code (\d+)", " ".join(header))
    assert found, f"{sample}: its header comment announces no 'exit code N'"
    return int(found.group(1))


def test_every_sample_has_a_run_test() -> None:
    """A new sample needs its own run test above."""
    assert set(SAMPLE_FILES) <= TESTED, f"untested samples: {sorted(set(SAMPLE_FILES) - TESTED)}"


@pytest.mark.parametrize("sample", SAMPLE_FILES)
def test_sample_passes_validation(tmp_path: Path, sample: str) -> None:
    """Every sample is a valid task file (--validate-only exits 0) without a warning."""
    proc = run_tasker(tmp_path, sample, "--validate-only")
    check(proc, 0)
    assert proc.stderr.strip() == "", proc.stderr


@pytest.mark.parametrize("sample", SAMPLE_FILES)
def test_sample_dry_run_exits_0(tmp_path: Path, sample: str) -> None:
    """The default mode (a dry run) of every sample ends with exit code 0."""
    check(run_tasker(tmp_path, sample), 0)


@pytest.mark.parametrize("sample", SAMPLE_FILES)
def test_sample_real_run_exits_as_announced(tmp_path: Path, sample: str) -> None:
    """With -r every sample ends with the exit code its header comment announces."""
    check(run_tasker(tmp_path, sample, "-r"), announced_exit_code(sample))
