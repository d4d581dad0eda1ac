"""Fault injection: the log's disk fills up, the log directory cannot be made (issue 14, §4).

A failed write is never an internal error: with its log gone, tasker starts
nothing more, says which path failed and why, still writes the JSON report
where that can be written, runs the alert and exits 26.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

from test_cli import ROOT, no_traceback

TASKS = 40


def forty_tasks(tmp: Path) -> Path:
    """40 tasks, each marking that it ran and printing 200 characters."""
    markers = tmp / "markers"
    lines = []
    for n in range(TASKS):
        lines += [f"task={n}", "hostname=localhost", "exec=local", "command=sh",
                  f"arguments=-c 'echo {n} >> {markers}; printf \"%0200d\" 0'", ""]
    path = tmp / "forty.txt"
    path.write_text("\n".join(lines))
    return path


def alert_script(tmp: Path) -> Path:
    script = tmp / "alert.sh"
    script.write_text('#!/bin/sh\necho "$TASKER_EXIT_CODE|$TASKER_ERROR" > "$0.out"\n')
    script.chmod(0o755)
    return script


def run(tmp: Path, base: Path, limit_bytes: int = 0, *extra: str) -> subprocess.CompletedProcess:
    """tasker -r on the forty tasks, logs under `base`; `limit_bytes` caps every file
    tasker writes (RLIMIT_FSIZE), the fallback where no small tmpfs can be mounted."""
    def cap() -> None:
        if limit_bytes:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    argv = [sys.executable, str(ROOT / "tasker.py"), "-r", str(forty_tasks(tmp)), "-l",
            str(base), "--no-task-backup", "--output-json", str(tmp / "r.json"),
            "--alert-on-failure", str(alert_script(tmp)), *extra]
    env = dict(os.environ, HOME=str(tmp), NO_COLOR="1")
    return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=tmp, timeout=120,
                          preexec_fn=cap)


def test_a_full_log_disk_stops_launching_and_exits_26(tmp_path, small_tmpfs):
    disk = small_tmpfs("256k", free=12 * 1024)
    if disk is not None:
        proc, reason = run(tmp_path, disk / "base"), "No space left on device"
    else:  # no mount here: every file tasker writes is capped instead
        proc, reason = run(tmp_path, tmp_path / "base", limit_bytes=16 * 1024), "File too large"
    no_traceback(proc)
    assert proc.returncode == 26, proc.stdout[-2000:] + proc.stderr
    ran = (tmp_path / "markers").read_text().split()
    assert 0 < len(ran) < TASKS  # some ran, then nothing more was started
    assert ran == [str(n) for n in range(len(ran))]
    log_line = next(x for x in proc.stdout.splitlines() if "cannot write the log file" in x)
    assert "ERROR: " in log_line and reason in log_line and str(tmp_path) in log_line
    if disk is not None:
        report = json.loads((tmp_path / "r.json").read_text())
        meta = report["workflow_metadata"]
        assert (meta["status"], meta["exit_code"]) == ("failed", 26)
        assert reason in report["execution_summary"]["failure_info"]["error"]
        assert (tmp_path / "alert.sh.out").read_text().startswith("26|cannot write the log file")
        # Space is back: the run resumes after what was recorded, and finishes.
        (disk / "filler").unlink()
        again = run(tmp_path, disk / "base", 0, "--auto-recovery")
        assert again.returncode == 0, again.stdout[-2000:] + again.stderr
        runs = [int(n) for n in (tmp_path / "markers").read_text().split()]
        first, second = runs[:len(ran)], runs[len(ran):]
        resumed = int(again.stdout.split("resuming workflow at task ")[1].split()[0])
        # Every task ran; only those the full disk kept out of the state file ran twice.
        assert second == list(range(resumed, TASKS)) and resumed <= len(first)


def test_a_log_directory_that_cannot_be_made_exits_1_and_still_writes_the_report(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the log directory should be")
    proc = run(tmp_path, blocker / "base")
    no_traceback(proc)
    assert proc.returncode == 1
    assert proc.stderr.count("cannot create log directory") == 1
    assert "Not a directory" in proc.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert (report["workflow_metadata"]["status"], report["workflow_metadata"]["exit_code"]) \
        == ("failed", 1)
    assert not (tmp_path / "markers").exists()  # nothing ran


def test_running_sub_tasks_finish_when_the_log_fails(tmp_path, small_tmpfs):
    """The log fails while a block runs: no sub-task is started after that, and the ones
    running then end by themselves (none killed), and the run ends with exit 26."""
    subs = "".join(f"task={n}\nhostname=localhost\nexec=local\ncommand=sh\n"
                   f"arguments=-c 'sleep 0.3; echo {n} >> {tmp_path / 'markers'}; "
                   f"printf \"%0190d\" 0'\n\n" for n in range(10, 40))
    block = ("task=0\ntype=parallel\nmax_parallel=3\n"
             f"tasks={','.join(str(n) for n in range(10, 40))}\n\n")
    (tmp_path / "block.txt").write_text(block + subs)
    disk = small_tmpfs("256k", free=6 * 1024)
    base = disk / "base" if disk is not None else tmp_path / "base"

    def cap() -> None:
        if disk is None:  # no mount here: every file tasker writes is capped instead
            resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192))

    argv = [sys.executable, str(ROOT / "tasker.py"), "-r", str(tmp_path / "block.txt"),
            "-l", str(base), "--no-task-backup", "--skip-host-validation",
            "--output-json", str(tmp_path / "r.json")]
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path, timeout=120,
                          env=dict(os.environ, HOME=str(tmp_path), NO_COLOR="1"),
                          preexec_fn=cap)
    no_traceback(proc)
    assert proc.returncode == 26, proc.stdout[-2000:] + proc.stderr
    finished = (tmp_path / "markers").read_text().split()
    assert 0 < len(finished) < 30
    started = [x for x in proc.stdout.splitlines() if "Executing [local]" in x]
    assert len(started) == len(finished)  # every sub-task that started also finished
    assert "Exit code: -15" not in proc.stdout
