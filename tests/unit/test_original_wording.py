"""Differential tests: where tasker must word things exactly as TASKER does (issue 16, §6).

The original's behaviour is the one SPEC Part II describes: the block result of II.4.3
(zero counts left out, timeouts counted apart from failures), the `N.k` label of a loop's
condition and return lines (A.1), and no `Split STDOUT:` line for an empty split value.
Each test runs the engine on a small file against a fake executor and reads the log and
the stored results, and, through a later task's arguments, `@N_stdout@`/`@N_stderr@`.
"""

from __future__ import annotations

import io
import threading
from typing import Callable, Dict, List, Tuple, Union

import pytest

from tasker.engine.context import EngineOptions, Outcome, RunContext
from tasker.engine.sequential import run_workflow
from tasker.exec.base import CommandResult, CommandSpec
from tasker.exec.config import load_exec_config
from tasker.interrupt import Interrupt
from tasker.report.console import log_events
from tasker.report.logger import Log
from tasker.results import RunRecord
from tasker.syntax.taskfile import LoadOptions, build_task_file

Answer = Union[Tuple[int, str, str], Callable[[Tuple[str, ...]], Tuple[int, str, str]]]


class Fake:
    """Answers argv[0] from a table (exit, stdout, stderr); exit 124 is a timeout."""

    def __init__(self, table: Dict[str, Answer]) -> None:
        self.table = table
        self.calls: List[Tuple[str, ...]] = []
        self.lock = threading.Lock()

    def run(self, spec: CommandSpec, cancel: threading.Event) -> CommandResult:
        with self.lock:
            self.calls.append(tuple(spec.argv))
        answer = self.table.get(spec.argv[0], (0, "", ""))
        code, out, err = answer(tuple(spec.argv)) if callable(answer) else answer
        return CommandResult(code, out, err, 0.01, timed_out=code == 124)


def run(text: str, table: Dict[str, Answer]) -> Tuple[Outcome, RunRecord, str, Fake]:
    """Run a task file's text to the end: (outcome, run state, log text, executor)."""
    tf = build_task_file("t.txt", text, LoadOptions())
    out, fake = io.StringIO(), Fake(table)
    ctx = RunContext(taskfile=tf, options=EngineOptions(dry_run=False),
                     exec_config=load_exec_config([]), executor=fake,
                     events=log_events(Log(stream=out)),
                     interrupt=Interrupt())
    outcome = run_workflow(ctx)
    return outcome, ctx.run_state, out.getvalue(), fake


def task(tid: int, extra: str = "") -> str:
    return f"task={tid}\nhostname=localhost\nexec=local\ncommand=cmd{tid}\n{extra}\n"


def echo_block(tid: int) -> str:
    """A task that hands the block's stored stdout and stderr to its command."""
    return task(tid, f"arguments='@{tid - 1}_stdout@' '@{tid - 1}_stderr@'")


# ---- II.4.3: the block's stored result ---------------------------------------------------------
PARALLEL = [
    # (exit codes of sub-tasks 10.., stored stdout, stored stderr)
    ((0, 0), "Parallel execution: 2/2 successful", ""),
    ((0, 3), "Parallel execution: 1/2 successful, 1 failed", "Failed tasks: [11]. "),
    ((0, 124), "Parallel execution: 1/2 successful, 1 timeout", "Timeout tasks: [11]"),
    ((3, 124, 0, 5), "Parallel execution: 1/4 successful, 2 failed, 1 timeout",
     "Failed tasks: [10, 13]. Timeout tasks: [11]"),
    ((124, 124), "Parallel execution: 0/2 successful, 2 timeout", "Timeout tasks: [10, 11]"),
]


@pytest.mark.parametrize("codes, stdout, stderr", PARALLEL)
def test_parallel_block_result_is_worded_as_tasker_words_it(codes, stdout, stderr):
    ids = ",".join(str(10 + i) for i in range(len(codes)))
    text = f"task=1\ntype=parallel\ntasks={ids}\nnext=always\n\n" + echo_block(2)
    text += "".join(task(10 + i) for i in range(len(codes)))
    table: Dict[str, Answer] = {f"cmd{10 + i}": (c, "", "") for i, c in enumerate(codes)}
    outcome, rec, _, fake = run(text, table)
    block = rec.results[1]
    assert (block.stdout, block.stderr) == (stdout, stderr)
    all_ok = all(c == 0 for c in codes)
    assert (block.exit_code, block.success) == (0 if all_ok else 1, all_ok)
    # the counts behind @1_failed_count@ still take every unsuccessful sub-task (II.5.3)
    assert block.counts.failed == sum(1 for c in codes if c != 0)
    # @1_stdout@ and @1_stderr@ are those texts (trailing newlines only would be removed)
    assert ("cmd2", stdout, stderr) in fake.calls
    assert outcome.exit_code == 0


@pytest.mark.parametrize("branch, word", [("true", "TRUE"), ("false", "FALSE")])
def test_conditional_block_result_names_its_branch(branch, word):
    text = (f"task=1\ntype=conditional\ncondition={branch}\nif_true_tasks=10,11\n"
            "if_false_tasks=11,12\nnext=always\n\n")
    text += echo_block(2) + task(10) + task(11) + task(12)
    _, rec, _, fake = run(text, {"cmd11": (124, "", ""), "cmd12": (2, "", "")})
    block = rec.results[1]
    if branch == "true":
        expected = ("Conditional TRUE branch: 1/2 successful, 1 timeout", "Timeout tasks: [11]")
    else:
        expected = (f"Conditional {word} branch: 0/2 successful, 1 failed, 1 timeout",
                    "Failed tasks: [12]. Timeout tasks: [11]")
    assert (block.stdout, block.stderr) == expected
    assert ("cmd2", *expected) in fake.calls


def test_fan_out_block_result_names_the_generated_sub_tasks():
    """hostnames= blocks store the same sentence over the generated IDs (II.5.4)."""
    text = ("task=1\ntype=parallel\nhostnames=h1,h2,h3\nexec=local\ncommand=probe\n"
            "arguments=@task@\nnext=always\n\n") + echo_block(2)
    codes = {"110000": 0, "110001": 7, "110002": 124}
    outcome, rec, _, fake = run(text, {"probe": lambda argv: (codes[argv[1]], "", "")})
    block = rec.results[1]
    expected = ("Parallel execution: 1/3 successful, 1 failed, 1 timeout",
                "Failed tasks: [110001]. Timeout tasks: [110002]")
    assert (block.stdout, block.stderr) == expected
    assert ("cmd2", *expected) in fake.calls and outcome.exit_code == 0


# ---- A.1: a looping task's condition and return lines carry the iteration ----------------------
def test_a_loop_skipped_at_its_first_check_says_n_dot_1():
    _, rec, log, fake = run(task(0, "condition=false\nnext=loop\nloop=3") + task(1), {})
    assert "Task 0.1: Condition 'false' evaluated to FALSE, skipping task" in log
    assert "Task 0: Condition" not in log
    assert [c[0] for c in fake.calls] == ["cmd1"] and rec.results[0].exit_code == -1


def test_a_loop_checked_true_says_n_dot_k_every_time():
    _, _, log, _ = run(task(0, "condition=true\nnext=loop\nloop=2"), {})
    assert "Task 0.1: Condition 'true' evaluated to TRUE, executing task" in log
    assert "Task 0.2: Condition 'true' evaluated to TRUE, executing task" in log
    assert "Task 0: Condition" not in log


def test_a_loop_returning_says_n_dot_1():
    outcome, _, log, fake = run(task(0, "next=loop\nloop=3\nreturn=0") + task(1), {})
    assert "Task 0.1: Returning with exit code 0" in log
    assert "Task 0: Returning" not in log
    assert "SUCCESS: Task execution completed successfully with return code 0" in log
    assert outcome.exit_code == 0 and [c[0] for c in fake.calls] == ["cmd0"]


def test_a_task_that_does_not_loop_keeps_its_plain_label():
    _, _, log, _ = run(task(0, "condition=true\nreturn=2"), {})
    assert "Task 0: Condition 'true' evaluated to TRUE, executing task" in log
    assert "Task 0: Returning with exit code 2" in log


def test_a_return_only_task_never_iterates_so_keeps_its_plain_label():
    _, _, log, _ = run("task=0\ncondition=true\nreturn=3\nnext=loop\nloop=2\n", {})
    assert "Task 0: Condition 'true' evaluated to TRUE, executing task" in log
    assert "Task 0: Return-only task (no command to execute)" in log
    assert "Task 0: Returning with exit code 3" in log


# ---- II.4.5 / A.1: an empty split value is not logged ------------------------------------------
@pytest.mark.parametrize("name, stream", [("stdout", 1), ("stderr", 2)])
def test_an_empty_split_value_gets_no_split_line(name, stream):
    answer = (0, "a,,c\n", "") if stream == 1 else (0, "", "a,,c\n")
    text = task(0, f"{name}_split=comma,1") + task(1, f"arguments=[@0_{name}@]")
    _, rec, log, fake = run(text, {"cmd0": answer})
    assert f"Split {name.upper()}" not in log
    assert getattr(rec.results[0], name) == "" and ("cmd1", "[]") in fake.calls


@pytest.mark.parametrize("name, stream", [("stdout", 1), ("stderr", 2)])
def test_a_blank_split_value_gets_no_split_line_either(name, stream):
    answer = (0, "a, ,c\n", "") if stream == 1 else (0, "", "a, ,c\n")
    _, _, log, _ = run(task(0, f"{name}_split=comma,1"), {"cmd0": answer})
    assert f"Split {name.upper()}" not in log


def test_a_split_value_with_text_is_still_logged():
    _, _, log, _ = run(task(0, "stdout_split=comma,1\nstderr_split=comma,0"),
                       {"cmd0": (0, "a,b,c\n", "x,y\n")})
    assert "Task 0: Split STDOUT: b" in log and "Task 0: Split STDERR: x" in log


def test_an_empty_split_value_in_a_loop_and_a_block_gets_no_line():
    text = task(0, "stdout_split=comma,1\nnext=loop\nloop=2")
    text += "task=1\ntype=parallel\ntasks=10\n\n" + task(10, "stdout_split=comma,1")
    _, _, log, _ = run(text, {"cmd0": (0, "a,,c", ""), "cmd10": (0, "a,,c", "")})
    assert "Split STDOUT" not in log
    assert "Task 0.2: Exit code: 0" in log and "Task 1-10: Exit code: 0" in log
