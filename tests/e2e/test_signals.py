"""End to end: SIGTERM, SIGINT and SIGHUP leave no process behind and every record says so.

The commands under test start a member of their process group that ignores SIGTERM and
holds neither pipe (`sh -c 'trap "" TERM; exec sleep A' >/dev/null 2>&1 & sleep B`): only
an unconditional SIGKILL of the group ends it. Each test uses its own numbers A and B, so
that runs in parallel do not mix, and finds its processes by scanning /proc.
"""

from __future__ import annotations

import json
import os
import pty
import random
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Tuple

import pytest

ROOT = Path(__file__).resolve().parents[2]
SIGNALS = [(signal.SIGTERM, 143), (signal.SIGINT, 130), (signal.SIGHUP, 129)]
IDS = ["SIGTERM", "SIGINT", "SIGHUP"]


def trapped(inner: int, outer: int) -> str:
    """A shell line whose group holds a TERM-ignoring `sleep inner` with no pipe open."""
    return (f"sh -c 'trap \"\" TERM; exec sleep {inner}' </dev/null >/dev/null 2>&1 & "
            f"sleep {outer}")


def sleepers(*numbers: int) -> List[int]:
    """PIDs of running processes whose command line is exactly `sleep N`, N in numbers."""
    wanted = {f"sleep\0{n}\0".encode() for n in numbers}
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()  # empty for a zombie
        except OSError:
            continue
        if cmdline in wanted:
            found.append(int(entry))
    return found


def processes_naming(text: str) -> List[int]:
    """PIDs of running processes with `text` in their command line (but this one)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                if text.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                    found.append(int(entry))
            except OSError:
                pass
    return found


def wait_for(condition: Callable[[], bool], what: str, seconds: float = 30) -> None:
    end = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.02)


class Tasker:
    """tasker.py running in the background on one task file, with private dirs."""

    def __init__(self, tmp: Path, task_file: Path, *extra: str, env: Dict[str, str] = None):
        self.tmp = tmp
        (tmp / "tmp").mkdir(exist_ok=True)
        self.out = tmp / "out.txt"
        argv = [sys.executable, str(ROOT / "tasker.py"), str(task_file), "-r", "-p", "P",
                "--no-task-backup", "-l", str(tmp / "logs"), "--output-json",
                str(tmp / "r.json"), *extra]
        full_env = dict(os.environ, HOME=str(tmp), NO_COLOR="1", TMPDIR=str(tmp / "tmp"),
                        **(env or {}))
        with open(self.out, "w") as out:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, env=full_env, cwd=tmp,
                                         start_new_session=True)

    def output(self) -> str:
        return self.out.read_text()

    def stop_with(self, signum: int) -> int:
        self.proc.send_signal(signum)
        return self.proc.wait(timeout=60)

    def report(self) -> dict:
        return json.loads((self.tmp / "r.json").read_text())

    def summary(self) -> List[str]:
        """The run's project summary line, split into its columns."""
        lines = (self.tmp / "logs" / "project" / "P.summary").read_text().splitlines()
        return lines[-1].split("\t")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def numbers() -> Iterator[Tuple[int, int]]:
    """Two sleep lengths no other test uses; whatever is left of them is killed at the end."""
    base = random.SystemRandom().randrange(200_000, 900_000, 2)
    yield base, base + 1
    for pid in sleepers(base, base + 1):
        os.kill(pid, signal.SIGKILL)


def assert_interrupted(run: Tasker, code: int, phase: str = "") -> None:
    out = run.output()
    assert "Traceback" not in out, out
    meta = run.report()["workflow_metadata"]
    assert (meta["status"], meta["exit_code"]) == ("interrupted", code), out
    columns = run.summary()
    assert columns[1:3] == ["FAILURE", str(code)], columns
    if phase:
        assert columns[6] == phase, columns


def assert_nothing_left(run: Tasker, *numbers: int) -> None:
    wait_for(lambda: not sleepers(*numbers), f"the end of sleep {numbers}", seconds=5)
    assert not list((run.tmp / "tmp").glob("tasker_session_*"))


PLAIN = """task=0
hostname=localhost
command={command}
exec=shell
"""

SUBTASK = """task=0
type=parallel
tasks=10,11
max_parallel=2

task=10
hostname=localhost
command={command}
exec=shell

task=11
hostname=localhost
command=true
exec=local
"""


@pytest.mark.parametrize("layout", [PLAIN, SUBTASK], ids=["task", "subtask"])
@pytest.mark.parametrize("signum, code", SIGNALS, ids=IDS)
def test_signal_kills_the_whole_group_of_a_running_command(
        tmp_path: Path, numbers: Tuple[int, int], layout: str, signum: int, code: int) -> None:
    inner, outer = numbers
    task_file = tmp_path / "flow.txt"
    task_file.write_text(layout.format(command=trapped(inner, outer)))
    run = Tasker(tmp_path, task_file, "--skip-host-validation")
    try:
        wait_for(lambda: len(sleepers(inner, outer)) == 2, "the command to start")
        assert run.stop_with(signum) == code, run.output()
    finally:
        run.kill()
    assert_interrupted(run, code)
    assert list((tmp_path / "logs" / "recovery").glob("flow_*.recovery.json"))  # state saved
    assert_nothing_left(run, inner, outer)


def test_timeout_still_kills_the_group_at_once(tmp_path: Path,
                                               numbers: Tuple[int, int]) -> None:
    inner, outer = numbers
    task_file = tmp_path / "flow.txt"
    task_file.write_text(PLAIN.format(command=trapped(inner, outer)) + "timeout=5\n")
    run = Tasker(tmp_path, task_file, "--skip-host-validation")
    try:
        assert run.proc.wait(timeout=60) == 124, run.output()
    finally:
        run.kill()
    assert "Process killed after timeout of 5 seconds" in json.dumps(run.report())
    assert_nothing_left(run, inner, outer)


def test_sighup_during_host_validation(tmp_path: Path, numbers: Tuple[int, int]) -> None:
    inner, outer = numbers
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "pbrun").write_text(f"#!/bin/sh\n{trapped(inner, outer)}\n")  # a hanging test
    (fake / "pbrun").chmod(0o755)
    task_file = tmp_path / "flow.txt"
    task_file.write_text("task=0\nhostname=localhost\ncommand=true\nexec=pbrun\n")
    run = Tasker(tmp_path, task_file, env={"PATH": f"{fake}:{os.environ['PATH']}"})
    try:
        wait_for(lambda: len(sleepers(inner, outer)) == 2, "the connectivity test to start")
        assert run.stop_with(signal.SIGHUP) == 129, run.output()
    finally:
        run.kill()
    assert_interrupted(run, 129, phase="host_validation")
    assert "Received SIGHUP, stopping" in run.output()
    assert_nothing_left(run, inner, outer)


def big_task_file(path: Path, blocks: int = 100) -> None:
    """100 fan-out blocks of 1000 hosts: 100,000 sub-tasks take seconds to load and check."""
    with open(path, "w") as out:
        for b in range(blocks):
            hosts = ",".join(f"h{b}-{i}.example" for i in range(1000))
            out.write(f"task={b}\ntype=parallel\nhostnames={hosts}\ncommand=true\n"
                      "exec=local\n\n")


def test_sighup_during_task_validation_of_a_big_file(tmp_path: Path) -> None:
    task_file = tmp_path / "big.txt"
    big_task_file(task_file)
    run = Tasker(tmp_path, task_file, "--skip-host-validation")
    try:
        wait_for(lambda: "# Validating task file" in run.output(), "validation to start")
        assert run.stop_with(signal.SIGHUP) == 129, run.output()
    finally:
        run.kill()
    assert_interrupted(run, 129, phase="task_validation")
    assert not processes_naming(str(task_file))  # the validator's forked helper too
    assert not list((tmp_path / "tmp").glob("tasker_session_*"))


ALERT = """#!/bin/sh
{command}
"""


@pytest.mark.parametrize("signum, code", SIGNALS, ids=IDS)
def test_signal_during_the_alert_script(tmp_path: Path, numbers: Tuple[int, int],
                                        signum: int, code: int) -> None:
    inner, outer = numbers
    alert = tmp_path / "alert.sh"
    alert.write_text(ALERT.format(command=trapped(inner, outer)))
    alert.chmod(0o755)
    task_file = tmp_path / "flow.txt"
    task_file.write_text("task=0\nhostname=localhost\ncommand=false\nexec=local\n")
    run = Tasker(tmp_path, task_file, "--skip-host-validation",
                 "--alert-on-failure", str(alert))
    try:
        wait_for(lambda: len(sleepers(inner, outer)) == 2, "the alert script to start")
        assert run.stop_with(signum) == code, run.output()
    finally:
        run.kill()
    assert_interrupted(run, code)
    failure = run.report()["execution_summary"]["failure_info"]
    assert failure["exit_code"] == code and "alert script" in failure["error"]
    out = run.output()
    assert f"Executing alert script: {alert}" in out
    assert f"Alert script exited with code -{int(signal.SIGTERM)}" in out
    assert f"Received {signal.Signals(signum).name} while the alert script ran" in out
    assert_nothing_left(run, inner, outer)


def test_an_alert_that_ends_normally_keeps_the_runs_code(tmp_path: Path) -> None:
    alert = tmp_path / "alert.sh"
    alert.write_text('#!/bin/sh\necho "alerted $TASKER_EXIT_CODE"; echo oops >&2; exit 3\n')
    alert.chmod(0o755)
    task_file = tmp_path / "flow.txt"
    task_file.write_text("task=0\nhostname=localhost\ncommand=sh\narguments=-c 'exit 7'\n"
                         "exec=local\n")
    run = Tasker(tmp_path, task_file, "--skip-host-validation", "--alert-on-failure", str(alert))
    try:
        assert run.proc.wait(timeout=60) == 7
    finally:
        run.kill()
    out = run.output()
    assert "Alert script exited with code 3" in out
    assert "Alert script stdout: alerted 7" in out
    assert "Alert script stderr: oops" in out
    assert run.report()["workflow_metadata"]["exit_code"] == 7
    assert run.summary()[2] == "7"


def test_help_lists_the_signal_codes() -> None:
    out = subprocess.run([sys.executable, str(ROOT / "tasker.py"), "--help"],
                         capture_output=True, text=True, timeout=60).stdout
    assert "129      interrupted by SIGHUP" in out
    assert "130/143  interrupted by SIGINT/SIGTERM" in out


def test_a_real_hangup_of_the_terminal(tmp_path: Path, numbers: Tuple[int, int]) -> None:
    """tasker on a pseudo-terminal that goes away: SIGHUP from the kernel, then every
    console write fails (EIO); the run still ends as interrupted, with every record."""
    inner, outer = numbers
    task_file = tmp_path / "flow.txt"
    task_file.write_text(PLAIN.format(command=trapped(inner, outer))
                         + "\ntask=1\nhostname=localhost\ncommand=echo\nexec=local\n")
    argv = [sys.executable, str(ROOT / "tasker.py"), str(task_file), "-r", "-p", "P",
            "--skip-host-validation", "--no-task-backup", "-l", str(tmp_path / "logs"),
            "--output-json", str(tmp_path / "r.json")]
    pid, master = pty.fork()
    if pid == 0:  # the child: tasker, with the terminal as its controlling terminal
        try:
            os.chdir(tmp_path)
            os.execve(sys.executable, argv, dict(os.environ, HOME=str(tmp_path)))
        finally:
            os._exit(127)  # (never back into pytest)
    try:
        end = time.monotonic() + 30
        while len(sleepers(inner, outer)) < 2:  # keep reading, so tasker never blocks
            assert time.monotonic() < end, "the command never started"
            if select.select([master], [], [], 0.05)[0]:
                try:
                    os.read(master, 65536)
                except OSError:
                    pass
    finally:
        os.close(master)  # the hangup
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 129
    meta = json.loads((tmp_path / "r.json").read_text())["workflow_metadata"]
    assert (meta["status"], meta["exit_code"]) == ("interrupted", 129)
    log = next((tmp_path / "logs" / "log").glob("flow_*.log")).read_text()
    assert "Task 0: Exit code: -15" in log and "Traceback" not in log
    wait_for(lambda: not sleepers(inner, outer), "the end of the command's group", seconds=5)
