"""End-to-end: what the operator sees (issue 17): validation warnings in every run, and the
papercuts of the command line (--output-json -, the task file among the words, --show-plan
without a terminal, errors shown once, commands quoted, --version)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, List

import pytest

from tests.e2e.test_cli import ROOT, tasker

TYPO = """\
task=1
hostname=localhost
command=echo
arguments=one
exec=local
on_sucess=2

task=2
hostname=localhost
command=echo
arguments=two
exec=local
"""


def _warn_lines(text: str) -> int:
    return sum(1 for line in text.splitlines() if "WARN:" in line)


def _write(tmp: Path, text: str, name: str = "t.txt") -> Path:
    path = tmp / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("mode", [[], ["-r"]], ids=["dry", "real"])
def test_unknown_key_warns_on_stderr_with_a_hint(tmp_path: Path, mode: List[str]) -> None:
    """`on_sucess=2` is shown, located and with its hint, on a dry and on a real run; stdout
    keeps the original's count of WARN: lines (it has the validation warning at DEBUG only)."""
    path = _write(tmp_path, TYPO)
    proc = tasker(path, *mode, "--skip-host-validation", tmp=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{path}:6:1: warning: Task 1 has unknown field 'on_sucess'; it is ignored" \
        in proc.stderr
    assert "hint: did you mean `on_success`?" in proc.stderr
    assert proc.stderr.count("unknown field 'on_sucess'") == 1  # once
    assert not re.search(r"^\[\d\d\w\w\w\d\d ", proc.stderr, re.M)  # no timestamp
    assert "on_sucess" not in proc.stdout
    clean = _write(tmp_path, TYPO.replace("on_sucess=2\n", ""), "clean.txt")
    before = tasker(clean, *mode, "--skip-host-validation", tmp=tmp_path)
    assert _warn_lines(proc.stdout) == _warn_lines(before.stdout)


def test_the_log_file_keeps_the_warning_at_debug(tmp_path: Path) -> None:
    """The log file has the warning as before: one DEBUG line with the hint."""
    path = _write(tmp_path, TYPO)
    tasker(path, "-r", "--skip-host-validation", tmp=tmp_path)
    (log,) = (tmp_path / "logs" / "log").glob("t_*.log")
    text = log.read_text()
    assert "DEBUG: # WARNING: Line 6: Task 1 has unknown field 'on_sucess'; it is ignored " \
           "(hint: did you mean `on_success`?)" in text
    assert text.count("on_sucess") == 1


def test_warnings_of_one_kind_past_twenty_are_counted(tmp_path: Path) -> None:
    """25 unknown keys: 20 are shown, one line counts the other 5; secrets masked."""
    keys = "".join(f"zz{i}=1\n" for i in range(25))
    path = _write(tmp_path, "SECRET_TOKEN=hunter22\n" + TYPO.replace("on_sucess=2\n", keys)
                  + "arguments=@SECRET_TOKEN@ x\n")
    proc = tasker(path, "--skip-host-validation", tmp=tmp_path)
    assert proc.stderr.count(": warning: Task 1 has unknown field 'zz") == 20
    assert "... and 5 more warnings like" in proc.stderr
    assert "hunter22" not in proc.stdout + proc.stderr
