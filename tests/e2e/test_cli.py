"""End to end: `tasker` as a subprocess on files under tests/data/."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"


def tasker(*args, tmp, env=None, **kw):
    """Run tasker with a private log dir; returns the CompletedProcess."""
    full_env = dict(os.environ, HOME=str(tmp), NO_COLOR="1", **(env or {}))
    argv = [sys.executable, str(ROOT / "tasker.py"), *map(str, args), "-l", str(tmp / "logs")]
    return subprocess.run(argv, capture_output=True, text=True, env=full_env, cwd=tmp,
                          timeout=60, **kw)


def report(tmp):
    return json.loads((tmp / "r.json").read_text())


def no_traceback(proc):
    assert "Traceback" not in proc.stdout + proc.stderr


COMMA_CASES = [
    # `exit_0,stdout~ok` used to be a silently false comparison (a comma inside a value,
    # `stdout=Hello, world`, stays text) ...
    ("arguments=Hello, world\nexec=local\nsuccess=stdout=Hello, world\n",
     "exec=local\nsuccess=exit_0,stdout~ok\n", "exit_0,stdout~ok", "exit_0&stdout~ok", "11:15", 1),
    # ... and `stdout~ok,exit_0` matched the text "ok,exit_0" (`stdout~a,b` stays a pattern).
    ("arguments=a,b\nexec=local\nsuccess=stdout~a,b\n",
     "arguments=ok\nexec=local\nsuccess=stdout~ok, exit_0\n", "stdout~ok, exit_0",
     "stdout~ok& exit_0", "12:18", 0),
]


@pytest.mark.parametrize("first, second, bad, good, where, good_rc", COMMA_CASES)
def test_a_comma_followed_by_a_test_is_a_located_validation_error(
        tmp_path, first, second, bad, good, where, good_rc):
    """A comma followed by a test word after a complete test is an operator mistake: exit 20,
    located at the comma with the hint; the file runs once `&` is written instead."""
    path = tmp_path / "comma.txt"
    path.write_text("task=0\nhostname=localhost\ncommand=echo\n" + first
                    + "task=1\nhostname=localhost\ncommand=echo\n" + second)
    proc = tasker(path, "-r", tmp=tmp_path)
    assert proc.returncode == 20
    no_traceback(proc)
    assert f"comma.txt:{where}:" in proc.stderr
    assert "',' is not an operator" in proc.stderr and "'|' (OR)" in proc.stderr
    assert "comma.txt:6" not in proc.stderr  # the comma inside task 0's value is fine
    path.write_text(path.read_text().replace(bad, good))
    assert tasker(path, "-r", tmp=tmp_path).returncode == good_rc


def test_hello_runs_and_writes_every_record(tmp_path):
    proc = tasker(DATA / "hello.txt", "-r", "--output-json", tmp_path / "r.json", "-p", "REL_1.2",
                  tmp=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Task 1: STDOUT: got hello world" in proc.stdout
    rep = report(tmp_path)
    meta, summ = rep["workflow_metadata"], rep["execution_summary"]
    assert (meta["status"], meta["exit_code"], meta["dry_run"]) == ("success", 0, False)
    assert summ["execution_path"] == [0, 1] and summ["final_task"] == 1
    assert rep["task_results"]["1"]["stdout"] == "got hello world"
    assert rep["variables"] == {"GREETING": "hello"}
    assert [e["task"] for e in rep["trace"]] == [0, 1]
    logs = list((tmp_path / "logs" / "log").glob("hello_*.log"))
    assert len(logs) == 1 and "Task 0: Exit code: 0" in logs[0].read_text()
    lines = (tmp_path / "logs" / "project" / "REL_1.summary").read_text().splitlines()
    assert lines[0].startswith("#Timestamp\tStatus\tExit_Code")
    assert lines[1].split("\t")[1:5] == ["SUCCESS", "0", "hello.txt", "1"]
    backups = list((tmp_path / "logs" / "backup").iterdir())
    assert len(backups) == 1


def test_log_lines_carry_the_timestamp_prefix(tmp_path):
    proc = tasker(DATA / "hello.txt", "-r", "--no-task-backup", tmp=tmp_path)
    line = next(x for x in proc.stdout.splitlines() if "Task 0: Executing" in x)
    assert re.match(r"\[\d\d[A-Z][a-z]{2}\d\d \d\d:\d\d:\d\d\] Task 0", line)
    assert line.endswith("Task 0: Executing [local]: echo hello world")


def test_unrouted_failure_stops_with_the_task_exit_code(tmp_path):
    proc = tasker(DATA / "failing.txt", "-r", "--output-json", tmp_path / "r.json", tmp=tmp_path)
    assert proc.returncode == 3
    rep = report(tmp_path)
    assert rep["workflow_metadata"]["status"] == "failed"
    assert rep["execution_summary"]["execution_path"] == [0, 1]
    assert rep["execution_summary"]["failure_info"]["task_id"] == 1
    assert rep["task_results"]["1"]["stderr"] == "broken"


def test_failure_info_names_the_return_task_that_ended_the_run(tmp_path):
    """A return-only task ran no command; it still is the task that ended the run."""
    tasks = tmp_path / "ret.txt"
    tasks.write_text("task=0\nhostname=localhost\nexec=local\ncommand=true\n\n"
                     "task=1\nreturn=3\n")
    alert = tmp_path / "alert.sh"
    alert.write_text("#!/bin/sh\necho \"$TASKER_FAILED_TASK\" > \"$0.out\"\n")
    alert.chmod(0o755)
    proc = tasker(tasks, "-r", "--skip-host-validation", "--output-json", tmp_path / "r.json",
                  "-p", "P", "--alert-on-failure", alert, tmp=tmp_path)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert report(tmp_path)["execution_summary"]["failure_info"] == {
        "task_id": 1, "exit_code": 3, "error": "return code 3"}
    assert (tmp_path / "alert.sh.out").read_text().strip() == "1"
    line = (tmp_path / "logs" / "project" / "P.summary").read_text().splitlines()[1]
    assert line.split("\t")[1:5] == ["FAILURE", "3", "ret.txt", "1"]


def test_parse_error_is_located_with_a_caret(tmp_path):
    proc = tasker(DATA / "syntax_error.txt", "-r", "--output-json", tmp_path / "r.json",
                  "-p", "P", tmp=tmp_path)
    assert proc.returncode == 20
    no_traceback(proc)
    assert "syntax_error.txt:5:" in proc.stderr and "^" in proc.stderr
    assert report(tmp_path)["workflow_metadata"]["status"] == "validation_failed"
    line = (tmp_path / "logs" / "project" / "P.summary").read_text().splitlines()[1]
    assert line.split("\t")[1:7] == ["FAILURE", "20", "syntax_error.txt", "-1", "localhost",
                                      "task_validation"]


def test_missing_file_is_one_sentence_exit_1(tmp_path):
    proc = tasker(tmp_path / "nope.txt", "-r", tmp=tmp_path)
    assert proc.returncode == 1
    no_traceback(proc)
    assert "does not exist" in proc.stderr


def test_no_tasks_exits_24(tmp_path):
    proc = tasker(DATA / "no_tasks.txt", "-r", tmp=tmp_path)
    assert proc.returncode == 24
    assert "WARN: No valid tasks found. Exiting." in proc.stdout  # TASKER's line (A.2)


def test_a_valid_file_logs_both_validation_lines(tmp_path):
    proc = tasker(DATA / "hello.txt", "-r", tmp=tmp_path)
    assert "# Task validation passed successfully." in proc.stdout
    assert "# Task dependency validation passed." in proc.stdout


def test_dry_run_is_the_default_and_writes_no_log(tmp_path):
    proc = tasker(DATA / "hello.txt", tmp=tmp_path)
    assert "[DRY RUN] Would execute: echo hello world" in proc.stdout
    assert not (tmp_path / "logs" / "log").exists()


def test_set_overrides_a_global(tmp_path):
    proc = tasker(DATA / "hello.txt", "-r", "--set", "GREETING=bonjour", tmp=tmp_path)
    assert proc.returncode == 0 and "Task 1: STDOUT: got bonjour world" in proc.stdout


def test_timeout_kills_the_process_group(tmp_path):
    # A duration no other process uses, so pgrep finds only what this run started.
    nap = f"{30 + os.getpid() % 1000 / 1000:.3f}"
    task_file = tmp_path / "timeout.txt"
    task_file.write_text((DATA / "timeout.txt").read_text().replace("sleep 30", f"sleep {nap}"))
    started = time.time()
    proc = tasker(task_file, "-r", "--output-json", tmp_path / "r.json", tmp=tmp_path)
    assert proc.returncode == 124 and time.time() - started < 20
    result = report(tmp_path)["task_results"]["0"]
    assert result["status"] == "timeout"
    assert "Process killed after timeout of 5 seconds" in result["stderr"]
    leftover = subprocess.run(["pgrep", "-f", f"sleep {nap}"], capture_output=True)
    assert leftover.returncode == 1  # nothing left running


def test_start_from_restores_earlier_results(tmp_path):
    flag = tmp_path / "flag"
    first = tasker(DATA / "resume.txt", "-r", "--set", f"FLAG={flag}", tmp=tmp_path)
    assert first.returncode == 1
    flag.write_text("")
    second = tasker(DATA / "resume.txt", "-r", "--set", f"FLAG={flag}", "--start-from", "1",
                    "--output-json", tmp_path / "r.json", tmp=tmp_path)
    assert second.returncode == 0, second.stdout
    assert "Task 2: STDOUT: from-task-zero seen" in second.stdout
    assert report(tmp_path)["execution_summary"]["execution_path"] == [1, 2]


def test_start_from_leaves_out_results_of_the_start_task_and_later(tmp_path):
    """Task 1 reads task 2, which has not run yet in the resumed run: unresolved, not
    the previous run's value; a block before the start keeps its sub-task results."""
    f = tmp_path / "st.txt"
    f.write_text("task=0\ntype=parallel\ntasks=100\n\n"
                 "task=1\nhostname=localhost\nexec=local\ncommand=echo\n"
                 "arguments=saw @2_stdout@ and @100_stdout@\n\n"
                 "task=2\nhostname=localhost\nexec=local\ncommand=echo\narguments=two\n\n"
                 "task=100\nhostname=localhost\nexec=local\ncommand=echo\narguments=sub\n")
    assert tasker(f, "-r", "--skip-host-validation", tmp=tmp_path).returncode == 0
    again = tasker(f, "-r", "--skip-host-validation", "--start-from", "1", tmp=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Task 1: STDOUT: saw @2_stdout@ and sub" in again.stdout
    assert "Restored 2 task result(s)" in again.stdout


def test_start_from_undefined_task_exits_12(tmp_path):
    assert tasker(DATA / "hello.txt", "-r", "--start-from", "7", tmp=tmp_path).returncode == 12


def test_sigterm_stops_the_run_and_writes_the_report(tmp_path):
    argv = [sys.executable, str(ROOT / "tasker.py"), str(DATA / "sleeper.txt"), "-r",
            "--output-json", str(tmp_path / "r.json"), "-l", str(tmp_path / "logs")]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, HOME=str(tmp_path)))
    deadline = time.time() + 10
    while time.time() < deadline and not list(tmp_path.glob("logs/log/*.log")):
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 143, out + err
    rep = report(tmp_path)
    assert rep["workflow_metadata"]["status"] == "interrupted"
    assert rep["workflow_metadata"]["exit_code"] == 143


def test_file_defined_arguments(tmp_path):
    proc = tasker(DATA / "file_args.txt", "-r", tmp=tmp_path)
    # a warning: stdout may be piped
    assert "--fire-and-forget in the task file is ignored" in proc.stderr
    assert proc.returncode == 1  # fire-and-forget from the file is refused
    assert "DEBUG:" in proc.stdout  # --log-level=DEBUG from the file applies


@pytest.mark.parametrize("line, code", [("--help", 20), ("--version", 20), ("-auto-recovery", 2)])
def test_forbidden_file_arguments(tmp_path, line, code):
    f = tmp_path / "t.txt"
    f.write_text(f"{line}\ntask=0\nhostname=localhost\ncommand=true\nexec=local\n")
    proc = tasker(f, "-r", tmp=tmp_path)
    assert proc.returncode == code
    no_traceback(proc)


def test_help_lists_exit_codes(tmp_path):
    proc = tasker("--help", tmp=tmp_path)
    assert proc.returncode == 0
    for code in ("124", "130/143", "20 ", "21 ", "24 ", "25 ", "60 ", "61 "):
        assert code in proc.stdout


def test_version(tmp_path):
    proc = tasker("--version", tmp=tmp_path)
    assert proc.returncode == 0  # (issue 17: says what it is, no longer "TASKER v...")
    assert re.fullmatch(r"tasker \d+\.\d+\.\d+ \(TASKER 2\.x task files\)\n", proc.stdout)


def test_auto_recovery_resumes_at_the_failed_task(tmp_path):
    flag = tmp_path / "flag"
    first = tasker(DATA / "resume.txt", "-r", "--auto-recovery", "--set", f"FLAG={flag}",
                   tmp=tmp_path)
    assert first.returncode == 1
    info = tasker(DATA / "resume.txt", "--show-recovery-info", tmp=tmp_path)
    assert info.returncode == 0 and "resume at:      1" in info.stdout
    flag.write_text("")
    second = tasker(DATA / "resume.txt", "-r", "--auto-recovery", "--set", f"FLAG={flag}",
                    "--output-json", tmp_path / "r.json", tmp=tmp_path)
    assert second.returncode == 0, second.stdout
    assert "Auto-recovery: resuming workflow at task 1" in second.stdout
    assert report(tmp_path)["execution_summary"]["execution_path"] == [1, 2]
    assert not list((tmp_path / "logs" / "recovery").glob("*.json"))  # removed on success


def test_auto_recovery_refuses_a_point_that_needs_results_of_tasks_that_never_ran(tmp_path):
    """0 jumps to 2 over task 1; 2 reads task 1 and fails: resuming at 2 cannot resolve
    it. (A failure routed by on_failure would resume at the routed task instead, I.4a.)"""
    flag = tmp_path / "flag"
    f = tmp_path / "bd.txt"
    f.write_text("task=0\nhostname=localhost\nexec=local\ncommand=true\non_success=2\n\n"
                 "task=1\nhostname=localhost\nexec=local\ncommand=echo\narguments=one\n\n"
                 f"task=2\nhostname=localhost\nexec=local\ncommand=test\n"
                 f"arguments=-f {flag} @1_stdout@\n")
    first = tasker(f, "-r", "--auto-recovery", "--skip-host-validation", tmp=tmp_path)
    assert first.returncode == 2, first.stdout + first.stderr
    flag.write_text("")
    second = tasker(f, "-r", "--auto-recovery", "--skip-host-validation", tmp=tmp_path)
    assert second.returncode == 12
    assert "cannot resume at task 2: it needs results of tasks that never ran (task 2 reads " \
        "@1_stdout@ (arguments))" in second.stdout
    assert list((tmp_path / "logs" / "recovery").glob("*.json"))  # kept for a later attempt


def test_auto_recovery_asks_before_resuming_with_a_changed_environment(tmp_path):
    flag = tmp_path / "flag"
    f = tmp_path / "env.txt"
    f.write_text("E=$ARV\n\ntask=0\nhostname=localhost\nexec=local\ncommand=echo\n"
                 f"arguments=@E@\n\ntask=1\nhostname=localhost\nexec=local\ncommand=test\n"
                 f"arguments=-f {flag}\n")
    argv = (f, "-r", "--auto-recovery", "--skip-host-validation")
    assert tasker(*argv, tmp=tmp_path, env={"ARV": "a"}).returncode == 1
    flag.write_text("")
    refused = tasker(*argv, tmp=tmp_path, env={"ARV": "b"}, stdin=subprocess.DEVNULL)
    assert refused.returncode == 12
    assert "WARN: Auto-recovery: global E was 'a' and is now 'b' since the saved run" \
        in refused.stdout
    agreed = tasker(*argv, "-y", tmp=tmp_path, env={"ARV": "b"}, stdin=subprocess.DEVNULL)
    assert agreed.returncode == 0, agreed.stdout + agreed.stderr


def test_changed_file_refuses_resume_without_force(tmp_path):
    f = tmp_path / "t.txt"
    f.write_text((DATA / "resume.txt").read_text())
    assert tasker(f, "-r", tmp=tmp_path).returncode == 1
    f.write_text(f.read_text() + "\n# edited\n")
    assert tasker(f, "-r", "--start-from", "1", tmp=tmp_path).returncode == 12
    forced = tasker(f, "-r", "--start-from", "2", "--force", tmp=tmp_path)
    assert forced.returncode == 0 and "from-task-zero seen" in forced.stdout


def test_instance_check_refuses_a_second_run(tmp_path):
    argv = [sys.executable, str(ROOT / "tasker.py"), str(DATA / "sleeper.txt"), "-r",
            "--instance-check", "-l", str(tmp_path / "logs")]
    env = dict(os.environ, HOME=str(tmp_path))
    first = subprocess.Popen(argv, stdout=subprocess.DEVNULL, env=env)
    try:
        deadline = time.time() + 10
        while time.time() < deadline and not any(
                p.stat().st_size for p in tmp_path.glob("TASKER/locks/*.lock")):
            time.sleep(0.05)
        lock = json.loads(next(tmp_path.glob("TASKER/locks/*.lock")).read_text())
        assert len(lock["key"]) == 16 and lock["pid"] == first.pid
        second = tasker(DATA / "sleeper.txt", "-r", "--instance-check", "-p", "P",
                        "--output-json", tmp_path / "r.json", tmp=tmp_path)
        assert second.returncode == 25
        assert "already running" in second.stdout
        rep = report(tmp_path)  # every exit writes the report (I.6), but no summary line
        assert (rep["workflow_metadata"]["status"], rep["workflow_metadata"]["exit_code"]) == (
            "failed", 25)
        assert not (tmp_path / "logs" / "project" / "P.summary").exists()
        forced = tasker(DATA / "hello.txt", "-r", "--instance-check", "--force-instance",
                        tmp=tmp_path)
        assert forced.returncode == 0
    finally:
        first.terminate()
        first.wait(timeout=20)
    assert not list(tmp_path.glob("TASKER/locks/*.lock"))


def test_graph_prints_dot_and_mermaid(tmp_path):
    dot = tasker(DATA / "failing.txt", "--graph", "dot", tmp=tmp_path)
    assert dot.returncode == 0 and dot.stdout.lstrip().startswith("digraph")
    mermaid = tasker(DATA / "failing.txt", "--graph", "mermaid", tmp=tmp_path)
    assert mermaid.returncode == 0 and "flowchart TD" in mermaid.stdout


def test_show_plan_refuses_without_a_terminal_unless_yes(tmp_path):
    declined = tasker(DATA / "hello.txt", "-r", "--show-plan", tmp=tmp_path,
                      stdin=subprocess.DEVNULL)
    assert declined.returncode == 2  # (issue 17: a usage error, no longer exit 0)
    assert "needs a terminal" in declined.stdout
    assert "Task 0: Executing" not in declined.stdout
    accepted = tasker(DATA / "hello.txt", "-r", "--show-plan", "-y", tmp=tmp_path)
    assert accepted.returncode == 0 and "Task 1: Executing" in accepted.stdout


def test_globals_are_security_checked_even_with_skip_validation(tmp_path):
    f = tmp_path / "t.txt"
    f.write_text("EVIL=x; rm -rf /tmp/x\ntask=0\nhostname=localhost\ncommand=echo\n"
                 "arguments=@EVIL@\nexec=local\n")
    proc = tasker(f, "-r", "--skip-validation", tmp=tmp_path)
    assert proc.returncode == 20
    no_traceback(proc)


@pytest.mark.parametrize("line, code", [("--force-instance", 20), ("-auto-recovery", 2)])
def test_bad_file_argument_names_the_file_and_line(tmp_path, line, code):
    f = tmp_path / "t.txt"
    f.write_text(f"# header\n--log-level=DEBUG\n{line}\ntask=0\nhostname=localhost\n"
                 "command=true\nexec=local\n")
    proc = tasker(f, "-r", tmp=tmp_path)
    assert proc.returncode == code
    assert f"{f}:3: error: task file argument '{line}'" in proc.stderr
    no_traceback(proc)


def test_a_closed_stdout_does_not_crash(tmp_path):
    argv = [sys.executable, str(ROOT / "tasker.py"), str(DATA / "hello.txt"), "-r", "--show-plan",
            "-y", "-l", str(tmp_path / "logs")]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=dict(os.environ, HOME=str(tmp_path)))
    proc.stdout.readline()
    proc.stdout.close()  # like `| head -1`
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=30) == 0
    assert "Traceback" not in err


def test_auto_recovery_after_a_completed_run_starts_afresh(tmp_path):
    assert tasker(DATA / "hello.txt", "-r", tmp=tmp_path).returncode == 0
    again = tasker(DATA / "hello.txt", "-r", "--auto-recovery", "--output-json",
                   tmp_path / "r.json", tmp=tmp_path)
    assert again.returncode == 0 and "Auto-recovery" not in again.stdout
    assert report(tmp_path)["execution_summary"]["execution_path"] == [0, 1]


def test_validate_only_shows_warnings_and_errors_with_locations(tmp_path):
    f = tmp_path / "t.txt"
    f.write_text("UNUSED=1\ntask=0\nhostname=localhost\ncommand=echo\nexec=local\n"
                 "colour=red\n")
    ok = tasker(f, "--validate-only", "--skip-host-validation", tmp=tmp_path)
    assert ok.returncode == 0
    assert f"{f}:6:1: warning:" in ok.stderr  # unknown field `colour`
    f.write_text(f.read_text() + "on_success=0\n")
    bad = tasker(f, "--validate-only", "--skip-host-validation", tmp=tmp_path)
    assert bad.returncode == 20
    assert ": error:" in bad.stderr and ": warning:" in bad.stderr


def test_project_summary_names_a_block_by_its_type(tmp_path):
    f = tmp_path / "b.txt"
    f.write_text("task=0\ntype=parallel\ntasks=1,2\nnext=never\n" + "".join(
        f"task={i}\nhostname=localhost\ncommand=echo\narguments={i}\nexec=local\n"
        for i in (1, 2)))
    assert tasker(f, "-r", "-p", "P", "--skip-host-validation", tmp=tmp_path).returncode == 0
    row = (tmp_path / "logs" / "project" / "P.summary").read_text().splitlines()[1].split("\t")
    assert row[4:6] == ["0", "parallel"]


def test_an_internal_error_is_a_sentence_and_the_records_are_written(tmp_path, monkeypatch):
    """A bug must not surface as a traceback: one sentence, exit 1, the report written."""
    import io

    from tasker import cli, preflight

    def broken(session, config):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(preflight, "validate_task_file", broken)
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    code = cli.main([str(DATA / "hello.txt"), "-r", "--output-json", str(tmp_path / "r.json"),
                     "-l", str(tmp_path / "logs")], environ=dict(os.environ, HOME=str(tmp_path)))
    assert code == 1
    assert "Internal error (RuntimeError: simulated bug)" in out.getvalue()
    assert "Traceback" not in out.getvalue()
    assert report(tmp_path)["workflow_metadata"]["status"] == "failed"
    log = next((tmp_path / "logs" / "log").glob("*.log")).read_text()
    assert "Traceback" in log  # the details are kept for whoever reports it


def test_sigterm_during_host_validation_writes_the_report(tmp_path):
    """Before the engine runs, SIGTERM still ends in exit 143 with the report written."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "pbrun").write_text("#!/bin/sh\nsleep 30\n")  # a connectivity test that hangs
    (fake / "pbrun").chmod(0o755)
    f = tmp_path / "t.txt"
    f.write_text("task=0\nhostname=localhost\ncommand=true\nexec=pbrun\n")
    argv = [sys.executable, str(ROOT / "tasker.py"), str(f), "-r", "--output-json",
            str(tmp_path / "r.json"), "-l", str(tmp_path / "logs")]
    env = dict(os.environ, HOME=str(tmp_path), PATH=f"{fake}:{os.environ['PATH']}")
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    time.sleep(2)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, (out + err).decode()
    assert b"Traceback" not in out + err
    assert report(tmp_path)["workflow_metadata"]["status"] == "interrupted"


def test_summary_names_the_failed_groups_when_the_file_has_errors(tmp_path):
    f = tmp_path / "t.txt"
    f.write_text("task=0\nhostname=localhost\ncommand=echo\nexec=local\non_success=9\n")
    proc = tasker(f, "--validate-only", tmp=tmp_path)
    assert proc.returncode == 20
    no_traceback(proc)
    assert "[OK] Task file syntax: valid (1 task)" in proc.stdout
    assert "[FAIL] Task dependencies: invalid" in proc.stdout
    assert "[SKIP] Host validation: not checked (the task file has errors)" in proc.stdout


def test_summary_is_printed_when_a_host_fails(tmp_path):
    f = tmp_path / "t.txt"
    f.write_text("task=0\nhostname=localhost\ncommand=true\nexec=shell\n\n"
                 "task=1\nhostname=gone.invalid\ncommand=true\nexec=shell\n")
    proc = tasker(f, "--validate-only", tmp=tmp_path)
    assert proc.returncode == 21
    assert "[FAIL] DNS resolution: 1/2 hosts" in proc.stdout
    assert "[OK] Flow control: valid" in proc.stdout
    assert "All validations passed" not in proc.stdout


def test_type_option_takes_only_configured_types(tmp_path):
    """-t is argparse `choices` in the original: an unknown type is a usage error (exit 2)."""
    (tmp_path / "t.txt").write_text("task=0\nhostname=localhost\ncommand=true\nexec=local\n")
    bad = tasker("t.txt", "--validate-only", "--skip-host-validation", "-t", "foobar",
                 tmp=tmp_path)
    assert bad.returncode == 2
    assert "invalid choice: 'foobar'" in bad.stdout + bad.stderr
    good = tasker("t.txt", "--validate-only", "--skip-host-validation", "-t", "PBRUN",
                  tmp=tmp_path)
    assert good.returncode == 0, good.stderr


def test_configured_exec_type_gets_no_unknown_warning(tmp_path):
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (cfg / "execution_types.yaml").write_text(
        "platforms:\n  linux:\n    default_exec_type: local\n    notest:\n      binary: \"true\"\n"
        "      command_template: [\"{binary}\"]\n      validation_test: null\n")
    (tmp_path / "t.txt").write_text("task=0\nhostname=localhost\ncommand=true\nexec=notest\n")
    proc = tasker("t.txt", "--validate-only", "--skip-host-validation", tmp=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "unknown exec type" not in proc.stderr


def test_graph_output_stays_clean_when_the_file_sets_ignored_flags(tmp_path):
    """The warning about a security-sensitive flag in the file goes to stderr."""
    (tmp_path / "t.txt").write_text("--fire-and-forget\ntask=0\nhostname=localhost\n"
                                    "command=echo\nexec=local\n")
    proc = tasker("t.txt", "--graph", "dot", tmp=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("digraph")
    assert "--fire-and-forget in the task file is ignored" in proc.stderr


def test_header_lines_may_hold_several_arguments_and_set_globals(tmp_path):
    (tmp_path / "h.txt").write_text(
        "--set G=fromfile\n--set H=\"two words\"\n-r --no-task-backup\n"
        "-p myproj --log-level=DEBUG\nG=orig\nH=orig\n"
        "task=0\nhostname=localhost\ncommand=echo\narguments=@G@ @H@\nexec=local\n")
    proc = tasker(tmp_path / "h.txt", "--skip-host-validation", "--set", "H=cli", tmp=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Task 0: STDOUT: fromfile cli" in proc.stdout  # a real run (-r from the file)
    assert (tmp_path / "logs" / "project" / "myproj.summary").exists()
    assert "DEBUG" in proc.stdout


def test_unset_environment_variables_in_globals_draw_one_warn_line(tmp_path):
    (tmp_path / "e.txt").write_text(
        "A=$NOPE_ONE\nB=${NOPE_TWO}\nC=ok\ntask=0\nhostname=localhost\ncommand=echo\n"
        "arguments=@C@\nexec=local\nsleep=@5_exit@\ntask=5\nreturn=0\n")
    proc = tasker(tmp_path / "e.txt", "-r", "--skip-host-validation", tmp=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    warns = [ln for ln in proc.stdout.splitlines() if re.search(r"\] (WARN:|WARNING:)", ln)]
    assert len(warns) == 1, warns  # an unresolved sleep= is skipped without a WARN line
    assert warns[0].endswith("WARN: # 2 global variable(s) reference unset environment "
                             "variables; will be checked during validation.")


FAILING = "task=0\nhostname=localhost\ncommand=false\nexec=local\n"
WARN_LINE = re.compile(r"^\[\d{2}[A-Z][a-z]{2}\d{2} \d{2}:\d{2}:\d{2}\] (WARN:|WARNING:)", re.M)


def test_alert_script_runs_on_failure_with_its_environment(tmp_path):
    out = tmp_path / "alert.out"
    script = tmp_path / "alert.sh"
    script.write_text(f"#!/bin/sh\necho \"$TASKER_EXIT_CODE $TASKER_FAILED_TASK\" > {out}\n")
    script.chmod(0o644)  # not executable: tasker makes it so, as TASKER does
    (tmp_path / "f.txt").write_text(FAILING)
    proc = tasker(tmp_path / "f.txt", "-r", "--skip-host-validation", "--alert-on-failure",
                  script, tmp=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert out.read_text().split() == ["1", "0"]
    assert WARN_LINE.findall(proc.stdout) == ["WARN:"]  # "Executing alert script" only
    assert "Alert script exited with code 0" in proc.stdout


def test_alert_runs_for_validate_only_with_r_and_logs_its_stdout(tmp_path):
    script = tmp_path / "alert.sh"
    script.write_text("#!/bin/sh\necho \"state=[$TASKER_STATE_FILE]\"\n")
    script.chmod(0o755)
    (tmp_path / "bad.txt").write_text("task=0\nhostname=localhost\ncommand=echo\n"
                                      "arguments=@UNDEFINED@\n")
    proc = tasker(tmp_path / "bad.txt", "-r", "--validate-only", "--alert-on-failure",
                  script, tmp=tmp_path)
    assert proc.returncode == 20, proc.stdout + proc.stderr
    assert "Alert script stdout: state=[]" in proc.stdout  # no state file was written
    dry = tasker(tmp_path / "bad.txt", "--validate-only", "--alert-on-failure", script,
                 tmp=tmp_path)
    assert "[DRY RUN] Would execute alert script" in dry.stdout


def test_a_missing_alert_script_is_an_error_line_not_a_warning(tmp_path):
    (tmp_path / "f.txt").write_text(FAILING)
    proc = tasker(tmp_path / "f.txt", "-r", "--skip-host-validation", "--alert-on-failure",
                  tmp_path / "nope.sh", tmp=tmp_path)
    assert proc.returncode == 1
    assert "ERROR: Alert script not found or not a regular file" in proc.stdout
    assert not WARN_LINE.findall(proc.stdout)


def test_resume_announces_each_skip_flag_and_missing_fields_are_noted(tmp_path):
    (tmp_path / "r.txt").write_text("task=0\nhostname=localhost\ncommand=true\nexec=local\n"
                                    "task=1\nhostname=localhost\ncommand=true\nexec=local\n"
                                    "task=2\ncommand=true\n")
    proc = tasker(tmp_path / "r.txt", "-r", "--start-from=1", "--skip-host-validation",
                  "--skip-task-validation", tmp=tmp_path)
    warns = [ln.split("] ", 1)[1] for ln in proc.stdout.splitlines() if WARN_LINE.match(ln)]
    assert warns[:3] == ["WARN: # Task Validation will be skipped",
                         "WARN: # Host Validation will be skipped - ATTENTION",
                         "WARN: Task 2 is missing required 'hostname' field."]


def test_summary_line_of_a_host_validation_failure_names_the_phase(tmp_path):
    f = tmp_path / "h.txt"
    f.write_text("task=0\nhostname=no-such-host.invalid\nexec=pbrun\ncommand=true\n")
    proc = tasker(f, "-r", "-p", "P", tmp=tmp_path)
    assert proc.returncode in (21, 61), proc.stdout + proc.stderr  # (pbrun: may be missing)
    line = (tmp_path / "logs" / "project" / "P.summary").read_text().splitlines()[1]
    assert line.split("\t")[4:7] == ["-1", "localhost", "host_validation"]


def test_outputs_past_the_memory_limit_are_split_and_tested_whole(tmp_path):
    """A stream over 1 MiB spills to a file; splits and conditions still see all of it."""
    f = tmp_path / "big.txt"
    big = "head -c 1100000 /dev/zero | tr '\\\\0' c; echo; echo TAIL"
    f.write_text(f'task=0\nhostname=localhost\nexec=local\ncommand=sh\narguments=-c "{big}"\n'
                 "stdout_split=newline,1\n\n"
                 f'task=1\nhostname=localhost\nexec=local\ncommand=sh\narguments=-c "{big}"\n'
                 "success=stdout~TAIL\n")
    proc = tasker(f, "-r", "--skip-host-validation", tmp=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    assert "Task 0: Split STDOUT: TAIL" in proc.stdout
    assert "Task 1: Success condition 'stdout~TAIL' evaluated to: True" in proc.stdout
    assert "... (1100006 chars total)" in proc.stdout


def test_show_recovery_info_with_a_corrupt_state_file_says_so(tmp_path):
    """A state file whose parts have the wrong shape: a located message, exit 12."""
    import hashlib
    import json
    import os

    task = tmp_path / "r.txt"
    task.write_text("task=0\nhostname=localhost\ncommand=echo\nexec=local\n")
    digest = hashlib.sha256(os.path.abspath(task).encode()).hexdigest()[:8]
    state = tmp_path / "logs" / "recovery" / f"r_{digest}.recovery.json"
    state.parent.mkdir(parents=True)
    state.write_text(json.dumps({"version": "1.0", "file_hash": "", "globals": {},
                                 "task_results": {}, "failure": "x"}))
    proc = subprocess.run([sys.executable, str(ROOT / "tasker.py"), str(task),
                           "--show-recovery-info", "-l", str(tmp_path / "logs")],
                          capture_output=True, text=True)
    assert proc.returncode == 12, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and "is corrupt" in proc.stderr
