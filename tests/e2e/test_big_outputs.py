"""Big outputs, end to end: memory stays bounded while conditions read them, and a full
TMPDIR costs the tail of an output, never the run.

A small TMPDIR is a 2 MiB tmpfs where the tests run as root and mounting works (as in CI);
elsewhere the file size limit (RLIMIT_FSIZE) of the tasker process makes the same writes
fail, with EFBIG instead of ENOSPC.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Callable, Iterator, Optional, Tuple

ROOT = Path(__file__).resolve().parents[2]
MIB = 1024 * 1024

# Runs its arguments and prints the peak RSS (KiB) of the children it waited for: tasker
# itself (its commands are far smaller), measured after it ended.
PEAK_RSS = ("import resource, subprocess, sys\n"
            "code = subprocess.run(sys.argv[1:]).returncode\n"
            "print('PEAK', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
            "sys.exit(code)\n")

# Prints SIZE bytes of `x` on one line, then MARK on a line of its own, and exits CODE.
GENERATE = "head -c \"$1\" /dev/zero | tr '\\0' x\nprintf '\\n%s\\n' \"$2\"\nexit \"${3:-0}\"\n"


def script(tmp: Path, name: str, body: str) -> Path:
    path = tmp / name
    path.write_text(body)
    return path


def task(tid: int, arguments: str, extra: str = "") -> str:
    return (f"task={tid}\nhostname=localhost\nexec=local\ncommand=sh\narguments={arguments}\n"
            f"{extra}\n")


def tasker_argv(tmp: Path, taskfile: Path) -> list:
    return [sys.executable, str(ROOT / "tasker.py"), str(taskfile), "-r", "--skip-host-validation",
            "--no-task-backup", "-l", str(tmp / "logs"), "--output-json", str(tmp / "r.json")]


def run(argv: list, env: dict, preexec: Optional[Callable[[], None]] = None,
        timeout: float = 120) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          stdin=subprocess.DEVNULL, preexec_fn=preexec,
                          env=dict(os.environ, NO_COLOR="1", **env))
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout[-3000:] + proc.stderr
    return proc


# ---- (a) memory --------------------------------------------------------------------------
def test_six_big_outputs_tested_at_once_keep_memory_far_below_their_size(tmp_path):
    """6 sub-tasks print 100 MB each, tested with stdout~MARKER: tasker stays < 300 MB."""
    gen = script(tmp_path, "gen.sh", GENERATE)
    size = 100 * 1000 * 1000
    subs = "".join(task(100 + i, f"{gen} {size} {'MARKER' if i < 5 else 'NOTHING'}",
                        "success=stdout~MARKER") for i in range(6))
    taskfile = tmp_path / "big.txt"
    taskfile.write_text("task=1\ntype=parallel\ntasks=100,101,102,103,104,105\n"
                        "max_parallel=6\nsuccess=min_success=5\n\n" + subs)
    spool = tmp_path / "tmp"
    spool.mkdir()
    proc = run([sys.executable, "-c", PEAK_RSS, *tasker_argv(tmp_path, taskfile)],
               {"TMPDIR": str(spool)})
    assert proc.returncode == 0, proc.stdout[-3000:]
    verdicts = {tid: r["success"] for tid, r in json.loads(
        (tmp_path / "r.json").read_text())["task_results"].items() if tid != "1"}
    assert verdicts == {"100": True, "101": True, "102": True, "103": True, "104": True,
                        "105": False}
    assert f"Task 1-100: STDOUT: {'x' * 200}... ({size + 2 + 6} chars total)" in proc.stdout
    peak_mib = int(proc.stdout.rsplit("PEAK", 1)[1]) / 1024
    assert peak_mib < 300, f"peak RSS {peak_mib:.0f} MiB for 600 MB of output"
    assert [n for n in os.listdir(spool) if n.startswith("tasker")] == []  # spool removed


# ---- (b) a full TMPDIR -------------------------------------------------------------------
@contextlib.contextmanager
def small_tmpdir(tmp: Path, size: int) -> Iterator[Tuple[Path, Optional[Callable[[], None]]]]:
    """(a TMPDIR of `size` bytes, the preexec function that makes it small where needed)."""
    mount = tmp / "small"
    mount.mkdir()
    mounted = os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)],
        capture_output=True).returncode == 0
    try:
        if mounted:
            yield mount, None
        else:  # no mount: every file tasker writes is limited to `size` bytes instead
            yield mount, lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(mount)], check=True)


def results(tmp: Path) -> dict:
    return json.loads((tmp / "r.json").read_text())


def test_a_full_tmpdir_keeps_the_first_mib_notes_the_loss_and_the_run_goes_on(tmp_path):
    gen = script(tmp_path, "gen.sh", GENERATE)
    taskfile = tmp_path / "full.txt"
    taskfile.write_text(task(0, f"{gen} {8 * MIB} END 5", "success=exit_5&stdout~xxxx") +
                        "\ntask=1\nhostname=localhost\nexec=local\ncommand=echo\n"
                        "arguments=[@0_exit@] [@0_stdout_file@]\n")
    with small_tmpdir(tmp_path, 2 * MIB) as (tmpdir, preexec):
        proc = run(tasker_argv(tmp_path, taskfile), {"TMPDIR": str(tmpdir)}, preexec)
        left = [name for name in os.listdir(tmpdir) if name.startswith("tasker")]
    assert proc.returncode == 0, proc.stdout[-3000:]
    report = results(tmp_path)
    first, second = report["task_results"]["0"], report["task_results"]["1"]
    assert report["execution_summary"]["execution_path"] == [0, 1]
    assert (first["exit_code"], first["success"]) == (5, True)
    assert second["stdout"] == "[5] []"  # the task's own exit code; no file of a part
    lost = 8 * MIB + len("\nEND\n") - MIB
    note = (f"tasker: stdout: only the first {MIB} bytes were kept; {lost} more were lost "
            "(cannot write the spill file in ")
    assert first["stderr"].startswith(note)
    assert first["stderr"].rstrip().endswith(("No space left on device)", "File too large)"))
    assert first["stdout"] == "x" * 100 * 1024
    assert f"Task 0: STDOUT: {'x' * 200}... ({MIB} chars total)" in proc.stdout
    assert f"{lost} bytes of its stdout past the first {MIB} were lost" in proc.stdout
    assert left == []  # the incomplete spill file was deleted, and the spool with it


def test_a_long_result_that_cannot_be_stored_whole_keeps_100_kib_and_says_so(tmp_path):
    """Under 1 MiB (no spill), over 100 KiB: the file of the whole cannot be written."""
    gen = script(tmp_path, "gen.sh", GENERATE)
    fill = script(tmp_path, "fill.sh", 'head -c 4194304 /dev/zero > "$TMPDIR/fill"\nexit 0\n')
    taskfile = tmp_path / "long.txt"
    taskfile.write_text(task(0, str(fill)) + "\n" + task(1, f"{gen} 300000 END") +
                        "\ntask=2\nhostname=localhost\nexec=local\ncommand=echo\n"
                        "arguments=[@1_stdout_file@]\n")
    with small_tmpdir(tmp_path, 256 * 1024) as (tmpdir, preexec):
        proc = run(tasker_argv(tmp_path, taskfile), {"TMPDIR": str(tmpdir)}, preexec)
    assert proc.returncode == 0, proc.stdout[-3000:]
    report = results(tmp_path)
    stored = report["task_results"]["1"]
    assert stored["stdout"] == "x" * 100 * 1024 and report["task_results"]["2"]["stdout"] == "[]"
    lost = 300000 + len("\nEND\n") - 100 * 1024
    assert stored["stderr"].startswith(
        f"tasker: stdout: only the first 102400 characters were kept; {lost} more were lost "
        "(cannot write a file in ")
    assert report["execution_summary"]["execution_path"] == [0, 1, 2]
