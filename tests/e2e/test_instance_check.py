"""End to end: --instance-check where the lock cannot live is exit 20 with one sentence."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(tmp: Path, home: Path, *extra: str) -> subprocess.CompletedProcess:
    task_file = tmp / "flow.txt"
    task_file.write_text("task=0\nhostname=localhost\ncommand=true\nexec=local\n")
    argv = [sys.executable, str(ROOT / "tasker.py"), str(task_file), "-r", "--instance-check",
            "-p", "P", "--skip-host-validation", "--no-task-backup", "-l", str(tmp / "logs"),
            "--output-json", str(tmp / "r.json"), *extra]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=tmp,
                          stdin=subprocess.DEVNULL,
                          env=dict(os.environ, HOME=str(home), NO_COLOR="1"))


def test_home_where_no_lock_can_be_made_is_exit_20(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    home = blocker / "home"  # under a regular file: mkdir fails with ENOTDIR, even for root
    proc = run(tmp_path, home)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 20, out
    assert "Traceback" not in out and "Internal error" not in out
    errors = [line for line in out.splitlines() if "ERROR:" in line]
    assert len(errors) == 1, errors
    assert f"Cannot use the instance lock file {home}/TASKER/locks/workflow_" in errors[0]
    assert "Not a directory" in errors[0]
    meta = json.loads((tmp_path / "r.json").read_text())["workflow_metadata"]
    assert (meta["status"], meta["exit_code"]) == ("failed", 20)
    columns = (tmp_path / "logs" / "project" / "P.summary").read_text().splitlines()[-1]
    assert columns.split("\t")[1:3] == ["FAILURE", "20"]
    assert columns.split("\t")[6] == "instance_check"


def test_a_writable_home_still_runs_and_leaves_no_lock(tmp_path: Path) -> None:
    proc = run(tmp_path, tmp_path / "home")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not list((tmp_path / "home" / "TASKER" / "locks").iterdir())
