"""Blocks against a fake executor: parallel, conditional, decision, retries, dry run, signals."""

import io
import threading
import time

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
    """Answers from a table: argv[0] -> (exit, stdout, stderr), a callable, or "missing".

    Thread-safe; records every call and the highest number of calls running at once.
    """

    def __init__(self, table, delay=0.0):
        self.table, self.delay = table, delay
        self.calls, self.running, self.peak = [], 0, 0
        self.lock = threading.Lock()

    def run(self, spec, cancel: threading.Event) -> CommandResult:
        with self.lock:
            self.calls.append(spec.argv)
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            answer = self.table.get(spec.argv[0], (0, "", ""))
            if callable(answer):
                answer = answer(spec.argv, cancel)
            if self.delay:
                cancel.wait(self.delay)
            if answer == "missing":
                return CommandResult(1, "", "Command not found", 0.0, not_found=True)
            code, out, err = answer
            return CommandResult(code, out, err, 0.01, timed_out=code == 124)
        finally:
            with self.lock:
                self.running -= 1

    def count(self, name):
        return sum(1 for c in self.calls if c[0] == name)


def run(text, table=None, delay=0.0, interrupt=None, **opts):
    tf = build_task_file("t.txt", text, LoadOptions())
    out = io.StringIO()
    ex = FakeExecutor(table or {}, delay)
    ctx = RunContext(taskfile=tf, options=EngineOptions(dry_run=opts.pop("dry_run", False),
                                                        **opts),
                     exec_config=load_exec_config([]), executor=ex,
                     events=log_events(Log(stream=out)),
                     interrupt=interrupt or Interrupt())
    outcome = run_workflow(ctx)
    return outcome, ctx.run_state, out.getvalue(), ex


def cmd(tid, extra=""):
    return f"task={tid}\nhostname=localhost\nexec=local\ncommand=cmd{tid}\n{extra}\n"


def block(tid, kind, extra):
    return f"task={tid}\ntype={kind}\n{extra}\n"


def parallel_file(cond="", outcomes=(0, 0, 0, 0), after="", routing=""):
    """Block 1 over 10.. with the given exit codes; 0 before, 2 after, 90 the failure target."""
    ids = ",".join(str(10 + i) for i in range(len(outcomes)))
    text = cmd(0) + block(1, "parallel", f"tasks={ids}\n{cond}\n{routing}") + cmd(2, after)
    text += cmd(90, "next=never")
    for i, _ in enumerate(outcomes):
        text += cmd(10 + i)
    table = {f"cmd{10 + i}": (code, "", "") for i, code in enumerate(outcomes)}
    return text, table


# ---- parallel: result, trace, path -----------------------------------------------------------
def test_parallel_all_succeed_stores_block_and_sub_results():
    text, table = parallel_file()
    outcome, rec, log, ex = run(text, table)
    assert outcome.exit_code == 0 and rec.execution_path == [0, 1, 2]
    res = rec.results[1]
    assert (res.exit_code, res.success, res.stdout, res.stderr) == (
        0, True, "Parallel execution: 4/4 successful", "")
    assert (res.counts.success, res.counts.failed, res.counts.total) == (4, 0, 4)
    subs = [e for e in rec.trace if e.block == 1]
    assert sorted(e.task for e in subs) == [10, 11, 12, 13]
    assert all(e.attempt == 1 for e in subs)
    assert "Task 1: Starting parallel execution of 4 tasks (max_parallel=8)" in log
    assert "Task 1-10: Executing [local]: cmd10" in log
    assert "Task 1-10: Success condition 'exit_0' evaluated to: True" in log  # (A.1)
    assert "Task 1-10: Completed - Success: True" in log
    assert "Task 1: No 'next' condition, using all_success logic: 4/4 = True" in log
    assert "Task 1: Parallel execution completed in" in log


def test_block_stderr_lists_failed_and_timeout_ids():
    text, table = parallel_file(outcomes=(0, 3, 124, 0), routing="on_failure=90")
    _, rec, log, _ = run(text, table)
    res = rec.results[1]
    assert res.stdout == "Parallel execution: 2/4 successful, 1 failed, 1 timeout"
    assert res.stderr == "Failed tasks: [11]. Timeout tasks: [12]"
    assert (res.counts.success, res.counts.failed) == (2, 2)  # S/F: a timeout is unsuccessful
    assert res.exit_code == 1 and not res.success
    assert "Task 1-12: Completed - Success: False (timeout)" in log
    assert "Task 1: Parallel failure (2/4), jumping to Task 90" in log


MULTI = [
    ("success=all_success", (0, 0, 0, 0), True),
    ("success=all_success", (0, 0, 0, 1), False),
    ("success=any_success", (1, 1, 1, 0), True),
    ("success=any_success", (1, 1, 1, 1), False),
    ("success=majority_success", (0, 0, 0, 1), True),
    ("success=majority_success", (0, 0, 1, 1), False),  # 2 of 4 is not a majority
    ("success=min_success=3", (0, 0, 0, 1), True),
    ("success=min_success=3", (0, 0, 1, 1), False),
    ("success=max_success=1", (0, 1, 1, 1), True),
    ("success=max_success=1", (0, 0, 1, 1), False),
    ("success=min_failed=2", (0, 0, 1, 1), True),
    ("success=min_failed=2", (0, 0, 0, 1), False),
    ("success=max_failed=1", (0, 0, 0, 1), True),
    ("success=max_failed=1", (0, 0, 1, 1), False),
    ("success=always", (1, 1, 1, 1), True),
    ("success=never", (0, 0, 0, 0), False),
    ("next=min_success=2", (0, 0, 1, 1), True),
    ("next=max_failed=0", (0, 0, 1, 0), False),
    ("next=success", (0, 0, 0, 1), False),  # `success` means all_success
    ("next=success", (0, 0, 0, 0), True),
    ("next=exit_0", (0, 0, 0, 0), True),  # an ordinary condition on the aggregate
    ("next=stdout~4/4", (0, 0, 0, 1), False),
    ("", (0, 0, 0, 1), False),  # default all_success
]


@pytest.mark.parametrize("cond, outcomes, met", MULTI)
def test_multi_task_conditions_with_routing(cond, outcomes, met):
    routing = "" if cond.startswith("next=") else "on_success=2\non_failure=90"
    text, table = parallel_file(cond, outcomes, routing=routing)
    outcome, rec, log, _ = run(text, table)
    if cond.startswith("next="):  # next excludes on_*: true -> ID+1, false -> exit 10
        assert rec.execution_path == ([0, 1, 2] if met else [0, 1])
        assert outcome.exit_code == (0 if met else 10)
    else:
        assert rec.execution_path == [0, 1, 2 if met else 90]
        assert outcome.exit_code == 0
        word = "success" if met else "failure"
        assert f"Task 1: Parallel {word} (" in log and "jumping to Task" in log


@pytest.mark.parametrize("cond, outcomes, met", [m for m in MULTI if m[0].startswith("success")])
def test_multi_task_conditions_without_routing(cond, outcomes, met):
    text, table = parallel_file(cond, outcomes)
    outcome, rec, log, _ = run(text, table)
    assert outcome.exit_code == (0 if met else 10)
    assert rec.execution_path == ([0, 1, 2] if met else [0, 1])
    assert f"Task 1: Success condition '{cond[8:]}' evaluated to: {met}" in log
    if not met:
        assert rec.failure["exit_code"] == 10


def test_next_never_and_always():
    text, table = parallel_file("next=never", (1, 1))
    outcome, rec, *_ = run(text, table)
    assert outcome.exit_code == 0 and rec.execution_path == [0, 1]
    text, table = parallel_file("next=always", (1, 1))
    outcome, rec, *_ = run(text, table)
    assert outcome.exit_code == 0 and rec.execution_path == [0, 1, 2]


def test_on_success_only_and_false_gives_exit_10():
    text, table = parallel_file("", (0, 1), routing="on_success=2")
    outcome, rec, *_ = run(text, table)
    assert outcome.exit_code == 10 and rec.execution_path == [0, 1]


def test_aggregate_variables_reach_later_tasks():
    text, table = parallel_file("success=min_success=1", (0, 1, 0),
                                after="arguments=@1_success_count@ @1_failed_count@ "
                                      "@1_total_count@ @1_exit@ @11_exit@")
    _, _, _, ex = run(text, table)
    assert ex.calls[-1] == ("cmd2", "2", "1", "3", "1", "1")


def test_block_loop_reruns_and_breaks():
    text = cmd(0) + block(1, "parallel", "tasks=10,11\nnext=loop\nloop=3") + cmd(2)
    text += cmd(10) + cmd(11)
    _, rec, log, ex = run(text)
    assert ex.count("cmd10") == 3 and rec.execution_path == [0, 1, 2]
    assert [e.iteration for e in rec.trace if e.task == 1] == [1, 2, 3]
    assert rec.results[1].iterations == 3
    text = cmd(0) + block(1, "parallel", "tasks=10\nnext=loop\nloop=5\n"
                                         "loop_break=@1_success_count@=1") + cmd(2) + cmd(10)
    _, rec, log, ex = run(text)
    assert ex.count("cmd10") == 1 and "Breaking loop" in log


# ---- sub-tasks behave like ordinary tasks -------------------------------------------------------
def test_subtask_condition_skip_return_failure_split():
    text = cmd(0, "arguments=x") + block(1, "parallel", "tasks=10,11,12,13\nsuccess=always")
    text += cmd(10, "condition=@0_exit@=5")  # skipped
    text += "task=11\nreturn=3\n"  # not executed, result 3, run goes on
    text += cmd(12, "failure=stdout~bad")  # C7: failure= works in sub-tasks
    text += cmd(13, "stdout_split=comma,1")  # C6: keyword splits work in sub-tasks
    text += cmd(2, "arguments=@13_stdout@")
    table = {"cmd12": (0, "bad thing", ""), "cmd13": (0, "a,b,c", "")}
    outcome, rec, log, ex = run(text, table)
    assert outcome.exit_code == 0 and rec.execution_path == [0, 1, 2]
    assert (rec.results[10].exit_code, rec.results[10].success) == (-1, False)
    assert "Task 1-10: Completed - Success: False (skipped)" in log
    assert [e.skipped for e in rec.trace if e.task == 10] == [True]
    assert (rec.results[11].exit_code, rec.results[11].success) == (3, False)
    assert not rec.results[12].success
    assert ex.calls[-1] == ("cmd2", "b")
    assert ex.count("cmd10") == 0 and ex.count("cmd11") == 0


def test_missing_program_in_subtask_is_a_failed_result_not_fatal():
    text, table = parallel_file("success=min_success=1", (0, 0), routing="on_success=2")
    table["cmd11"] = "missing"
    outcome, rec, *_ = run(text, table)
    assert outcome.exit_code == 0 and rec.results[11].exit_code == 1
    assert not rec.results[11].success


def test_max_parallel_bounds_concurrency_and_resolves_placeholders():
    ids = ",".join(str(10 + i) for i in range(9))
    text = cmd(0) + block(1, "parallel", f"tasks={ids}\nmax_parallel=@0_stdout@")
    text += "".join(cmd(10 + i) for i in range(9))
    _, rec, log, ex = run(text, {"cmd0": (0, "3\n", "")}, delay=0.05)
    assert ex.peak == 3 and rec.results[1].counts.total == 9
    assert "(max_parallel=3)" in log


@pytest.mark.parametrize("value, message", [
    ("many", "Task 1: max_parallel must be an integer, but its value is 'many'"),
    ("0", "Task 1: max_parallel=0 is outside the allowed range 1 or more"),
])
def test_max_parallel_that_resolves_badly_fails_the_block(value, message):
    """C19: the block fails with a clear message; none of its sub-tasks runs."""
    text = cmd(0) + block(1, "parallel", "tasks=10\nmax_parallel=@0_stdout@") + cmd(10)
    outcome, rec, log, ex = run(text, {"cmd0": (0, value, "")})
    assert outcome.exit_code == 1 and outcome.task_id == 1
    assert message in log and message in rec.results[1].stderr
    assert not rec.results[1].success and 10 not in rec.results
    assert rec.execution_path == [0, 1]


def test_default_pool_is_8_and_large_pools_are_not_capped_by_cpus():
    ids = ",".join(str(100 + i) for i in range(60))
    text = block(1, "parallel", f"tasks={ids}") + "".join(cmd(100 + i) for i in range(60))
    _, _, _, ex = run(text, delay=0.1)
    assert ex.peak == 8
    text = block(1, "parallel", f"tasks={ids}\nmax_parallel=60") + \
        "".join(cmd(100 + i) for i in range(60))
    barrier = threading.Barrier(60, timeout=10)  # passes only if all 60 run at once

    def together(argv, cancel):
        barrier.wait()
        return (0, "", "")
    _, rec, _, ex = run(text, {f"cmd{100 + i}": together for i in range(60)})
    assert ex.peak == 60 and rec.results[1].success  # far above any CPU-based cap


# ---- retries ------------------------------------------------------------------------------------
def flaky(failures):
    """A callable answer that fails `failures` times, then succeeds."""
    state = {"n": 0}

    def answer(argv, cancel):
        state["n"] += 1
        return (1, "", "") if state["n"] <= failures else (0, "ok", "")
    return answer


def test_retry_labels_trace_and_attempts():
    text = block(1, "parallel", "tasks=10,11\nretry_count=2\nretry_delay=0") + cmd(10) + cmd(11)
    outcome, rec, log, ex = run(text, {"cmd11": flaky(1)})
    assert outcome.exit_code == 0
    assert [(e.task, e.attempt) for e in rec.trace if e.task == 11] == [(11, 1), (11, 2)]
    assert rec.results[11].attempts == 2 and rec.results[10].attempts == 1
    assert "retry_failed=true (count=2, delay=0s)" in log
    assert "Task 1-11.1: Executing [local]: cmd11" in log
    assert "Task 1-11.1: FAILED - will retry as Task 1-11.2 in 0s" in log
    assert "Task 1-11.2: SUCCESS after 1 retry attempt(s)" in log
    assert "Task 1-11: Completed - Success: True" in log


def test_retry_gives_up_and_timeouts_are_final():
    text = block(1, "conditional", "condition=true\nif_true_tasks=10,11\nif_false_tasks=10\n"
                                   "retry_failed=true\nretry_delay=0\non_failure=5")
    text += cmd(10) + cmd(11) + cmd(5)
    _, rec, log, ex = run(text, {"cmd10": (2, "", ""), "cmd11": (124, "", "")})
    assert ex.count("cmd10") == 2 and ex.count("cmd11") == 1
    assert "Task 1-10.2: FAILED after 1 retry attempt(s) - giving up" in log
    assert "Task 1-11: Completed - Success: False (timeout)" in log
    assert rec.execution_path == [1, 5]


def test_skipped_subtasks_are_retried():
    text = block(1, "parallel", "tasks=10\nretry_count=1\nretry_delay=0\nnext=always")
    text += cmd(10, "condition=false")
    _, rec, log, ex = run(text)
    assert [(e.attempt, e.skipped) for e in rec.trace if e.task == 10] == [(1, True), (2, True)]
    assert "Task 1-10.2: Condition 'false' evaluated to FALSE, skipping task" in log


@pytest.mark.parametrize("keys, warn, count, delay", [
    ("retry_count=0", "retry_count 0 out of range (1-1000), using 1", 1, 1),
    ("retry_count=5000", "retry_count 5000 out of range (1-1000), using 1", 1, 1),
    ("retry_count=2\nretry_delay=301", "retry_delay 301 out of range (0-300), using 1", 2, 1),
    ("retry_failed=TRUE", None, 1, 1),
])
def test_retry_configuration_coercion(keys, warn, count, delay):
    text = block(1, "parallel", f"tasks=10\n{keys}") + cmd(10)
    _, _, log, _ = run(text)
    if warn:
        assert f"WARN: {warn}" in log
    assert f"retry_failed=true (count={count}, delay={delay}s)" in log


def test_retry_delay_waits_in_the_worker_only():
    text = block(1, "parallel", "tasks=10,11\nmax_parallel=2\nretry_count=1\nretry_delay=0.3")
    text += cmd(10) + cmd(11)
    finished = {}

    def ok(argv, cancel):
        finished["10"] = time.monotonic()
        return (0, "", "")
    start = time.monotonic()
    _, rec, _, _ = run(text, {"cmd10": ok, "cmd11": flaky(1)})
    assert finished["10"] - start < 0.2  # not held up by 11's retry delay
    assert time.monotonic() - start >= 0.3 and rec.results[11].attempts == 2


def test_without_retry_no_suffix():
    text, table = parallel_file("", (0, 1), routing="on_failure=90")
    _, rec, log, _ = run(text, table)
    assert "Task 1-11: Executing" in log and "Task 1-11.1" not in log
    assert all(e.attempt == 1 for e in rec.trace)


# ---- conditional -------------------------------------------------------------------------------
def test_conditional_runs_branch_in_list_order_with_duplicates():
    text = cmd(0, "arguments=go") + block(
        1, "conditional", "condition=@0_stdout@=go\nif_true_tasks=12,10,12\nif_false_tasks=11")
    text += cmd(10, "arguments=@12_stdout@") + cmd(11) + cmd(12) + cmd(2)
    counter = iter(range(100))
    table = {"cmd0": (0, "go", ""), "cmd12": lambda argv, c: (0, f"n{next(counter)}", "")}
    outcome, rec, log, ex = run(text, table)
    assert [c[0] for c in ex.calls] == ["cmd0", "cmd12", "cmd10", "cmd12", "cmd2"]
    assert ex.calls[2] == ("cmd10", "n0")  # sees the earlier branch result
    assert rec.results[1].stdout == "Conditional TRUE branch: 3/3 successful"
    assert "Task 1: Executing TRUE branch with 3 tasks (sequential)" in log
    assert rec.execution_path == [0, 1, 2]


def test_conditional_false_branch_and_default_all_success():
    text = block(1, "conditional", "condition=false\nif_true_tasks=10\nif_false_tasks=11,12")
    text += cmd(10) + cmd(11) + cmd(12) + cmd(2)
    outcome, rec, log, ex = run(text, {"cmd11": (1, "", "")})
    assert ex.count("cmd12") == 1  # the branch goes on after a failure
    assert outcome.exit_code == 10 and rec.execution_path == [1]  # C4: all_success
    assert "Task 1: Executing FALSE branch with 2 tasks (sequential)" in log


def test_conditional_routing_with_success_condition():
    text = block(1, "conditional", "condition=true\nif_true_tasks=10,11\nif_false_tasks=10\n"
                                   "success=any_success\non_success=3\non_failure=4")
    text += cmd(10) + cmd(11) + cmd(3) + cmd(4)
    _, rec, log, _ = run(text, {"cmd10": (1, "", "")})
    assert rec.execution_path == [1, 3, 4]
    assert "Task 1: Conditional success (1/2), jumping to Task 3" in log


# ---- decision ----------------------------------------------------------------------------------
@pytest.mark.parametrize("extra, stdout0, path, code", [
    ("success=@0_stdout@=yes\non_success=3\non_failure=4", "yes", [0, 1, 3, 4], 0),
    ("success=@0_stdout@=yes\non_success=3\non_failure=4", "no", [0, 1, 4], 0),
    ("success=@0_stdout@=yes", "yes", [0, 1, 2, 3, 4], 0),
    ("success=@0_stdout@=yes", "no", [0, 1], 10),  # C3: a false decision stops
    ("success=@0_stdout@=yes\nnext=success", "no", [0, 1], 10),
    ("success=@0_stdout@=yes\nnext=always", "no", [0, 1, 2, 3, 4], 0),
    ("success=@0_stdout@=yes\non_success=3", "no", [0, 1], 10),
    ("failure=@0_stdout@=yes\non_success=3\non_failure=4", "yes", [0, 1, 4], 0),
    ("success=@0_stdout@=yes\nnext=never", "yes", [0, 1], 0),  # C1: no restart at 0
])
def test_decision_routing(extra, stdout0, path, code):
    decided = (stdout0 == "yes") == extra.startswith("success")
    text = cmd(0) + block(1, "decision", extra) + cmd(2, "arguments=@1_success@ @1_exit@")
    text += cmd(3) + cmd(4)
    outcome, rec, log, ex = run(text, {"cmd0": (0, stdout0, "")})
    assert (rec.execution_path, outcome.exit_code) == (path, code)
    assert "Task 1: DECISION - Evaluating conditions" in log
    assert rec.results[1].success == decided  # C2: stored
    if 2 in path:
        assert ex.calls[1] == ("cmd2", str(decided), "0" if decided else "1")


def test_decision_log_lines():
    text = block(1, "decision", "success=false\non_failure=3") + cmd(3)
    _, rec, log, _ = run(text)
    assert "Task 1: Decision condition 'false' evaluated to: False" in log
    assert "Task 1: Decision FAILED (success condition not met)" in log
    assert "Task 1: Decision failure, jumping to task 3 (on_failure)" in log
    assert rec.results[1].exit_code == 1


# ---- dry run, nested blocks, interrupt -----------------------------------------------------------
def test_dry_run_executes_nothing():
    text = cmd(0) + block(1, "parallel", "tasks=10,11\nretry_count=3\nretry_delay=100")
    text += cmd(10, "arguments=a b") + cmd(11, "condition=false") + cmd(2)
    outcome, rec, log, ex = run(text, dry_run=True)
    assert ex.calls == [] and outcome.exit_code == 0
    assert "Task 1-10.1: [DRY RUN] Would execute: cmd10 a b" in log
    assert rec.results[10].stdout == "DRY RUN - Command not executed"
    assert rec.results[11].success  # sub-tasks succeed unconditionally in a dry run


def test_nested_block_at_run_time_is_fatal():
    text = block(1, "parallel", "tasks=2") + block(2, "decision", "success=true")
    with pytest.raises(FatalRunError):
        run(text)


def test_interrupt_stops_launching_and_returns_130():
    interrupt = Interrupt()
    ids = ",".join(str(10 + i) for i in range(10))
    text = block(1, "parallel", f"tasks={ids}\nmax_parallel=2") + cmd(2)
    text += "".join(cmd(10 + i) for i in range(10))

    def slow(argv, cancel):
        if argv[0] == "cmd11":
            interrupt.trigger(2)
        cancel.wait(5)
        return (-15, "", "") if cancel.is_set() else (0, "", "")
    table = {f"cmd{10 + i}": slow for i in range(10)}
    start = time.monotonic()
    outcome, rec, log, ex = run(text, table, interrupt=interrupt)
    assert time.monotonic() - start < 2
    assert outcome.exit_code == 130 and outcome.status == "interrupted"
    assert len(ex.calls) == 2 and 2 not in rec.results  # nothing after the block ran
    # The sub-tasks keep what ran; an interrupted block stores no result of its own (I.4a)
    assert sorted(r for r in rec.results) == [10, 11] and outcome.task_id == 1


# ---- parallel: what sub-tasks see, success= over next=loop, the aggregate stdout ----------
def test_parallel_subtasks_read_results_from_before_the_block_not_siblings():
    """II.5.1 step 5: a sibling's result is not there yet, whoever finished first."""
    text = (cmd(0) + block(1, "parallel", "tasks=10,11\nmax_parallel=1")
            + cmd(10) + cmd(11, "arguments=@10_stdout@ @0_stdout@\ncondition=@10_exit@!=0"))
    outcome, rec, log, ex = run(text, {"cmd0": (0, "zero", ""), "cmd10": (0, "ten", "")})
    assert ex.calls[-1] == ("cmd11", "@10_stdout@", "zero")
    assert rec.results[10].stdout == "ten"  # stored all the same, for the tasks after
    assert outcome.exit_code == 0


def test_parallel_success_decides_and_next_loop_is_ignored():
    text, table = parallel_file("success=all_success\nnext=loop\nloop=3", (0, 1))
    outcome, rec, _, ex = run(text, table)
    assert outcome.exit_code == 10 and ex.count("cmd10") == 1


def test_parallel_loop_break_sees_the_summary_sentence():
    text, table = parallel_file("next=loop\nloop=3\nloop_break=stdout~summary: 1 successful",
                                (0, 1))
    _, _, log, ex = run(text, table)
    assert ex.count("cmd10") == 1 and "Breaking loop" in log


def test_dry_run_return_subtask_succeeds_unevaluated():
    text = block(1, "parallel", "tasks=10,11") + "task=10\nreturn=3\n\n" + cmd(11)
    outcome, rec, log, _ = run(text, dry_run=True)
    assert outcome.exit_code == 0 and rec.results[10].success
    assert "Task 1-10: [DRY RUN] Would return: 3" in log


def test_every_block_type_of_the_language_has_its_runner():
    """The walk dispatches block kinds from one table; a type without a runner would
    silently run as an ordinary task."""
    from tasker.engine.sequential import RUNNERS
    from tasker.syntax.ast import BLOCK_TYPES

    assert sorted(RUNNERS) == sorted(BLOCK_TYPES)
