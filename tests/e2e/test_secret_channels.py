"""Secrets stay secret in every channel, and masking comes before any cut (issue 14, §2).

A piece of four characters of a secret must not appear anywhere tasker writes:
console, log, summary, JSON report, state file, stderr diagnostics, effective args.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from test_cli import ROOT, no_traceback

SECRET = "hunter2xyzzy"


def pieces(secret: str = SECRET):
    return [secret[i:i + 4] for i in range(len(secret) - 3)]


def assert_no_piece(text: str, where: str) -> None:
    leaked = [p for p in pieces() if p in text]
    assert not leaked, f"{where} holds {leaked}"


def tasker(tmp: Path, *args: str, umask: int = 0o022, **env: str) -> subprocess.CompletedProcess:
    argv = [sys.executable, str(ROOT / "tasker.py"), *args, "-l", str(tmp / "logs")]
    full_env = dict(os.environ, HOME=str(tmp), NO_COLOR="1", **env)
    return subprocess.run(argv, capture_output=True, text=True, env=full_env, cwd=tmp,
                          timeout=60, umask=umask)


def every_file(tmp: Path) -> str:
    """Every record under `tmp` but the task file's backup (a copy of the file, 0600)."""
    return "".join(p.read_text(errors="replace") for p in tmp.rglob("*")
                   if p.is_file() and p.parent.name != "backup")


def test_a_secret_across_the_log_lines_cut_leaves_no_piece(tmp_path):
    """The output puts the secret over the 200th character of the STDOUT log line."""
    task = tmp_path / "t.txt"
    task.write_text(f"DB_PASSWORD={SECRET}\n"
                    "task=0\nhostname=localhost\nexec=local\ncommand=printf\n"
                    f"arguments=%s {'x' * 196}@DB_PASSWORD@tail\n")
    proc = tasker(tmp_path, str(task), "-r", "-p", "PROJ", "--output-json",
                  str(tmp_path / "r.json"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "****" in proc.stdout
    assert_no_piece(proc.stdout + proc.stderr, "the console")
    assert_no_piece(every_file(tmp_path / "logs"), "the records")
    assert_no_piece((tmp_path / "r.json").read_text(), "the JSON report")


def test_a_located_load_error_is_masked_on_stderr_and_in_the_log(tmp_path):
    """The condition fails to parse after the secret global was put into it."""
    task = tmp_path / "t.txt"
    task.write_text(f"SECRET_COND=exit_0&&{SECRET}\n"
                    "task=0\nhostname=localhost\nexec=local\ncommand=true\n"
                    "success=@SECRET_COND@\n")
    proc = tasker(tmp_path, str(task), "-r", "--output-json", str(tmp_path / "r.json"))
    no_traceback(proc)
    assert proc.returncode == 20
    assert "after substituting globals: '****'" in proc.stderr
    assert_no_piece(proc.stdout + proc.stderr, "the console")
    assert_no_piece(every_file(tmp_path / "logs"), "the records")


def test_show_effective_args_masks_set_and_file_secrets(tmp_path):
    task = tmp_path / "t.txt"
    task.write_text("--set=MY_TOKEN=" + SECRET + "\nSECRET_VARS=API\n"
                    "task=0\nhostname=localhost\nexec=local\ncommand=true\n")
    proc = tasker(tmp_path, str(task), "--show-effective-args", "--set", "API=" + SECRET[::-1])
    assert proc.returncode == 0, proc.stderr
    assert "set: [('MY_TOKEN', '****'), ('API', '****')]" in proc.stdout
    assert_no_piece(proc.stdout, "effective args")
    assert SECRET[::-1][:4] not in proc.stdout


def test_records_are_owner_only_and_new_directories_0700(tmp_path):
    """(The report's default path: tasker makes no directory for a path the operator
    names, see tests/e2e/test_html_report.py.)"""
    task = tmp_path / "t.txt"
    task.write_text("task=0\nhostname=localhost\nexec=local\ncommand=false\n")
    proc = tasker(tmp_path, str(task), "-r", "-p", "ops", "--output-json", umask=0o022)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    logs = tmp_path / "logs"
    files = [*logs.glob("log/*.log"), *logs.glob("backup/*"), *logs.glob("recovery/*"),
             *logs.glob("output/*.json"), logs / "project" / "ops.summary"]
    assert len(files) == 5
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for path in (logs, logs / "log", logs / "backup", logs / "recovery", logs / "output",
                 logs / "project"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700, path


def test_an_existing_base_directory_keeps_its_mode(tmp_path):
    base = tmp_path / "logs"
    base.mkdir()
    os.chmod(base, 0o755)
    task = tmp_path / "t.txt"
    task.write_text("task=0\nhostname=localhost\nexec=local\ncommand=true\n")
    assert tasker(tmp_path, str(task), "-r").returncode == 0
    assert stat.S_IMODE(base.stat().st_mode) == 0o755
    assert stat.S_IMODE((base / "log").stat().st_mode) == 0o700


def test_a_secret_across_the_stored_100_kib_cut_leaves_no_piece(tmp_path):
    """The output puts the secret over character 102,400, where a stored result is cut;
    the task then fails, so the state file keeps the result too."""
    task = tmp_path / "t.txt"
    script = tmp_path / "emit.py"
    script.write_text("import sys\nsys.stdout.write('x' * (102400 - 5) + sys.argv[1] + 'tail')\n"
                      "sys.exit(3)\n")
    task.write_text(f"API_TOKEN={SECRET}\n"
                    f"task=0\nhostname=localhost\nexec=local\ncommand={sys.executable}\n"
                    f"arguments={script} @API_TOKEN@\n")
    proc = tasker(tmp_path, str(task), "-r", "--output-json", str(tmp_path / "r.json"))
    assert proc.returncode == 3, proc.stdout + proc.stderr
    report = (tmp_path / "r.json").read_text()
    assert '"stdout_truncated": true' in report
    assert_no_piece(report, "the JSON report")
    (state,) = (tmp_path / "logs" / "recovery").glob("*.recovery.json")
    assert_no_piece(state.read_text(), "the state file")
    assert_no_piece(proc.stdout + proc.stderr, "the console")


def test_the_alert_environment_is_masked(tmp_path):
    """A missing program whose path holds the secret: TASKER_ERROR names it, masked."""
    alert = tmp_path / "alert.sh"
    alert.write_text('#!/bin/sh\nenv | grep "^TASKER_" > "$0.env"\n')
    alert.chmod(0o755)
    task = tmp_path / "t.txt"
    task.write_text(f"SECRET_DIR={SECRET}\n"
                    "task=0\nhostname=localhost\nexec=local\ncommand=/x/@SECRET_DIR@/run\n")
    proc = tasker(tmp_path, str(task), "-r", "--skip-host-validation", "--alert-on-failure",
                  str(alert))
    assert proc.returncode == 20, proc.stdout + proc.stderr
    told = (tmp_path / "alert.sh.env").read_text()
    assert "TASKER_ERROR=program '/x/****/run' was not found" in told
    assert_no_piece(told, "the alert's environment")


def test_the_instance_lock_holds_masked_globals_and_is_owner_only(tmp_path):
    """A task copies the lock file while the run holds it."""
    task = tmp_path / "t.txt"
    task.write_text(f"DB_PASSWORD={SECRET}\n"
                    "task=0\nhostname=localhost\nexec=shell\n"
                    f"command=cp $HOME/TASKER/locks/*.lock {tmp_path}/lock.copy; "
                    f"stat -c %a $HOME/TASKER/locks/*.lock > {tmp_path}/lock.mode\n")
    proc = tasker(tmp_path, str(task), "-r", "--skip-host-validation", "--instance-check")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    copy = (tmp_path / "lock.copy").read_text()
    assert '"DB_PASSWORD": "****"' in copy
    assert_no_piece(copy, "the lock file")
    assert (tmp_path / "lock.mode").read_text().strip() == "600"
