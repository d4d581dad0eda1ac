"""End-to-end: what the operator sees (issue 17): validation warnings in every run, and the
papercuts of the command line (--output-json -, the task file among the words, --show-plan
without a terminal, errors shown once, commands quoted, --version)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import List

import pytest

from tests.e2e.test_cli import tasker

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


def test_a_did_you_mean_is_never_among_the_counted(tmp_path: Path) -> None:
    """25 unknown keys with `on_sucess` after them: the typo is shown with its hint, and
    counted warnings are the others only."""
    keys = "".join(f"zz{i}=1\n" for i in range(25))
    path = _write(tmp_path, TYPO.replace("on_sucess=2\n", keys + "on_sucess=2\n"))
    proc = tasker(path, "--skip-host-validation", tmp=tmp_path)
    assert proc.stderr.count(": warning: Task 1 has unknown field 'zz") == 20
    assert "unknown field 'on_sucess'; it is ignored" in proc.stderr
    assert "hint: did you mean `on_success`?" in proc.stderr
    assert "... and 5 more warnings like" in proc.stderr


HELLO = """\
task=0
hostname=localhost
command=echo
arguments=hello
exec=local
"""


# ---- --output-json - ------------------------------------------------------------------
@pytest.mark.parametrize("mode", [[], ["-r"]], ids=["dry", "real"])
def test_output_json_dash_writes_the_report_to_stdout(tmp_path: Path, mode: List[str]) -> None:
    """stdout is the report alone; the console log is on stderr; no file named '-'."""
    path = _write(tmp_path, HELLO)
    proc = tasker(path, *mode, "--skip-host-validation", "--output-json", "-", tmp=tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["workflow_metadata"]["status"] == "success"
    assert report["execution_summary"]["execution_path"] == [0]
    assert "Task 0: Exit code: 0" in proc.stderr
    assert not (tmp_path / "-").exists()


def test_output_json_dash_on_a_validation_failure(tmp_path: Path) -> None:
    path = _write(tmp_path, HELLO + "return=x\n")
    proc = tasker(path, "-r", "--output-json", "-", tmp=tmp_path)
    assert proc.returncode == 20
    assert json.loads(proc.stdout)["workflow_metadata"]["status"] == "validation_failed"
    assert "return must be a whole number" in proc.stderr


def test_output_json_dash_with_graph_is_a_usage_error(tmp_path: Path) -> None:
    proc = tasker(_write(tmp_path, HELLO), "--graph", "dot", "--output-json", "-", tmp=tmp_path)
    assert proc.returncode == 2
    assert "--graph and --output-json - both write to standard output" in proc.stderr
    assert "digraph" not in proc.stdout


# ---- which word is the task file --------------------------------------------------------
def test_the_only_word_that_can_be_the_task_file_is_it(tmp_path: Path) -> None:
    """`tasker --output-json FILE`: FILE is the task file, the report goes to its default path."""
    path = _write(tmp_path, HELLO)
    proc = tasker("--output-json", path, "-r", "--skip-host-validation", tmp=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Task 0: STDOUT: hello" in proc.stdout
    (report,) = (tmp_path / "logs" / "output").glob("t_*.json")
    assert json.loads(report.read_text())["workflow_metadata"]["status"] == "success"


@pytest.mark.parametrize("args, message", [
    (["-r"], "no task file given"),
    (["--output-json=r.json"], "no task file given"),
    (["a.txt", "b.txt"], "2 words could be the task file ('a.txt', 'b.txt')"),
])
def test_no_task_file_or_several_is_a_clear_usage_error(tmp_path: Path, args: List[str],
                                                       message: str) -> None:
    proc = tasker(*args, tmp=tmp_path)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


# ---- --show-plan and the terminal ---------------------------------------------------------
def _with_terminal(tmp: Path, path: Path, answer: str) -> subprocess.CompletedProcess:
    """Run `--show-plan -r` with a pseudo-terminal on stdin that has `answer` typed into it."""
    main, other = os.openpty()
    try:
        os.write(main, answer.encode() + b"\n")
        return tasker(path, "-r", "--show-plan", "--skip-host-validation", tmp=tmp,
                      stdin=other)
    finally:
        os.close(other)
        os.close(main)


def test_show_plan_asks_on_a_terminal(tmp_path: Path) -> None:
    path = _write(tmp_path, HELLO)
    yes = _with_terminal(tmp_path, path, "y")
    assert yes.returncode == 0 and "Task 0: Executing [local]: echo hello" in yes.stdout
    assert "Proceed with execution? [y/N]: " in yes.stdout
    no = _with_terminal(tmp_path, path, "n")
    assert no.returncode == 0 and "Execution cancelled by user." in no.stdout
    assert "Task 0: Executing" not in no.stdout


def test_show_plan_without_a_terminal_exits_2_and_says_why(tmp_path: Path) -> None:
    proc = tasker(_write(tmp_path, HELLO), "-r", "--show-plan", "--skip-host-validation",
                  "--output-json", tmp_path / "r.json", tmp=tmp_path, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2
    assert "ERROR: --show-plan needs a terminal to ask for confirmation; add -y to proceed " \
           "without asking" in proc.stdout
    assert "Task 0: Executing" not in proc.stdout
    meta = json.loads((tmp_path / "r.json").read_text())["workflow_metadata"]
    assert (meta["status"], meta["exit_code"]) == ("failed", 2)


# ---- a validation error once ------------------------------------------------------------------
def test_a_validation_error_is_shown_once(tmp_path: Path) -> None:
    """On the console the located form on stderr; the log file keeps its ERROR: line."""
    path = _write(tmp_path, HELLO + "return=x\n")
    proc = tasker(path, "-r", tmp=tmp_path)
    assert proc.returncode == 20
    sentence = "Task 0: return must be a whole number, not 'x'"
    assert (proc.stdout + proc.stderr).count(sentence) == 1
    assert f"{path}:6:8: error: {sentence}" in proc.stderr
    assert "ERROR: # Task validation FAILED." in proc.stdout
    (log,) = (tmp_path / "logs" / "log").glob("t_*.log")
    assert f"ERROR: {path}:6:8: error: {sentence}" in log.read_text()


# ---- commands quoted as a shell needs them ----------------------------------------------------
QUOTED = """\
SECRET_PASSWORD=it's me
task=0
hostname=localhost
command=printf
arguments='[%s]' "a b" 'c$d' plain "e'f" '' --pw="@SECRET_PASSWORD@"
exec=local

task=1
hostname=localhost
command=echo boom >&2; exit 3
exec=shell
on_failure=2

task=2
hostname=localhost
command=true
exec=local
"""


def test_logged_commands_are_quoted_as_a_shell_needs_them(tmp_path: Path) -> None:
    """Each word masked, then quoted where needed, in the log line, the JSON report and the
    summary; a copied command (without the secret) runs to the same output."""
    path = _write(tmp_path, QUOTED)
    proc = tasker(path, "-r", "--skip-host-validation", "--output-json", tmp_path / "r.json",
                  "-p", "P", tmp=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    shown = "printf '[%s]' 'a b' 'c$d' plain 'e'\"'\"'f' '' '--pw=****'"
    assert f"Task 0: Executing [local]: {shown}\n" in proc.stdout
    assert "Task 1: Executing [shell]: /bin/bash -c 'echo boom >&2; exit 3'\n" in proc.stdout
    assert "it's me" not in proc.stdout and "s me" not in proc.stdout
    results = json.loads((tmp_path / "r.json").read_text())["task_results"]
    assert results["0"]["command"] == shown
    assert results["1"]["command"] == "/bin/bash -c 'echo boom >&2; exit 3'"
    summary = (tmp_path / "logs" / "project" / "P.summary").read_text()
    assert "\ttrue\t" in summary  # (the summary names the last task; `true` needs no quotes)
    copied = subprocess.run(["sh", "-c", shown], capture_output=True, text=True)
    assert f"Task 0: STDOUT: {copied.stdout}" in proc.stdout
    dry = tasker(path, "--skip-host-validation", tmp=tmp_path)
    assert f"Task 0: [DRY RUN] Would execute: {shown}\n" in dry.stdout


def test_the_summary_column_is_quoted(tmp_path: Path) -> None:
    path = _write(tmp_path, HELLO.replace("arguments=hello", "arguments='a b' c"))
    tasker(path, "-r", "--skip-host-validation", "-p", "P", tmp=tmp_path)
    summary = (tmp_path / "logs" / "project" / "P.summary").read_text()
    assert "\techo 'a b' c\t" in summary


# ---- a local program that is not there ---------------------------------------------------------
MISSING = """\
task=0
hostname=localhost
command=./made-later.sh
exec=local

task=1
hostname=localhost
command=no-such-program-here
exec=local

task=2
hostname=localhost
command=@0_stdout@
exec=local
"""


def test_a_missing_local_program_is_a_located_warning(tmp_path: Path) -> None:
    """--validate-only passes (exit 0) but warns at each command; -r stops with exit 20."""
    path = _write(tmp_path, MISSING)
    check = tasker(path, "--validate-only", tmp=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"{path}:3:9: warning: Task 0: program './made-later.sh' is neither on PATH nor " \
           "an existing file" in check.stderr
    assert f"{path}:8:9: warning: Task 1: program 'no-such-program-here'" in check.stderr
    assert "Task 2: program" not in check.stderr  # (a placeholder: known at run time only)
    (tmp_path / "made-later.sh").write_text("#!/bin/sh\necho hi\n")
    (tmp_path / "made-later.sh").chmod(0o755)
    run = tasker(path, "-r", tmp=tmp_path)
    assert "Task 0: program" not in run.stderr  # (an existing path)
    assert run.returncode == 20
    assert "Missing command detected during runtime: no-such-program-here" in run.stdout


def test_version_says_what_this_is(tmp_path: Path) -> None:
    proc = tasker("--version", tmp=tmp_path)
    assert proc.returncode == 0
    assert re.fullmatch(r"tasker \d+\.\d+\.\d+ \(TASKER 2\.x task files\)\n", proc.stdout)
