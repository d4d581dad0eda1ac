"""posix_spawn children: what subprocess.Popen used to guarantee still holds."""

import os
import threading
from pathlib import Path

import pytest

from tasker.exec.base import CommandSpec
from tasker.exec.process import ProcessExecutor
from tasker.exec.spawn import Child


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


def test_errors_at_start():
    with pytest.raises(FileNotFoundError):
        Child(["/nonexistent/program"])
    with pytest.raises(ValueError):
        Child([])


def test_exit_status_and_signals():
    child = Child(["sh", "-c", "kill -TERM $$"])
    assert child.wait() == -15
    child.close_pipes()
    child = Child(["sh", "-c", "exit 7"])
    assert child.wait(timeout=5) == 7
    child.close_pipes()
