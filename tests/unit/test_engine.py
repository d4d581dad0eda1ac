"""The sequential engine against a fake executor: routing, loops, return, conditions."""

import io
import threading

import pytest

from tasker.engine.context import EngineOptions, RunContext
from tasker.engine.errors import FatalRunError
from tasker.engine.sequential import run_workflow
from tasker.exec.base import CommandResult
from tasker.exec.config import load_exec_config
from tasker.interrupt import Interrupt
from tasker.report.console import log_events
from tasker.report.logger import Log
from tasker.syntax.taskfile import LoadOptions, build_task_file


class FakeExecutor:
    """Answers each command from a table: argv[0] -> (exit, stdout, stderr) or a callable."""

    def __init__(self, table):
        self.table, self.calls = table, []

    def run(self, spec, cancel: threading.Event) -> CommandResult:
        self.calls.append(spec.argv)
        answer = self.table.get(spec.argv[0], (0, "", ""))
        if callable(answer):
            answer = answer(spec.argv)
        if answer == "missing":
            return CommandResult(1, "", "not found", 0.0, not_found=True)
        code, out, err = answer
        return CommandResult(code, out, err, 0.01, timed_out=code == 124)


def run(text, table=None, **opts):
    tf = build_task_file("t.txt", text, LoadOptions())
    out = io.StringIO()
    ex = FakeExecutor(table or {})
    ctx = RunContext(taskfile=tf, options=EngineOptions(dry_run=opts.pop("dry_run", False),
                                                        **opts),
                     exec_config=load_exec_config([]), executor=ex,
                     events=log_events(Log(stream=out)),
                     interrupt=Interrupt())
    outcome = run_workflow(ctx)
    return outcome, ctx.run_state, out.getvalue(), ex


def tasks(*specs):
    """Build a file from (id, extra lines) pairs; every task runs `cmdN` locally."""
    parts = []
    for tid, extra in specs:
        parts.append(f"task={tid}\nhostname=localhost\nexec=local\ncommand=cmd{tid}\n{extra}")
    return "\n".join(parts) + "\n"


def test_runs_in_id_order_and_succeeds():
    outcome, rec, log, _ = run(tasks((0, ""), (1, ""), (2, "")))
    assert outcome.exit_code == 0 and rec.execution_path == [0, 1, 2]
    assert "SUCCESS: Task execution completed - 3 task(s) executed successfully." in log


def test_unrouted_failure_stops_with_task_exit_code():
    outcome, rec, log, _ = run(tasks((0, ""), (1, ""), (2, "")), {"cmd1": (3, "", "")})
    assert outcome.exit_code == 3 and rec.execution_path == [0, 1]
    assert "FAILED: Workflow stopped - last task (Task 1) failed with exit code 3." in log


def test_failure_with_exit_zero_gives_exit_1():
    outcome, *_ = run(tasks((0, "success=stdout~yes")), {"cmd0": (0, "no", "")})
    assert outcome.exit_code == 1


def test_fire_and_forget_continues():
    outcome, rec, log, _ = run(tasks((0, ""), (1, "")), {"cmd0": (2, "", "")},
                               fire_and_forget=True)
    assert outcome.exit_code == 0 and rec.execution_path == [0, 1]
    assert "continuing anyway (fire-and-forget mode)" in log


@pytest.mark.parametrize("routing, code0, path, exit_code", [
    ("on_success=2\non_failure=3", 0, [0, 2, 3], 0),
    ("on_success=2\non_failure=3", 1, [0, 3], 0),
    ("on_failure=3", 0, [0, 1, 2, 3], 0),
    ("on_failure=3", 1, [0, 3], 0),
    ("on_success=2", 0, [0, 2, 3], 0),
    ("on_success=2", 1, [0], 10),
    ("next=never", 1, [0], 0),
    ("next=always", 1, [0, 1, 2, 3], 0),
    ("next=exit_0", 0, [0, 1, 2, 3], 0),
    ("next=exit_0", 4, [0], 4),
    ("next=exit_0\non_failure=3", 4, [0, 3], 0),
])
def test_routing_table(routing, code0, path, exit_code):
    text = tasks((0, routing), (1, ""), (2, ""), (3, ""))
    outcome, rec, _, _ = run(text, {"cmd0": (code0, "", "")})
    assert (rec.execution_path, outcome.exit_code) == (path, exit_code)


def test_jump_to_undefined_task_ends_successfully():
    outcome, rec, *_ = run(tasks((0, "on_success=50")))
    assert outcome.exit_code == 0 and rec.execution_path == [0]


def test_condition_false_skips_and_stores_result():
    text = tasks((0, ""), (1, "condition=@0_exit@=5"), (2, "arguments=@1_exit@ @1_stderr@"))
    outcome, rec, log, ex = run(text)
    assert rec.execution_path == [0, 2]
    assert rec.results[1].exit_code == -1 and not rec.results[1].success
    assert ex.calls[-1] == ("cmd2", "-1", "Task", "skipped", "due", "to", "condition")
    assert "Task 1: Condition '@0_exit@=5' evaluated to FALSE, skipping task" in log


def test_return_only_and_return_after_command():
    outcome, rec, log, _ = run("task=0\nreturn=7\n")
    assert outcome.exit_code == 7 and rec.execution_path == [0]
    assert "Task 0: Returning with exit code 7" in log
    outcome, rec, _, ex = run(tasks((0, "return=3\nnext=never")), {"cmd0": (9, "", "")})
    assert outcome.exit_code == 3 and len(ex.calls) == 1


def test_loop_runs_exactly_n_times_and_breaks():
    outcome, rec, log, ex = run(tasks((0, "next=loop\nloop=3"), (1, "")))
    assert len([c for c in ex.calls if c[0] == "cmd0"]) == 3
    assert [e.iteration for e in rec.trace if e.task == 0] == [1, 2, 3]
    assert rec.execution_path == [0, 1]
    counter = iter(range(10))
    table = {"cmd0": lambda argv: (0, str(next(counter)), "")}
    _, rec, log, ex = run(tasks((0, "next=loop\nloop=5\nloop_break=stdout~1")), table)
    assert len(ex.calls) == 2 and "Breaking loop" in log


def test_loop_checks_the_condition_before_every_iteration():
    """II.3.8: each iteration is a pass of the task; a false condition skips, then ID + 1."""
    outputs = iter(["go", "stop", "never"])
    table = {"cmd0": lambda argv: (0, next(outputs), "")}
    text = tasks((0, "next=loop\nloop=5\ncondition=@0_stdout@!~stop"), (1, ""))
    outcome, rec, log, ex = run(text, table)
    assert [c[0] for c in ex.calls] == ["cmd0", "cmd0", "cmd1"]
    assert [(e.iteration, e.skipped) for e in rec.trace if e.task == 0] == [
        (1, False), (2, False), (3, True)]
    assert "Task 0.3: Condition '@0_stdout@!~stop' evaluated to FALSE, skipping task" in log
    assert rec.results[0].exit_code == -1 and outcome.exit_code == 0
    assert rec.results[0].iterations == 3  # the skipped third pass is the stored one


def test_loop_with_return_ends_the_run_after_the_first_iteration():
    outcome, rec, _, ex = run(tasks((0, "next=loop\nloop=3\nreturn=4"), (1, "")))
    assert outcome.exit_code == 4 and [c[0] for c in ex.calls] == ["cmd0"]


def test_loop_records_the_iteration_count_and_judges_success_by_exit_code():
    """In loop_break the word `success` is exit 0, not the task's success condition."""
    codes = iter([1, 0, 0])
    table = {"cmd0": lambda argv: (next(codes), "", "")}
    text = tasks((0, "next=loop\nloop=3\nsuccess=exit_1\nloop_break=success"), (1, ""))
    _, rec, _, ex = run(text, table)
    assert [c[0] for c in ex.calls] == ["cmd0", "cmd0", "cmd1"]
    assert rec.results[0].iterations == 2


def test_loop_with_condition_in_next():
    counter = iter(range(10))
    table = {"cmd0": lambda argv: (0, str(next(counter) + 1), "")}
    _, rec, _, ex = run(tasks((0, "next=loop&stdout!~2\nloop=3")), table)
    assert len(ex.calls) == 2


def test_placeholders_and_splits():
    text = tasks((0, "stdout_split=space,1"), (1, "arguments=@0_stdout@ @0_exit@ @0_success@"))
    _, rec, _, ex = run(text, {"cmd0": (0, "a b c\n", "")})
    assert ex.calls[1] == ("cmd1", "b", "0", "True")


def test_dry_run_does_not_execute():
    outcome, rec, log, ex = run(tasks((0, ""), (1, "")), dry_run=True)
    assert ex.calls == [] and outcome.exit_code == 0
    assert "Task 0: [DRY RUN] Would execute: cmd0" in log
    assert rec.results[0].stdout == "DRY RUN STDOUT"


def test_missing_program_is_fatal_20():
    with pytest.raises(FatalRunError) as info:
        run(tasks((0, "")), {"cmd0": "missing"})
    assert info.value.exit_code == 20


def test_start_from_and_lowest_id():
    outcome, rec, log, _ = run(tasks((3, ""), (4, "")))
    assert rec.execution_path == [3, 4]
    assert "for tasks 0-2 will be unresolved" in log
    _, rec, _, _ = run(tasks((0, ""), (1, ""), (2, "")), start_from=1)
    assert rec.execution_path == [1, 2]


def test_timeout_precedence_task_beats_cli():
    _, _, log, _ = run(tasks((0, "timeout=2")), cli_timeout=50)
    assert "Timeout 2 too low, using minimum 5" in log


@pytest.mark.parametrize("key, answer", [("on_success", (0, "0", "")),
                                         ("on_failure", (1, "1", ""))])
def test_a_run_time_target_cannot_route_backwards(key, answer):
    """Forward only holds for placeholder targets too: a loop validation could not see."""
    text = tasks((0, ""), (1, f"{key}=@1_stdout@\n"), (2, ""))
    with pytest.raises(FatalRunError) as info:
        run(text, {"cmd1": answer})
    assert info.value.exit_code == 20
    assert f"{key} resolved to {answer[1]}, which is not greater than the task's own ID" \
        in str(info.value)


def test_a_run_time_target_may_route_forwards():
    outcome, rec, _, _ = run(tasks((0, ""), (1, "on_success=@1_stdout@\n"), (2, ""), (3, "")),
                             {"cmd1": (0, "3", "")})
    assert outcome.exit_code == 0 and rec.execution_path == [0, 1, 3]


@pytest.mark.parametrize("value, message", [
    ("lots", "Task 1: loop must be an integer, but its value is 'lots'"),
    ("0", "Task 1: loop=0 is outside the allowed range 1-1000"),
    ("5000", "Task 1: loop=5000 is outside the allowed range 1-1000"),
])
def test_a_loop_count_that_resolves_badly_fails_the_task(value, message):
    """C19 with II.2's range: the task fails with the message before it runs once."""
    text = tasks((0, ""), (1, "next=loop\nloop=@0_stdout@"), (2, ""))
    outcome, rec, log, ex = run(text, {"cmd0": (0, value, "")})
    assert [c[0] for c in ex.calls] == ["cmd0"]
    assert outcome.exit_code == 1 and outcome.task_id == 1 and message in log
    assert rec.results[1].stderr == message and not rec.results[1].success
    assert rec.execution_path == [0, 1]


def test_a_bad_loop_count_follows_on_failure():
    text = tasks((0, ""), (1, "next=loop\nloop=@0_stdout@\non_failure=3"), (2, ""), (3, ""))
    outcome, rec, _, _ = run(text, {"cmd0": (0, "x", "")})
    assert outcome.exit_code == 0 and rec.execution_path == [0, 1, 3]


def test_a_return_value_that_is_not_an_integer_fails_the_task():
    outcome, rec, log, _ = run(tasks((0, ""), (1, "return=@0_stdout@")), {"cmd0": (0, "ok", "")})
    assert outcome.exit_code == 1 and "return must be an integer, but its value is 'ok'" in log
    assert not rec.results[1].success


def test_a_routing_target_that_is_not_an_integer_fails_the_task_and_keeps_its_output():
    text = tasks((0, "on_success=@0_stdout@"), (1, ""))
    outcome, rec, log, ex = run(text, {"cmd0": (0, "next one", "")})
    assert outcome.exit_code == 1 and len(ex.calls) == 1
    assert "Task 0: on_success must be a task ID, but its value is 'next one'" in log
    assert rec.results[0].stdout == "next one" and not rec.results[0].success


@pytest.mark.parametrize("value, expected", [("2e1", "Timeout 20 seconds"), ("nan", None),
                                             ("10.5", None), ("1_000", None)])
def test_a_run_time_timeout_must_be_an_integer(value, expected):
    """SPEC 6.4: a value that is not an integer warns and the next source decides."""
    _, _, log, _ = run(tasks((0, ""), (1, "timeout=@0_stdout@")), {"cmd0": (0, value, "")},
                       cli_timeout=50)
    assert f"Task 1: Invalid timeout value '{value}'. Will check other sources." in log


@pytest.mark.parametrize("value", ["soon", "nan", "inf"])
def test_a_run_time_sleep_that_is_not_a_number_warns_and_does_not_sleep(value):
    _, _, log, _ = run(tasks((0, ""), (1, "sleep=@0_stdout@")), {"cmd0": (0, value, "")})
    assert f"Task 1: sleep value '{value}' is not a number of seconds; not sleeping" in log


def test_a_huge_run_time_sleep_is_capped_not_a_crash():
    """Event.wait overflows beyond threading.TIMEOUT_MAX; the cap keeps the wait valid."""
    interrupt = Interrupt()
    threading.Timer(0.3, interrupt.trigger, args=(15,)).start()  # ends the long sleep
    text = tasks((0, ""), (1, "sleep=@0_stdout@"))
    tf = build_task_file("t.txt", text, LoadOptions())
    out = io.StringIO()
    ctx = RunContext(taskfile=tf, options=EngineOptions(dry_run=False),
                     exec_config=load_exec_config([]),
                     executor=FakeExecutor({"cmd0": (0, "1e300", "")}),
                     events=log_events(Log(stream=out)),
                     interrupt=interrupt)
    outcome = run_workflow(ctx)
    assert "sleep 1e+300 is too long, using the maximum 1e+09" in out.getvalue()
    assert "Task 1: Sleeping for 1e+09 seconds" in out.getvalue()
    assert outcome.exit_code == 143


def test_globals_are_replaced_in_a_split_but_result_placeholders_are_not():
    text = "SEP=comma\n" + tasks((0, "stdout_split=@SEP@,1"), (1, "stdout_split=@0_stdout@,0"))
    _, rec, _, _ = run(text, {"cmd0": (0, "a,b,c", ""), "cmd1": (0, "x b y", "")})
    assert rec.results[0].stdout == "b"
    assert rec.results[1].stdout == "x b y"  # '@0_stdout@' is a literal regex: no match


def test_next_loop_without_loop_count_is_false_when_validation_was_skipped(tmp_path, capsys):
    """`next=loop` without loop=N has no condition to evaluate: false, as in TASKER."""
    from tasker.cli import main

    f = tmp_path / "t.txt"
    f.write_text("task=0\nhostname=localhost\ncommand=echo\nexec=local\nnext=loop\n")
    code = main([str(f), "--skip-task-validation", "--skip-host-validation", "-l",
                 str(tmp_path / "logs")])
    out = capsys.readouterr()
    assert code == 1 and "Internal error" not in out.out + out.err
    assert "Stopping execution (loop=FALSE)" in out.out
