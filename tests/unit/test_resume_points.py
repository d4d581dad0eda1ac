"""Where the state file says a run resumes (I.4a), against a fake executor.

The engine tells the state file, after every top-level task, which task a resumed run
starts at. These tests run workflows that fail, are routed, or are interrupted at a
chosen moment (in a command, or in a sleep: the log line that announces the sleep
triggers the interrupt), and look at the last position saved.
"""

from __future__ import annotations

import io
import threading
from typing import List, Optional, Tuple

import pytest

from tasker.engine.context import EngineOptions, RunContext
from tasker.engine.errors import FatalRunError
from tasker.engine.sequential import run_workflow
from tasker.events import Reporters, TaskFinished
from tasker.exec.base import CommandResult
from tasker.exec.config import load_exec_config
from tasker.interrupt import Interrupt
from tasker.report.console import LogReporter
from tasker.report.logger import Log
from tasker.resume import resume_task
from tasker.syntax.taskfile import LoadOptions, build_task_file


class Console(io.StringIO):
    """The log's stream; interrupts the run when a line containing `trigger` is written."""

    def __init__(self, interrupt: Interrupt, trigger: Optional[str]):
        super().__init__()
        self.interrupt, self.trigger = interrupt, trigger

    def write(self, text: str) -> int:
        if self.trigger and self.trigger in text:
            self.interrupt.trigger(15)
        return super().write(text)


class Executor:
    """argv[0] -> exit code, or a list of them for successive calls; "signal" interrupts
    the run while the command runs."""

    def __init__(self, table, interrupt: Interrupt):
        self.table, self.interrupt, self.calls = table, interrupt, []

    def run(self, spec, cancel: threading.Event) -> CommandResult:
        self.calls.append(spec.argv[0])
        code = self.table.get(spec.argv[0], 0)
        if isinstance(code, list):
            code = code.pop(0) if code else 0
        if code == "signal":
            self.interrupt.trigger(15)
            return CommandResult(-15, "", "killed", 0.01)
        return CommandResult(code, "", "", 0.01)


class SavedStates:
    """Records what the state file would save: (task, next task) per TaskFinished."""

    def __init__(self, saves: List[Tuple[int, Optional[int]]]) -> None:
        self.saves = saves

    def handle(self, event) -> None:
        if isinstance(event, TaskFinished):
            self.saves.append((event.task_id, event.next_task))


def run(text: str, table=None, trigger: Optional[str] = None):
    """Run `text`; (outcome or FatalRunError, saves [(task, next)], executed commands,
    log text, run record)."""
    interrupt = Interrupt()
    saves: List[Tuple[int, Optional[int]]] = []
    console = Console(interrupt, trigger)
    ex = Executor(table or {}, interrupt)
    tf = build_task_file("t.txt", text, LoadOptions())
    ctx = RunContext(taskfile=tf, options=EngineOptions(dry_run=False),
                     exec_config=load_exec_config([]), executor=ex,
                     events=Reporters(SavedStates(saves), LogReporter(Log(stream=console))),
                     interrupt=interrupt)
    try:
        outcome = run_workflow(ctx)
    except FatalRunError as exc:
        outcome = exc
    return outcome, saves, ex.calls, console.getvalue(), ctx.run_state


def task(tid: int, extra: str = "") -> str:
    return f"task={tid}\nhostname=localhost\nexec=local\ncommand=cmd{tid}\n{extra}\n"


# ---- a failure routed through on_failure resumes where it started -------------------------------

HANDLED = (task(0) + task(1, "on_success=5\non_failure=90") + task(5, "next=never")
           + task(90, "on_success=91") + "task=91\nreturn=3\n")


def test_a_handler_path_ending_in_return_resumes_at_the_failed_task():
    outcome, saves, calls, _, rec = run(HANDLED, {"cmd1": 1})
    assert outcome.exit_code == 3 and calls == ["cmd0", "cmd1", "cmd90"]
    assert saves[-1] == (91, 1)  # not the return task: that could never recover
    assert rec.failure_origin == 1


def test_the_first_routed_failure_is_the_origin():
    text = (task(0, "on_failure=2") + task(1) + task(2, "on_failure=4") + task(3)
            + task(4) + task(5))
    outcome, saves, _, _, _ = run(text, {"cmd0": 1, "cmd2": 1, "cmd5": 7})
    assert outcome.exit_code == 7 and saves[-1] == (5, 0)


def test_a_routed_failure_then_success_completes():
    outcome, saves, _, _, _ = run(task(0, "on_failure=2") + task(1) + task(2), {"cmd0": 1})
    assert outcome.exit_code == 0 and saves[-1] == (2, None)


@pytest.mark.parametrize("routing", ["next=exit_0\non_failure=90", "on_failure=90"])
def test_next_false_and_plain_failures_are_origins_alike(routing):
    text = task(0, routing) + task(90) + task(91, "success=exit_1")
    outcome, saves, _, _, _ = run(text, {"cmd0": 2})
    assert outcome.exit_code == 1 and saves[-1] == (91, 0)


def test_a_failed_block_routed_to_a_handler_is_the_origin():
    text = ("task=0\ntype=parallel\ntasks=10,11\non_failure=90\n\n" + task(10) + task(11)
            + task(90) + "task=91\nreturn=4\n")
    outcome, saves, _, _, _ = run(text, {"cmd11": 1})
    assert outcome.exit_code == 4 and saves[-1] == (91, 0)


def test_a_failed_decision_routed_to_a_handler_is_the_origin():
    text = (task(0, "next=always") + "task=1\ntype=decision\nsuccess=@0_exit@=0\n"
            "on_failure=90\n\n"
            + task(90, "success=exit_1"))
    outcome, saves, _, _, _ = run(text, {"cmd0": 1})
    assert outcome.exit_code == 1 and saves[-1] == (90, 1)


def test_an_unrouted_failure_resumes_at_itself():
    outcome, saves, _, _, _ = run(task(0) + task(1) + task(2), {"cmd1": 4})
    assert outcome.exit_code == 4 and saves[-1] == (1, 1)


@pytest.mark.parametrize("target", ["@0_exit@", "@0_stdout@"])
def test_a_fatal_error_after_a_routed_failure_resumes_at_the_origin(target):
    """A target behind the task (fatal, exit 20) or not a number (the task fails)."""
    text = task(0, "on_failure=5") + task(5, f"on_failure={target}")
    outcome, saves, _, _, _ = run(text, {"cmd0": 1, "cmd5": 1})
    assert isinstance(outcome, FatalRunError) == (target == "@0_exit@")
    assert saves[-1] == (5, 0)


def test_an_interrupt_in_a_handler_resumes_at_the_interrupted_task():
    outcome, saves, _, _, _ = run(HANDLED, {"cmd1": 1, "cmd90": "signal"})
    assert outcome.exit_code == 143 and saves[-1] == (90, 90)


# ---- an interrupted loop starts again from its first iteration ----------------------------------

LOOP = task(0) + task(1, "next=loop\nloop=4\nsleep=0.01") + task(2)


def test_a_loop_interrupted_in_a_command_resumes_at_the_loop():
    text = task(0) + task(1, "next=loop\nloop=4") + task(2)
    outcome, saves, calls, _, _ = run(text, {"cmd1": [0, 0, "signal"]})
    assert outcome.exit_code == 143 and saves == [(0, 1), (1, 1)]
    assert calls == ["cmd0", "cmd1", "cmd1", "cmd1"]


@pytest.mark.parametrize("during", ["Task 1.1: Sleeping", "Task 1.4: Sleeping"])
def test_a_loop_interrupted_in_a_sleep_resumes_at_the_loop(during):
    outcome, saves, calls, _, _ = run(LOOP, trigger=during)
    assert outcome.exit_code == 143 and saves[-1] == (1, 1)
    assert "cmd2" not in calls


def test_a_block_loop_interrupted_resumes_at_the_block():
    text = ("task=0\ntype=parallel\ntasks=10\nnext=loop\nloop=3\n\n" + task(10))
    outcome, saves, _, _, _ = run(text, {"cmd10": [0, "signal"]})
    assert outcome.exit_code == 143 and saves == [(0, 0)]


# ---- a task interrupted in its own sleep is not run again ---------------------------------------

@pytest.mark.parametrize("routing, code, nxt", [
    ("", 0, 2),                        # no routing: ID + 1
    ("on_success=50", 0, None),        # past the last task: nothing is left
    ("on_success=5", 0, 5),            # routing leads on
    ("on_failure=5", 1, 5),            # a handled failure too
    ("", 3, 1),                        # an unrouted failure: the task itself
    ("next=never", 0, None),           # the run would have ended well: nothing left
    ("return=0", 0, None),
    ("return=2", 0, 1),
])
def test_a_task_interrupted_in_its_sleep_resumes_where_its_routing_leads(routing, code, nxt):
    text = task(0) + task(1, f"sleep=30\n{routing}") + task(2) + task(5)
    outcome, saves, calls, _, rec = run(text, {"cmd1": code}, trigger="Task 1: Sleeping")
    assert (outcome.exit_code, outcome.status) == (143, "interrupted")
    assert saves[-1] == (1, nxt) and calls == ["cmd0", "cmd1"]
    assert rec.failure is None  # the run ends as interrupted, not with the task's failure


def test_a_sleep_interrupted_after_a_routed_failure_resumes_at_the_origin():
    text = task(0, "on_failure=5") + task(5, "sleep=30\nsuccess=exit_1")
    outcome, saves, _, _, _ = run(text, {"cmd0": 1}, trigger="Task 5: Sleeping")
    assert outcome.exit_code == 143 and saves[-1] == (5, 0)


def test_a_task_interrupted_in_its_command_runs_again():
    outcome, saves, _, _, _ = run(task(0) + task(1, "sleep=30") + task(2), {"cmd1": "signal"})
    assert outcome.exit_code == 143 and saves[-1] == (1, 1)


def test_nothing_left_means_auto_recovery_starts_afresh():
    state = {"next_task": None, "current_task": 1, "last_task": 1, "failure": None}
    assert resume_task(state, {0: 0, 1: 1, 2: 2}) is None
    assert resume_task(dict(state, next_task=2), {0: 0, 1: 1, 2: 2}) == 2


# ---- an interrupted block stores no result ------------------------------------------------------

@pytest.mark.parametrize("block", ["type=parallel\ntasks=10,11\nmax_parallel=1",
                                   "type=conditional\ncondition=true\nif_true_tasks=10,11"])
def test_an_interrupted_block_stores_no_result_and_runs_again(block):
    text = task(0) + f"task=1\n{block}\n\n" + task(10) + task(11) + task(2)
    outcome, saves, calls, _, rec = run(text, {"cmd11": "signal"})
    assert outcome.exit_code == 143 and outcome.task_id == 1
    assert 1 not in rec.results and {10, 11} <= set(rec.results)
    assert saves[-1] == (1, 1) and "cmd2" not in calls
