"""tasker ends by returning its exit code from main: nothing it started may hold it at exit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from test_cli import ROOT, no_traceback

# A name lookup that never answers (getaddrinfo cannot be stopped), and a short DNS time
# limit; then tasker as the program, as tasker.py runs it.
NEVER_ANSWERS = """
import socket, sys, threading
import tasker.validate.probes as probes
from tasker.cli import main

def never(*args, **kwargs):
    threading.Event().wait()

socket.getaddrinfo = never
probes.DNS_TIMEOUT = 0.5
sys.argv = ["tasker"] + sys.argv[1:]
sys.exit(main())
"""


def test_a_lookup_that_never_answers_cannot_hold_tasker_at_exit(tmp_path: Path) -> None:
    """The lookup is abandoned at its time limit (exit 21) and its thread, still blocked,
    does not keep the process alive: the process ends instead of waiting forever."""
    task = tmp_path / "t.txt"
    task.write_text("task=0\nhostname=never-answers.example\nexec=shell\ncommand=true\n")
    proc = subprocess.run(
        [sys.executable, "-c", NEVER_ANSWERS, str(task), "--validate-only",
         "--output-json", str(tmp_path / "r.json"), "-l", str(tmp_path / "logs")],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
        env=dict(os.environ, HOME=str(tmp_path), NO_COLOR="1"))
    no_traceback(proc)
    assert proc.returncode == 21, proc.stdout + proc.stderr
    assert "no answer within 0.5 seconds" in proc.stdout + proc.stderr
    assert (tmp_path / "r.json").read_text()  # (written before the end)


def test_a_reader_gone_from_stdout_does_not_change_the_exit_code(tmp_path: Path) -> None:
    """stdout's reader closes its end before tasker writes: the run's own code (0), not
    the interpreter's 120 for a failed last flush, and no traceback."""
    task = tmp_path / "t.txt"
    task.write_text("task=0\nhostname=localhost\nexec=local\ncommand=echo\narguments=hi\n")
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tasker.py"), str(task), "-r", "--skip-host-validation",
         "-l", str(tmp_path / "logs")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        cwd=tmp_path, env=dict(os.environ, HOME=str(tmp_path), NO_COLOR="1"))
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0, err
    assert "Traceback" not in err and "Exception ignored" not in err


def test_entry_returns_mains_code_and_freezes_the_heap_for_the_exit(monkeypatch) -> None:
    """The process entry (tasker, tasker.py, python -m tasker) is main() plus gc.freeze():
    the interpreter's exit then frees the heap without searching it for cycles."""
    import gc

    from tasker import cli

    monkeypatch.setattr(cli, "main", lambda: 24)
    try:
        assert cli.entry() == 24
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_main_alone_leaves_the_collector_as_it_was(tmp_path: Path) -> None:
    """A test (or any caller) of main() keeps its collector: only the process entry freezes."""
    import gc

    from tasker.cli import main

    task = tmp_path / "t.txt"
    task.write_text("task=0\nhostname=localhost\nexec=local\ncommand=true\n")
    gc.unfreeze()
    assert main([str(task), "--validate-only", "--skip-host-validation", "-l",
                 str(tmp_path / "logs")], {"HOME": str(tmp_path)}) == 0
    assert gc.get_freeze_count() == 0 and gc.isenabled()


def test_every_entry_point_ends_with_mains_exit_code(tmp_path: Path) -> None:
    """tasker.py and python -m tasker exit with the run's code (20: an invalid file)."""
    task = tmp_path / "t.txt"
    task.write_text("task=0\nhostname=localhost\nexec=local\n")  # no command
    env = dict(os.environ, HOME=str(tmp_path), NO_COLOR="1", PYTHONPATH=str(ROOT))
    for argv in ([sys.executable, str(ROOT / "tasker.py")], [sys.executable, "-m", "tasker"]):
        proc = subprocess.run(argv + [str(task), "--validate-only", "-l", str(tmp_path / "l")],
                              capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60)
        no_traceback(proc)
        assert proc.returncode == 20, (argv, proc.stderr)
