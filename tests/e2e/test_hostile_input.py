"""Hostile or odd input (issue 14, §6): read once, bounded output, data shown as data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

from test_cli import ROOT, no_traceback, tasker

HELLO = "task=0\nhostname=localhost\nexec=local\ncommand=echo\narguments=hello\n"


def test_a_named_pipe_is_read_once_and_backed_up_whole(tmp_path):
    fifo = tmp_path / "tasks.fifo"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_text(HELLO), daemon=True)
    writer.start()
    proc = tasker(fifo, "-r", "--skip-host-validation", tmp=tmp_path)
    writer.join(5)
    no_traceback(proc)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Task 0: STDOUT: hello" in proc.stdout
    (backup,) = (tmp_path / "logs" / "backup").iterdir()
    assert backup.read_text() == HELLO


def test_process_substitution_works_like_a_file(tmp_path):
    (tmp_path / "t.txt").write_text(HELLO)
    script = (f"exec {sys.executable} {ROOT / 'tasker.py'} -r <(cat {tmp_path / 't.txt'}) "
              f"--skip-host-validation -l {tmp_path / 'logs'}")
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, HOME=str(tmp_path)))
    no_traceback(proc)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Task 0: STDOUT: hello" in proc.stdout


def test_a_huge_line_is_quoted_cut_not_whole(tmp_path):
    task = tmp_path / "big.txt"
    task.write_text("task=" + "9x" * 1_000_000 + "\nhostname=localhost\ncommand=true\n")
    proc = tasker(task, tmp=tmp_path)
    no_traceback(proc)
    assert proc.returncode == 20
    assert len(proc.stdout) + len(proc.stderr) < 20_000
    assert "…" in proc.stderr and "is not a valid integer" in proc.stderr


def test_junk_lines_are_counted_after_twenty(tmp_path):
    task = tmp_path / "junk.txt"
    task.write_text("junk line here\n" * 200_000 + HELLO)
    proc = tasker(task, "-r", "--skip-host-validation", tmp=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (log,) = (tmp_path / "logs" / "log").glob("*.log")
    text = log.read_text()
    assert len(text) < 50_000
    assert text.count("is not a key=value pair") == 21  # 20 shown, then the count line
    assert f"... and {200_000 - 20} more warnings like" in text


def test_a_cycle_among_globals_stops_even_without_task_validation(tmp_path):
    task = tmp_path / "cyc.txt"
    task.write_text("A=@B@\nB=@A@\n" + HELLO.replace("hello", "@A@"))
    proc = tasker(task, "-r", "--skip-task-validation", "--skip-host-validation", tmp=tmp_path)
    no_traceback(proc)
    assert proc.returncode == 20
    assert "cyc.txt:1:3: error: global 'A' refers to itself: A -> B -> A" in proc.stderr


def test_terminal_controls_in_outputs_are_shown_escaped_and_stored_raw(tmp_path):
    task = tmp_path / "esc.txt"
    task.write_text("task=0\nhostname=localhost\nexec=local\ncommand=printf\n"
                    "arguments='\\033]0;pwned\\007\\033[2Jred\\302\\233x'\n")
    proc = tasker(task, "-r", "--skip-host-validation", "--output-json", tmp_path / "r.json",
                  tmp=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "\x1b" not in proc.stdout and "\x07" not in proc.stdout
    assert r"Task 0: STDOUT: \x1b]0;pwned\x07\x1b[2Jred\x9bx" in proc.stdout
    (log,) = (tmp_path / "logs" / "log").glob("*.log")
    assert r"\x1b]0;pwned\x07" in log.read_text() and "\x1b" not in log.read_text()
    stored = json.loads((tmp_path / "r.json").read_text())["task_results"]["0"]["stdout"]
    assert stored == "\x1b]0;pwned\x07\x1b[2Jred\x9bx"
