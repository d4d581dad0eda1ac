"""Local children: what the executor guarantees of every process it starts."""

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tasker.exec.base import CommandSpec
from tasker.exec.process import ProcessExecutor, run_simple, start_child


def run(tmp_path, *argv):
    spec = CommandSpec(argv=tuple(argv), timeout=10, display=" ".join(argv))
    return ProcessExecutor(Path(tmp_path)).run(spec, threading.Event())


def test_child_has_default_sigpipe(tmp_path):
    result = run(tmp_path, "sh", "-c", "yes | head -n 1")
    assert result.exit_code == 0 and result.stdout == "y\n" and result.stderr == ""


def test_inherited_descriptors_are_not_passed_on(tmp_path):
    r, w = os.pipe()
    os.set_inheritable(w, True)
    try:
        result = run(tmp_path, "ls", "/proc/self/fd")
        fds = set(result.stdout.split())
        assert str(w) not in fds and {"0", "1", "2"} <= fds
    finally:
        os.close(r)
        os.close(w)


def test_child_is_a_session_leader(tmp_path):
    result = run(tmp_path, "sh", "-c", "ps -o sid= -p $$; echo $$")
    sid, pid = result.stdout.split()
    assert sid == pid


def test_errors_at_start(tmp_path):
    with pytest.raises(FileNotFoundError):
        start_child(["/nonexistent/program"])
    with pytest.raises(ValueError):
        start_child([])
    assert run(tmp_path, "/nonexistent/program").stderr == "Command not found: /nonexistent/program"


def test_exit_status_and_signals(tmp_path):
    assert run(tmp_path, "sh", "-c", "kill -TERM $$").exit_code == -15
    assert run(tmp_path, "sh", "-c", "exit 7").exit_code == 7


def test_starting_children_on_a_busy_machine_holds_no_other_thread_up(tmp_path):
    """32 threads start 320 short commands while two processes keep both CPUs of a CI
    machine busy. Started with os.posix_spawn (which keeps the interpreter lock until the
    child reaches exec) every thread waited for each child in turn: some of these took
    over 5 s and timed out. Started with Popen, each takes what the command takes."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
            for _ in range(min(max(2, os.cpu_count() or 2), 8))]
    results = []
    try:
        def starts() -> None:
            for _ in range(10):
                results.append(run_simple(("true",), 5.0, threading.Event()))

        threads = [threading.Thread(target=starts) for _ in range(32)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    assert len(results) == 320
    assert [r for r in results if r.timed_out or r.exit_code != 0] == []


def test_a_command_gets_taskers_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TASKER_TEST_VALUE", "seen by the child")
    assert run(tmp_path, "sh", "-c", 'echo "$TASKER_TEST_VALUE"').stdout == "seen by the child\n"
