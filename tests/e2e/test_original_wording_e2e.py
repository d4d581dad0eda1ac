"""End to end: the lines and values issue 16 §6 makes match the original TASKER.

`tasker.py` runs real local commands; the log lines on the console and the values a later
task receives through `@N_stdout@`/`@N_stderr@` are checked against SPEC II.4.3 and A.1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

FILE = """\
task=0
type=parallel
tasks=10,11,12
next=always

task=1
hostname=localhost
exec=local
command=printf
arguments='out=[%s] err=[%s]\\n' '@0_stdout@' '@0_stderr@'

task=2
hostname=localhost
exec=local
command=printf
arguments=a,,c
stdout_split=comma,1
condition=true
next=loop
loop=2

task=3
hostname=localhost
exec=local
command=true
condition=false
next=loop
loop=2

task=4
hostname=localhost
exec=local
command=true
next=loop
loop=3
return=0

task=10
hostname=localhost
exec=local
command=true

task=11
hostname=localhost
exec=local
command=false

task=12
hostname=localhost
exec=local
command=true
"""


def test_block_result_loop_labels_and_empty_split_as_the_original(tmp_path: Path) -> None:
    path = tmp_path / "wording.txt"
    path.write_text(FILE)
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tasker.py"), str(path), "-r", "--skip-host-validation",
         "--no-task-backup", "-l", str(tmp_path / "logs"), "--output-json",
         str(tmp_path / "r.json")],
        capture_output=True, text=True, cwd=tmp_path, timeout=60, stdin=subprocess.DEVNULL,
        env=dict(os.environ, HOME=str(tmp_path), NO_COLOR="1"))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "Traceback" not in out, out
    # II.4.3: no zero (timeout) count, the failed IDs with the period and blank
    assert ("Task 1: STDOUT: out=[Parallel execution: 2/3 successful, 1 failed] "
            "err=[Failed tasks: [11]. ]") in out
    block = json.loads((tmp_path / "r.json").read_text())["task_results"]["0"]
    assert (block["stdout"], block["stderr"]) == (
        "Parallel execution: 2/3 successful, 1 failed", "Failed tasks: [11]. ")
    # A.1: a looping task's condition and return lines carry the iteration
    assert "Task 2.1: Condition 'true' evaluated to TRUE, executing task" in out
    assert "Task 3.1: Condition 'false' evaluated to FALSE, skipping task" in out
    assert "Task 4.1: Returning with exit code 0" in out
    for plain in ("Task 2: Condition", "Task 3: Condition", "Task 4: Returning"):
        assert plain not in out
    # an empty split value: no Split STDOUT line
    assert "Task 2.2: Exit code: 0" in out and "Split STDOUT" not in out
