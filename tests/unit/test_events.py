"""The engine's event stream: what a recording reporter sees for small workflows.

The engine reports typed events (tasker/events.py) and writes nothing itself; these
tests pin the sequence a recap, an HTML report, the state file or the progress line
subscribe to: a loop, a block with a retry, a routing jump, a conditional block, a
dry run, and the per-thread order of a parallel block's sub-tasks.
"""

import threading
from typing import List

from tasker.engine.context import EngineOptions, RunContext
from tasker.engine.sequential import run_workflow
from tasker.events import (
    AttemptFinished,
    BlockFinished,
    BlockProgress,
    BlockStarted,
    CommandFinished,
    CommandLaunched,
    CommandOutputs,
    Note,
    Reporters,
    RoutingDecided,
    RunStarted,
    SubtaskFinished,
    TaskFinished,
    TaskStarted,
)
from tasker.exec.base import CommandResult
from tasker.exec.config import load_exec_config
from tasker.interrupt import Interrupt
from tasker.syntax.taskfile import LoadOptions, build_task_file


class Recorder:
    """A reporter that keeps every event, from whichever thread it comes."""

    def __init__(self) -> None:
        self.events: List[object] = []
        self.lock = threading.Lock()

    def handle(self, event) -> None:
        with self.lock:
            self.events.append(event)


class FlakyExecutor:
    """Every command succeeds with `out <name>`, except those in `fail_first`, whose
    first run exits 1, and those in `fail`, which always exit 1."""

    def __init__(self, fail_first=(), fail=()):
        self.fail_first, self.fail = set(fail_first), set(fail)
        self.lock = threading.Lock()

    def run(self, spec, cancel: threading.Event) -> CommandResult:
        name = spec.argv[0]
        with self.lock:
            first = name in self.fail_first
            self.fail_first.discard(name)
        code = 1 if first or name in self.fail else 0
        return CommandResult(code, f"out {name}", "", 0.01)


def run(text, executor=None, dry_run=False):
    tf = build_task_file("t.txt", text, LoadOptions())
    recorder = Recorder()
    ctx = RunContext(taskfile=tf, options=EngineOptions(dry_run=dry_run),
                     exec_config=load_exec_config([]), executor=executor or FlakyExecutor(),
                     events=Reporters(recorder), interrupt=Interrupt())
    return run_workflow(ctx), recorder.events


def cmd(tid, extra=""):
    return f"task={tid}\nhostname=localhost\nexec=local\ncommand=cmd{tid}\n{extra}\n"


def brief(event) -> tuple:
    """An event as a short tuple: its kind and the fields that place it."""
    kind = type(event).__name__
    if isinstance(event, (TaskStarted, CommandLaunched, CommandFinished)):
        return (kind, event.label)
    if isinstance(event, CommandOutputs):
        return (kind, event.label, event.block_id, event.iteration, event.attempt)
    if isinstance(event, AttemptFinished):
        return (kind, event.label, event.block_id, event.iteration, event.attempt,
                event.result.success)
    if isinstance(event, SubtaskFinished):
        return (kind, event.label, event.attempts, event.result.success)
    if isinstance(event, BlockProgress):
        return (kind, event.done, event.running, event.failed)
    if isinstance(event, (BlockStarted, BlockFinished)):
        return (kind, event.block_id)
    if isinstance(event, (RoutingDecided,)):
        return (kind, event.task_id, event.next_task, event.why)
    if isinstance(event, TaskFinished):
        return (kind, event.task_id, event.next_task)
    if isinstance(event, RunStarted):
        return (kind, event.first_task)
    return (kind,)


LOOP_BLOCK_JUMP = (cmd(0, "next=loop\nloop=2")
                   + "task=1\ntype=parallel\ntasks=10,11\nmax_parallel=1\nretry_count=1\n"
                     "retry_delay=0\non_success=5\n\n"
                   + cmd(2) + cmd(5) + cmd(10) + cmd(11))


def test_a_loop_a_retried_sub_task_and_a_jump_in_order():
    outcome, events = run(LOOP_BLOCK_JUMP, FlakyExecutor(fail_first={"cmd11"}))
    assert outcome.exit_code == 0
    seen = [brief(e) for e in events if not isinstance(e, Note)]
    assert seen == [
        ("RunStarted", 0),
        ("TaskStarted", "0.1"), ("CommandLaunched", "0.1"),
        ("CommandOutputs", "0.1", None, 1, 1), ("CommandFinished", "0.1"),
        ("AttemptFinished", "0.1", None, 1, 1, True),
        ("TaskStarted", "0.2"), ("CommandLaunched", "0.2"),
        ("CommandOutputs", "0.2", None, 2, 1), ("CommandFinished", "0.2"),
        ("AttemptFinished", "0.2", None, 2, 1, True),
        ("RoutingDecided", 0, 1, "next"), ("TaskFinished", 0, 1),
        ("BlockStarted", 1),
        ("BlockProgress", 0, 1, 0),
        ("TaskStarted", "1-10.1"), ("CommandLaunched", "1-10.1"),
        ("CommandOutputs", "1-10.1", 1, None, 1), ("CommandFinished", "1-10.1"),
        ("AttemptFinished", "1-10.1", 1, None, 1, True),
        ("SubtaskFinished", "1-10", 1, True),
        ("BlockProgress", 1, 0, 0), ("BlockProgress", 1, 1, 0),
        ("TaskStarted", "1-11.1"), ("CommandLaunched", "1-11.1"),
        ("CommandOutputs", "1-11.1", 1, None, 1), ("CommandFinished", "1-11.1"),
        ("AttemptFinished", "1-11.1", 1, None, 1, False),
        ("TaskStarted", "1-11.2"), ("CommandLaunched", "1-11.2"),
        ("CommandOutputs", "1-11.2", 1, None, 2), ("CommandFinished", "1-11.2"),
        ("AttemptFinished", "1-11.2", 1, None, 2, True),
        ("SubtaskFinished", "1-11", 2, True),
        ("BlockProgress", 2, 0, 0),
        ("BlockFinished", 1),
        ("AttemptFinished", "1", None, None, 1, True),  # the block's own result
        ("RoutingDecided", 1, 5, "next"), ("TaskFinished", 1, 5),  # the jump over task 2
        ("TaskStarted", "5"), ("CommandLaunched", "5"),
        ("CommandOutputs", "5", None, None, 1), ("CommandFinished", "5"),
        ("AttemptFinished", "5", None, None, 1, True),
        ("RoutingDecided", 5, None, "end"), ("TaskFinished", 5, None),
    ]
    block = next(e for e in events if isinstance(e, BlockStarted))
    assert (block.kind, block.total, block.max_parallel, block.retry) == ("parallel", 2, 1, (1, 0))
    routing = [e.text for e in events if isinstance(e, Note) and "jumping" in e.text]
    assert routing == ["Task 1: Parallel success (2/2), jumping to Task 5"]


def test_a_failed_run_reports_where_it_stopped_and_where_it_resumes():
    text = cmd(0, "on_failure=3") + cmd(1) + cmd(3)
    outcome, events = run(text, FlakyExecutor(fail={"cmd0", "cmd3"}))
    assert outcome.exit_code == 1
    ends = [brief(e) for e in events if isinstance(e, (RoutingDecided, TaskFinished))]
    assert ends == [("RoutingDecided", 0, 3, "next"), ("TaskFinished", 0, 3),
                    ("RoutingDecided", 3, None, "failed"), ("TaskFinished", 3, 0)]


def test_a_conditional_block_reports_its_branch_and_a_skip():
    text = ("task=1\ntype=conditional\ncondition=1=1\nif_true_tasks=10,11\nif_false_tasks=12\n\n"
            + cmd(10, "condition=1=2") + cmd(11) + cmd(12))
    outcome, events = run(text)
    assert outcome.exit_code == 10  # all_success: a skipped sub-task is not a successful one
    start = next(e for e in events if isinstance(e, BlockStarted))
    assert (start.kind, start.branch, start.total, start.retry) == ("conditional", True, 2, None)
    skipped = [e for e in events if isinstance(e, AttemptFinished) and e.skipped]
    assert [(e.task_id, e.label, e.block_id) for e in skipped] == [(10, "1-10", 1)]
    assert not any(isinstance(e, TaskStarted) and e.task_id == 10 for e in events)


def test_a_dry_run_reports_what_would_run():
    outcome, events = run(cmd(0) + cmd(1), dry_run=True)
    assert outcome.exit_code == 0
    launched = [e for e in events if isinstance(e, CommandLaunched)]
    assert [(e.label, e.dry_run, e.command) for e in launched] == [("0", True, "cmd0"),
                                                                   ("1", True, "cmd1")]
    assert next(e for e in events if isinstance(e, RunStarted)).dry_run


def test_parallel_sub_tasks_report_in_order_within_each_thread():
    ids = list(range(10, 30))
    text = (f"task=1\ntype=parallel\ntasks={','.join(map(str, ids))}\nmax_parallel=5\n\n"
            + "".join(cmd(i) for i in ids))
    outcome, events = run(text, FlakyExecutor(fail={"cmd12", "cmd17"}))
    assert outcome.exit_code == 10
    for tid in ids:
        own = [type(e).__name__ for e in events
               if getattr(e, "task_id", None) == tid and not isinstance(e, Note)]
        assert own == ["TaskStarted", "CommandLaunched", "CommandOutputs", "CommandFinished",
                       "AttemptFinished",
                       "SubtaskFinished"]
    progress = [e for e in events if isinstance(e, BlockProgress)]
    assert len(progress) == 2 * len(ids)
    assert [e.done for e in progress] == sorted(e.done for e in progress)  # counted in order
    assert all(e.running <= 5 for e in progress)
    assert (progress[-1].done, progress[-1].failed, progress[-1].running) == (20, 2, 0)
    finished = [e for e in events if isinstance(e, BlockFinished)]
    assert len(finished) == 1 and events.index(finished[0]) > events.index(progress[-1])


def test_attempt_finished_gives_the_times_and_host_of_the_stored_result():
    _, events = run(cmd(0))
    done = next(e for e in events if isinstance(e, AttemptFinished))
    assert done.host == "localhost" and not done.timed_out
    assert done.ended >= done.started > 0


def test_command_outputs_once_per_execution_with_the_whole_result():
    """--output-dir's keeper subscribes to it: one per command that ran, placed like the
    trace, carrying the executor's CommandResult itself."""
    _, events = run(LOOP_BLOCK_JUMP, FlakyExecutor(fail_first={"cmd11"}))
    outputs = [e for e in events if isinstance(e, CommandOutputs)]
    launched = [e.label for e in events if isinstance(e, CommandLaunched)]
    assert [e.label for e in outputs] == launched  # once each, in order
    assert len(set(launched)) == len(launched) == 6
    retried = next(e for e in outputs if e.label == "1-11.2")
    assert (retried.task_id, retried.block_id, retried.iteration, retried.attempt,
            retried.host) == (11, 1, None, 2, "localhost")
    assert retried.result.stdout == "out cmd11" and retried.result.exit_code == 0


def test_command_outputs_come_while_the_spill_files_exist(tmp_path):
    class Spilling(FlakyExecutor):
        def run(self, spec, cancel: threading.Event) -> CommandResult:
            path = tmp_path / f"spill-{spec.argv[0]}"
            path.write_text("the whole output\n")
            return CommandResult(0, "the whole", "", 0.01, stdout_file=str(path))

    seen = []

    class Reader:
        wants = frozenset((CommandOutputs,))

        def handle(self, event) -> None:
            with open(event.result.stdout_file, encoding="utf-8") as handle:
                seen.append(handle.read())

    tf = build_task_file("t.txt", cmd(0) + cmd(1), LoadOptions())
    ctx = RunContext(taskfile=tf, options=EngineOptions(dry_run=False),
                     exec_config=load_exec_config([]), executor=Spilling(),
                     events=Reporters(Reader()), interrupt=Interrupt(), spool_dir=tmp_path)
    assert run_workflow(ctx).exit_code == 0
    assert seen == ["the whole output\n"] * 2


def test_a_dry_run_emits_no_command_outputs():
    _, events = run(LOOP_BLOCK_JUMP, dry_run=True)
    assert any(isinstance(e, CommandLaunched) for e in events)
    assert not any(isinstance(e, CommandOutputs) for e in events)
