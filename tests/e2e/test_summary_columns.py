"""End to end: the project summary's added columns (user, duration, UTC offset)."""

from __future__ import annotations

import os
import pwd
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"


def run(tmp: Path, *args: str, env: dict) -> subprocess.CompletedProcess:
    argv = [sys.executable, str(ROOT / "tasker.py"), *args, "-p", "P", "-l", str(tmp / "logs")]
    return subprocess.run(argv, capture_output=True, text=True, cwd=tmp, timeout=60,
                          env=dict(os.environ, HOME=str(tmp), NO_COLOR="1", **env))


def test_new_file_full_header_and_user_from_the_password_database(tmp_path):
    proc = run(tmp_path, str(DATA / "hello.txt"), "-r", "--no-task-backup",
               env={"USER": "not-me", "TZ": "EST5"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    header, line = (tmp_path / "logs" / "project" / "P.summary").read_text().splitlines()
    assert header.split("\t")[8:] == ["User", "Duration_Seconds", "UTC_Offset"]
    fields = line.split("\t")
    assert fields[1:5] == ["SUCCESS", "0", "hello.txt", "1"]
    assert fields[8] == pwd.getpwuid(os.getuid()).pw_name
    assert re.fullmatch(r"\d+\.\d{3}", fields[9])
    assert fields[10] == "-05:00"


def test_an_old_file_keeps_its_header(tmp_path):
    project = tmp_path / "logs" / "project"
    project.mkdir(parents=True)
    old_header = "#Timestamp\tStatus\tExit_Code\tTask_File\tTask_ID\tHostname\tCommand\tLog_File"
    (project / "P.summary").write_text(old_header + "\n")
    proc = run(tmp_path, str(DATA / "failing.txt"), "-r", "--no-task-backup", env={})
    assert proc.returncode == 3
    lines = (project / "P.summary").read_text().splitlines()
    assert lines[0] == old_header and len(lines) == 2
    assert lines[1].split("\t")[1:5] == ["FAILURE", "3", "failing.txt", "1"]
    assert len(lines[1].split("\t")) == 11
