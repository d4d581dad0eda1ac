"""Resume does what it says (I.4a): full disks, signals, handler paths, parallel runs.

Every task runs `step.sh NAME ...`, which appends a line to NAME.runs each time it
runs, so the tests can say what ran again after a resume and what did not. The runs
are real `tasker` processes; a full disk is a small tmpfs where the tests run as root
and mounting works, else an injected failing writer (tests/data/faultinject).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Iterator, Optional

import pytest

from tasker.report.statefile import load_state

ROOT = Path(__file__).resolve().parents[2]
FAULTS = ROOT / "tests" / "data" / "faultinject"

STEP = """#!/bin/sh
# step.sh NAME [HOLD_AT [NEEDS [SAY]]]: count this run in NAME.runs; on run number HOLD_AT
# touch NAME.holding and sleep; fail unless the file NEEDS exists (- for none); print
# SAY if given, else the content of NAME.nap (a sleep for the task to read), else 0.
dir=$(dirname "$0")
echo run >> "$dir/$1.runs"
if [ "$(wc -l < "$dir/$1.runs")" -eq "${2:-0}" ]; then touch "$dir/$1.holding"; sleep 30; fi
if [ "${3:--}" != - ] && [ ! -e "$dir/$3" ]; then echo "missing $3" >&2; exit 1; fi
if [ -n "$4" ]; then echo "$4"; else cat "$dir/$1.nap" 2>/dev/null || echo 0; fi
"""


def task(tid: int, args: str = "", extra: str = "") -> str:
    """A task running step.sh, named by its ID unless `args` starts with another name."""
    return (f"task={tid}\nhostname=localhost\nexec=local\ncommand=sh\n"
            f"arguments=@DIR@/step.sh {args or tid}\n{extra}\n")


def workflow(tmp: Path, text: str, name: str = "flow.txt") -> Path:
    """Write step.sh and the task file (with DIR=tmp) into `tmp`."""
    (tmp / "step.sh").write_text(STEP)
    path = tmp / name
    path.write_text(f"DIR={tmp}\n\n{text}")
    return path


def tasker(*args, tmp: Path, env: Optional[Dict[str, str]] = None, wait: bool = True,
           base: Optional[Path] = None):
    """Run tasker (a CompletedProcess, or the Popen when not `wait`)."""
    # (TMPDIR: a run killed on purpose leaves its spool directory in the test's own folder)
    full_env = dict(os.environ, HOME=str(tmp), NO_COLOR="1", TMPDIR=str(tmp), **(env or {}))
    argv = [sys.executable, str(ROOT / "tasker.py"), *map(str, args), "-l",
            str(base or tmp / "logs"), "--skip-host-validation"]
    if not wait:
        return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, text=True, env=full_env, cwd=tmp)
    return subprocess.run(argv, capture_output=True, text=True, env=full_env, cwd=tmp,
                          stdin=subprocess.DEVNULL, timeout=120)


def runs(tmp: Path, name) -> int:
    """How many times step.sh ran for NAME."""
    path = tmp / f"{name}.runs"
    return len(path.read_text().splitlines()) if path.exists() else 0


def states(tmp: Path, base: Optional[Path] = None) -> list:
    recovery = (base or tmp / "logs") / "recovery"
    return sorted(recovery.glob("*.recovery.json")) if recovery.exists() else []


def only_state(tmp: Path) -> dict:
    found = states(tmp)
    assert len(found) == 1, found
    return load_state(found[0])


def report(path: Path) -> dict:
    return json.loads(path.read_text())


def wait_for(predicate, what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def log_has(tmp: Path, text: str) -> bool:
    return any(text in p.read_text() for p in (tmp / "logs" / "log").glob("*.log"))


def interrupt_when(proc: subprocess.Popen, ready) -> str:
    """SIGTERM once `ready()` holds; the run's output."""
    try:
        wait_for(lambda: ready() or proc.poll() is not None, "the moment to interrupt")
        assert proc.poll() is None, proc.communicate()[0]
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 143, out
    return out


def resume_at(out: str) -> Optional[int]:
    found = re.search(r"Auto-recovery: resuming workflow at task (\d+)", out)
    return int(found.group(1)) if found else None


# ---- state writes on a full disk (issue 14 section 4) -------------------------------------------

class FullDisk:
    """A recovery directory that can be filled and freed by the workflow's own tasks.

    `tmpfs`: a 1 MiB tmpfs is the `-l` base (its log/ is a link to the normal disk, so
    only the state file meets the full disk); a task fills it with dd. `injected`, or
    when mounting fails: the tasker process loads tests/data/faultinject, and a task
    creates the flag file that makes its state writes fail.
    """

    def __init__(self, tmp: Path, mode: str):
        self.tmp, self.base = tmp, tmp / "base"
        self.base.mkdir()
        self.mounted = mode == "tmpfs" and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(self.base)],
            capture_output=True).returncode == 0
        if self.mounted:
            (tmp / "log").mkdir()
            (self.base / "log").symlink_to(tmp / "log")
            self.env: Dict[str, str] = {}
        else:
            self.env = {"PYTHONPATH": str(FAULTS), "TASKER_FAULT_FLAG": str(tmp / "full"),
                        "TASKER_FAULT_DIR": str(self.base / "recovery")}

    def fill_command(self) -> str:
        """Shell text that fills the disk the first time it runs."""
        fill = (f"dd if=/dev/zero of={self.base}/fill bs=4096 2>/dev/null"
                if self.mounted else f"touch {self.tmp}/full")
        return f"[ -e {self.tmp}/filled ] || {{ {fill}; touch {self.tmp}/filled; }}; true"

    def free_command(self) -> str:
        return f"rm -f {self.base}/fill {self.tmp}/full"

    def free(self) -> None:
        subprocess.run(["sh", "-c", self.free_command()], check=True)

    def close(self) -> None:
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.base)], check=False)


@pytest.fixture(params=["tmpfs", "injected"])
def full_disk(request, tmp_path: Path) -> Iterator[FullDisk]:
    disk = FullDisk(tmp_path, request.param)
    try:
        yield disk
    finally:
        disk.close()


def fault_workflow(tmp: Path, disk: FullDisk, space_back_in_run: bool) -> Path:
    """Six tasks with 20 kB of stderr each (long state lines); task 2 fills the disk,
    task 4 frees it (or nothing does), task 5 fails until the file `ok` exists and
    reads @1_stdout@ and @3_stdout@."""
    (tmp / "fill.sh").write_text(disk.fill_command() + "\n")
    (tmp / "free.sh").write_text((disk.free_command() if space_back_in_run else "true") + "\n")
    (tmp / "pad.sh").write_text("printf '%020000d\\n' 0 >&2\n")

    def padded(tid: int, before: str = "", args: str = "") -> str:
        return (f"task={tid}\nhostname=localhost\nexec=local\ncommand=sh\n"
                f"arguments=-c \"{before}sh @DIR@/pad.sh; sh @DIR@/step.sh {args or tid}\"\n")

    text = (padded(0, args="0 0 - tok-0") + padded(1, args="1 0 - tok-1")
            + padded(2, "sh @DIR@/fill.sh; ") + padded(3, args="3 0 - tok-3")
            + padded(4, "sh @DIR@/free.sh; ") + padded(5, args="5 0 ok saw-@1_stdout@-@3_stdout@"))
    return workflow(tmp, text)


@pytest.mark.parametrize("space_back_in_run", [True, False], ids=["space-back-mid-run",
                                                                  "space-back-after"])
@pytest.mark.parametrize("how", ["auto-recovery", "start-from"])
def test_state_writes_on_a_full_disk_lose_nothing_recorded(tmp_path, full_disk,
                                                           space_back_in_run, how):
    f = fault_workflow(tmp_path, full_disk, space_back_in_run)
    base, env = full_disk.base, full_disk.env
    first = tasker(f, "-r", "--no-task-backup", "--auto-recovery", tmp=tmp_path, base=base,
                   env=env)
    assert first.returncode == 1, first.stdout + first.stderr
    assert first.stdout.count("WARN: Failed to save recovery state:") >= 2, first.stdout
    assert "Traceback" not in first.stdout + first.stderr
    full_disk.free()
    (tmp_path / "ok").write_text("")
    info = tasker(f, "--show-recovery-info", tmp=tmp_path, base=base, env=env)
    assert info.returncode == 0, info.stdout + info.stderr
    point = int(re.search(r"resume at: +(\d+)", info.stdout).group(1))
    recorded = 5 if space_back_in_run else 2  # tasks whose results reached the state file
    assert point == recorded
    argv = ["--auto-recovery"] if how == "auto-recovery" else ["--start-from", point]
    second = tasker(f, "-r", "--no-task-backup", *argv, "--output-json", tmp_path / "r.json",
                    tmp=tmp_path, base=base, env=env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert f"Restored {recorded} task result(s)" in second.stdout
    for tid in range(6):  # recorded tasks never run again, the others run once more
        assert runs(tmp_path, tid) == (1 if tid < recorded else 2), tid
    assert report(tmp_path / "r.json")["task_results"]["5"]["stdout"].strip() == \
        "saw-tok-1-tok-3"  # results of tasks 1 and 3, restored


# ---- interrupted loops start again from their first iteration -----------------------------------

def test_a_loop_interrupted_in_an_iteration_runs_again_from_its_first(tmp_path):
    f = workflow(tmp_path, task(0) + task(1, "1 2", "next=loop\nloop=3") + task(2))
    proc = tasker(f, "-r", "--auto-recovery", tmp=tmp_path, wait=False)
    interrupt_when(proc, lambda: (tmp_path / "1.holding").exists())
    assert only_state(tmp_path)["next_task"] == 1
    again = tasker(f, "-r", "--auto-recovery", tmp=tmp_path)
    assert again.returncode == 0, again.stdout
    assert resume_at(again.stdout) == 1 and "Task 1.1: Executing" in again.stdout
    assert (runs(tmp_path, 0), runs(tmp_path, 1), runs(tmp_path, 2)) == (1, 2 + 3, 1)


def test_a_loop_interrupted_in_its_sleep_runs_again_from_its_first_iteration(tmp_path):
    f = workflow(tmp_path, task(0) + task(1, "1", "next=loop\nloop=3\nsleep=@1_stdout@")
                 + task(2))
    (tmp_path / "1.nap").write_text("30")
    proc = tasker(f, "-r", "--auto-recovery", tmp=tmp_path, wait=False)
    interrupt_when(proc, lambda: log_has(tmp_path, "Task 1.1: Sleeping for 30 seconds"))
    (tmp_path / "1.nap").write_text("0")
    again = tasker(f, "-r", "--auto-recovery", tmp=tmp_path)
    assert again.returncode == 0, again.stdout
    assert resume_at(again.stdout) == 1
    assert (runs(tmp_path, 0), runs(tmp_path, 1), runs(tmp_path, 2)) == (1, 1 + 3, 1)


# ---- a task interrupted in its own sleep is done ------------------------------------------------

def test_a_task_interrupted_in_its_sleep_is_not_run_again(tmp_path):
    f = workflow(tmp_path, task(0) + task(1, "1", "sleep=@1_stdout@\non_success=3")
                 + task(2) + task(3))
    (tmp_path / "1.nap").write_text("30")
    proc = tasker(f, "-r", "--auto-recovery", tmp=tmp_path, wait=False)
    interrupt_when(proc, lambda: log_has(tmp_path, "Task 1: Sleeping for 30 seconds"))
    again = tasker(f, "-r", "--auto-recovery", tmp=tmp_path)
    assert again.returncode == 0, again.stdout
    assert resume_at(again.stdout) == 3  # where its routing leads
    assert [runs(tmp_path, t) for t in range(4)] == [1, 1, 0, 1]


# ---- a failure handled by an on_failure path resumes at the failed task ------------------------

def test_a_cleanup_path_ending_in_return_resumes_at_the_failed_task(tmp_path):
    f = workflow(tmp_path, task(0) + task(1, "1 0 ok", "on_success=2\non_failure=90")
                 + task(2, "2", "next=never") + task(90) + "task=91\nreturn=3\n")
    first = tasker(f, "-r", "--auto-recovery", tmp=tmp_path)
    assert first.returncode == 3, first.stdout
    assert only_state(tmp_path)["next_task"] == 1
    (tmp_path / "ok").write_text("")
    again = tasker(f, "-r", "--auto-recovery", tmp=tmp_path)
    assert again.returncode == 0, again.stdout
    assert resume_at(again.stdout) == 1
    assert [runs(tmp_path, t) for t in (0, 1, 2, 90)] == [1, 2, 1, 1]  # no second cleanup


def test_a_task_that_fails_again_runs_its_handler_again(tmp_path):
    f = workflow(tmp_path, task(0) + task(1, "1 0 ok", "on_failure=90") + task(90)
                 + "task=91\nreturn=3\n")
    assert tasker(f, "-r", "--auto-recovery", tmp=tmp_path).returncode == 3
    again = tasker(f, "-r", "--auto-recovery", tmp=tmp_path)
    assert again.returncode == 3 and resume_at(again.stdout) == 1
    assert [runs(tmp_path, t) for t in (0, 1, 90)] == [1, 2, 2]


# ---- an interrupted block stores no result ------------------------------------------------------

def test_an_interrupted_block_stores_no_result_and_runs_again(tmp_path):
    f = workflow(tmp_path, task(0) + "task=1\ntype=parallel\ntasks=10,11\nmax_parallel=2\n\n"
                 + task(10) + task(11, "11 1") + task(2))
    proc = tasker(f, "-r", "--auto-recovery", "--output-json", tmp_path / "r.json",
                  tmp=tmp_path, wait=False)
    interrupt_when(proc, lambda: (tmp_path / "11.holding").exists() and runs(tmp_path, 10))
    rep = report(tmp_path / "r.json")
    assert "1" not in rep["task_results"] and "10" in rep["task_results"]
    state = only_state(tmp_path)
    assert "1" not in state["task_results"] and "10" in state["task_results"]
    assert state["next_task"] == 1
    again = tasker(f, "-r", "--auto-recovery", tmp=tmp_path)
    assert again.returncode == 0 and resume_at(again.stdout) == 1, again.stdout
    assert [runs(tmp_path, t) for t in (0, 10, 11, 2)] == [1, 2, 2, 1]


# ---- one state per task file and globals ---------------------------------------------------------

REGIONAL = (task(0, "0-@REGION@") + task(1, "1-@REGION@ 0 ok-@REGION@") + task(2, "2-@REGION@"))


def test_two_runs_with_other_globals_keep_two_states_and_each_resumes_its_own(tmp_path):
    f = workflow(tmp_path, "REGION=$REGION\n\n" + REGIONAL)
    started = [tasker(f, "-r", tmp=tmp_path, wait=False, env={"REGION": region})
               for region in ("eu", "us")]
    for proc in started:  # (at the same time, as README allows)
        proc.communicate(timeout=60)
        assert proc.returncode == 1
    assert len(states(tmp_path)) == 2
    for region in ("eu", "us"):
        (tmp_path / f"ok-{region}").write_text("")
        again = tasker(f, "-r", "--auto-recovery", tmp=tmp_path, env={"REGION": region})
        assert again.returncode == 0, again.stdout
        assert resume_at(again.stdout) == 1 and "Resume with the current values" not in \
            again.stdout
        assert [runs(tmp_path, f"{t}-{region}") for t in range(3)] == [1, 2, 1]
    assert states(tmp_path) == []  # each successful auto-recovery run removed its own


def test_the_state_of_a_run_in_progress_is_never_offered_to_other_globals(tmp_path):
    """eu is still running (held in task 1): us, with --auto-recovery and no state of its
    own, starts from the beginning instead of being offered eu's state."""
    f = workflow(tmp_path, "REGION=$REGION\nHOLD=$HOLD\n\n" + task(0, "0-@REGION@")
                 + task(1, "1-@REGION@ @HOLD@") + task(2, "2-@REGION@"))
    eu = tasker(f, "-r", "--auto-recovery", tmp=tmp_path, wait=False,
                env={"REGION": "eu", "HOLD": "1"})
    try:
        wait_for(lambda: (tmp_path / "1-eu.holding").exists(), "eu to reach task 1")
        us = tasker(f, "-r", "--auto-recovery", tmp=tmp_path, env={"REGION": "us", "HOLD": "0"})
    finally:
        eu.kill()
        eu.communicate(timeout=60)
    assert us.returncode == 0, us.stdout
    assert "Auto-recovery" not in us.stdout and runs(tmp_path, "0-us") == 1


def test_an_edited_file_keeps_its_state_for_force(tmp_path):
    f = workflow(tmp_path, task(0) + task(1, "1 0 ok") + task(2))
    assert tasker(f, "-r", tmp=tmp_path).returncode == 1
    f.write_text(f.read_text() + "\n# edited after the failure\n")
    (tmp_path / "ok").write_text("")
    refused = tasker(f, "-r", "--auto-recovery", tmp=tmp_path)
    assert refused.returncode == 12 and "use --force" in refused.stdout
    forced = tasker(f, "-r", "--auto-recovery", "--force", tmp=tmp_path)
    assert forced.returncode == 0 and resume_at(forced.stdout) == 1, forced.stdout
    assert [runs(tmp_path, t) for t in range(3)] == [1, 2, 1]


def test_other_globals_are_offered_the_latest_state_under_the_question(tmp_path):
    f = workflow(tmp_path, "PLACE=$PLACE\n\n" + task(0) + task(1, "1 0 ok") + task(2))
    assert tasker(f, "-r", tmp=tmp_path, env={"PLACE": "a"}).returncode == 1
    (tmp_path / "ok").write_text("")
    asked = tasker(f, "-r", "--auto-recovery", tmp=tmp_path, env={"PLACE": "b"})
    assert asked.returncode == 12
    assert "WARN: Auto-recovery: no state was saved with the current values of the globals; " \
        "the most recent state of this task file is " in asked.stdout
    assert "WARN: Auto-recovery: global PLACE was 'a' and is now 'b' since the saved run" \
        in asked.stdout
    agreed = tasker(f, "-r", "--auto-recovery", "-y", tmp=tmp_path, env={"PLACE": "b"})
    assert agreed.returncode == 0 and resume_at(agreed.stdout) == 1, agreed.stdout
    assert [runs(tmp_path, t) for t in range(3)] == [1, 2, 1]


def test_start_from_takes_only_the_state_of_the_same_globals(tmp_path):
    f = workflow(tmp_path, "PLACE=$PLACE\n\n" + task(0) + task(1, "1 0 ok") + task(2))
    assert tasker(f, "-r", tmp=tmp_path, env={"PLACE": "a"}).returncode == 1
    (tmp_path / "ok").write_text("")
    other = tasker(f, "-r", "--start-from", "1", tmp=tmp_path, env={"PLACE": "b"})
    assert other.returncode == 0 and "Restored" not in other.stdout, other.stdout
    assert "will be unresolved" in other.stdout
    same = tasker(f, "-r", "--start-from", "1", tmp=tmp_path, env={"PLACE": "a"})
    assert same.returncode == 0 and "Restored 1 task result(s)" in same.stdout


def test_a_state_of_the_previous_version_is_found_under_its_old_name(tmp_path):
    from tasker.report.paths import legacy_state_file_name

    f = workflow(tmp_path, task(0) + task(1, "1 0 ok") + task(2))
    assert tasker(f, "-r", tmp=tmp_path).returncode == 1
    [state] = states(tmp_path)
    head, rest = state.read_text().split("\n", 1)
    header = json.loads(head)
    del header["task_file"]  # the previous version did not record it
    state.unlink()
    legacy = state.parent / legacy_state_file_name(f)
    legacy.write_text(json.dumps(header) + "\n" + rest)
    (tmp_path / "ok").write_text("")
    again = tasker(f, "-r", "--auto-recovery", tmp=tmp_path)
    assert again.returncode == 0 and resume_at(again.stdout) == 1, again.stdout
    assert "Resume with the current values" not in again.stdout  # same globals: no question
    assert [runs(tmp_path, t) for t in range(3)] == [1, 2, 1]


# ---- a task file that is not a regular file keeps no state ------------------------------------

@pytest.mark.parametrize("resume, sentence", [
    ((), None),
    (("--start-from", "1"), "--start-from 1: starting at task 1 without restoring earlier "
                            "results, because a task file that is not a regular file has no "
                            "state file"),
    (("--auto-recovery",), "Auto-recovery: starting from the beginning, because a task file "
                           "that is not a regular file has no state file"),
])
def test_a_piped_task_file_runs_without_a_state_file(tmp_path, resume, sentence):
    f = workflow(tmp_path, task(0) + task(1, "1 0 ok") + task(2))
    argv = [sys.executable, str(ROOT / "tasker.py"), "-r", "--no-task-backup",
            "--skip-host-validation", "-l", str(tmp_path / "logs"), *resume]
    line = " ".join(f"'{a}'" for a in argv) + f" <(cat '{f}')"
    proc = subprocess.run(["bash", "-c", line], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, HOME=str(tmp_path)), cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # (task 1 fails: no `ok`)
    assert re.search(r"WARN: The task file /dev/fd/\d+ is not a regular file \(a pipe or a "
                     r"process substitution\): this run keeps no state file and cannot be "
                     r"resumed", proc.stdout), proc.stdout
    if sentence:
        assert f"WARN: {sentence}" in proc.stdout
    assert states(tmp_path) == [] and "Failed to save" not in proc.stdout
    assert runs(tmp_path, 0) == (0 if resume[:1] == ("--start-from",) else 1)


def test_a_fifo_task_file_keeps_no_state(tmp_path):
    f = workflow(tmp_path, task(0) + task(1))
    fifo = tmp_path / "fifo.txt"
    os.mkfifo(fifo)
    proc = tasker(fifo, "-r", "--no-task-backup", tmp=tmp_path, wait=False)
    with open(fifo, "w") as writer:
        writer.write(f.read_text())
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert "is not a regular file" in out and states(tmp_path) == []


# ---- long task file names ------------------------------------------------------------

def test_a_task_file_with_a_240_character_name_resumes(tmp_path):
    name = "n" * 236 + ".txt"
    f = workflow(tmp_path, task(0) + task(1, "1 0 ok") + task(2), name=name)
    first = tasker(f, "-r", tmp=tmp_path)
    assert first.returncode == 1, first.stdout
    assert "Failed to save" not in first.stdout and "backup failed" not in first.stdout
    [state] = states(tmp_path)
    assert len(state.name.encode()) <= 200
    (tmp_path / "ok").write_text("")
    again = tasker(f, "-r", "--start-from", "1", tmp=tmp_path)
    assert again.returncode == 0, again.stdout
    assert "Restored 1 task result(s)" in again.stdout
    shutil.rmtree(tmp_path / "logs" / "recovery")
    (tmp_path / "ok").unlink()
    assert tasker(f, "-r", "--auto-recovery", tmp=tmp_path).returncode == 1
    (tmp_path / "ok").write_text("")
    resumed = tasker(f, "-r", "--auto-recovery", tmp=tmp_path)
    assert resumed.returncode == 0 and resume_at(resumed.stdout) == 1, resumed.stdout
