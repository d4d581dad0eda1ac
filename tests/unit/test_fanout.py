"""Fan-out of hostnames= blocks (II.5.4, fix C5) and the block validation rules."""

import io

import pytest

from tasker.engine.context import EngineOptions, RunContext
from tasker.engine.sequential import run_workflow
from tasker.exec.base import CommandResult
from tasker.exec.config import load_exec_config
from tasker.interrupt import Interrupt
from tasker.report.console import log_events
from tasker.report.logger import Log
from tasker.syntax.condition import MultiTask
from tasker.syntax.fanout import expand_hostnames, host_list, subtask_id
from tasker.syntax.taskfile import LoadOptions, build_task_file
from tasker.validate.blocks import block_errors, valid_host


def load(text):
    return build_task_file("t.txt", text, LoadOptions())


FANOUT = """\
task=2
type=parallel
hostnames=web1, web2 ,,web3
command=check.sh
arguments=--id @task@ --host x
exec=local
timeout=30
retry_count=2
retry_delay=0
max_parallel=3
success=min_success=2
on_success=3
on_failure=90

task=3
hostname=localhost
command=true

task=90
return=1
"""


# ---- generation -------------------------------------------------------------------------------
def test_ids_follow_the_original_convention():
    assert subtask_id(2, 0) == 120000 and subtask_id(0, 4) == 100004
    assert subtask_id(1, 2) == 110002
    assert host_list(" a, b ,,c ") == ["a", "b", "c"]


def test_subtasks_are_generated_with_copied_fields():
    tf = load(FANOUT)
    assert list(tf.tasks) == [2, 3, 90, 120000, 120001, 120002]
    sub = tf.tasks[120001]
    assert sub.generated_by == 2 and sub.kind == "normal"
    assert sub.get("hostname") == "web2"
    assert sub.get("arguments") == "--id 120001 --host x"
    assert (sub.get("command"), sub.get("exec"), sub.get("timeout")) == ("check.sh", "local", "30")
    assert sub.get("retry_count") == "2"
    for key in ("success", "next", "on_success", "on_failure", "max_parallel", "type"):
        assert not sub.has(key), key  # C5: the aggregate stays on the block
    assert sub.conditions == {}
    assert sub.fields["hostname"].line == tf.tasks[2].fields["hostnames"].line


def test_block_keeps_its_aggregate_and_gets_a_tasks_list():
    block = load(FANOUT).tasks[2]
    assert block.get("tasks") == "120000,120001,120002"
    assert isinstance(block.conditions["success"], MultiTask)
    assert block.get("on_failure") == "90"


def test_host_success_and_failure_become_the_subtasks_conditions():
    text = FANOUT.replace("success=min_success=2\n", "success=min_success=2\n"
                          "host_success=exit_0&stdout~healthy\nfailure=stderr~fatal\n")
    sub = load(text).tasks[120000]
    assert sub.get("success") == "exit_0&stdout~healthy"
    assert set(sub.conditions) == {"success", "failure"}
    assert sub.conditions["success"] == load(text).tasks[2].conditions["host_success"]


@pytest.mark.parametrize("change", [
    lambda t: t.replace("hostnames=web1, web2 ,,web3", "hostnames=web1\ntasks=3"),
    lambda t: t + "task=120001\nhostname=x\ncommand=true\n",
    lambda t: t.replace("hostnames=web1, web2 ,,web3",
                        "hostnames=" + ",".join(f"h{i}" for i in range(1001))),
])
def test_blocks_the_validator_rejects_are_not_expanded(change):
    tf = load(change(FANOUT))
    assert not any(t.generated_by == 2 for t in tf.tasks.values())


def test_expand_is_pure_and_idempotent_on_plain_files():
    tasks = load("task=0\nhostname=h\ncommand=true\n").tasks
    assert expand_hostnames(tasks) == dict(tasks)


# ---- running a fan-out ------------------------------------------------------------------------
class HostExecutor:
    """Fails the hosts named in `failing`; sees argv (exec=local: command + arguments)."""

    def __init__(self, failing=()):
        self.failing, self.calls = set(failing), []

    def run(self, spec, cancel):
        self.calls.append(spec.argv)
        bad = any(h in spec.argv for h in self.failing)
        return CommandResult(1 if bad else 0, "healthy" if not bad else "", "", 0.0)


def run(text, failing=()):
    tf = load(text)
    ex = HostExecutor(failing)
    out = io.StringIO()
    ctx = RunContext(taskfile=tf, options=EngineOptions(dry_run=False),
                     exec_config=load_exec_config([]), executor=ex,
                     events=log_events(Log(stream=out)),
                     interrupt=Interrupt())
    return run_workflow(ctx), ctx.run_state, out.getvalue(), ex


HOSTS = """\
task=0
type=parallel
hostnames=a,b,c,d,e
command=probe
arguments=@task@ --host-index
exec=local
success=min_success=3
on_success=10
on_failure=99

task=10
hostname=localhost
exec=local
command=echo
arguments=@0_success_count@/@0_total_count@ @100003_exit@

task=99
return=7
"""


def test_aggregate_min_success_is_met_with_two_failing_hosts():
    outcome, rec, log, ex = run(HOSTS, failing=("100003", "100004"))
    assert outcome.exit_code == 0 and rec.execution_path == [0, 10]  # C5 (HEAD: [0, 99])
    assert ex.calls[-1] == ("echo", "3/5", "1")
    assert sorted(e.task for e in rec.trace if e.block == 0) == list(range(100000, 100005))
    assert "Task 0-100002: Executing [local]: probe 100002 --host-index" in log
    assert "Task 0: Parallel success (3/5), jumping to Task 10" in log


def test_aggregate_not_met_takes_on_failure():
    outcome, rec, *_ = run(HOSTS, failing=("100001", "100002", "100003"))
    assert outcome.exit_code == 7 and rec.execution_path == [0, 99]


def test_host_success_judges_each_host():
    text = HOSTS.replace("success=min_success=3", "success=all_success\nhost_success=stdout~nope")
    outcome, rec, *_ = run(text)
    assert rec.execution_path == [0, 99]
    assert not rec.results[100000].success


# ---- block validation -------------------------------------------------------------------------
def messages(text):
    return [d.message for d in block_errors(load(text))]


def cmd(tid, extra=""):
    return f"task={tid}\nhostname=localhost\ncommand=true\n{extra}\n"


def test_valid_blocks_have_no_errors():
    text = ("task=0\ntype=parallel\ntasks=10,11\nsuccess=min_success=1\n\n"
            "task=1\ntype=conditional\ncondition=true\nif_true_tasks=10,10\nif_false_tasks=11\n\n"
            "task=2\ntype=decision\nsuccess=@0_success@=true\n\n" + cmd(10) + cmd(11))
    assert messages(text) == []
    assert messages(FANOUT) == []


def test_nested_and_self_referencing_blocks():
    text = "task=0\ntype=parallel\ntasks=10,1,0\n\ntask=1\ntype=decision\nsuccess=true\n\n"
    errs = block_errors(load(text + cmd(10)))
    assert [d.message for d in errs] == [
        "Task 0: tasks names task 1, which is a decision block; blocks cannot be nested",
        "Task 0: tasks names the block itself"]
    assert (errs[0].line, errs[0].column) == (3, 10)  # points at the "1" in tasks=10,1,0
    text = "task=0\ntype=conditional\ncondition=true\nif_true_tasks=10\nif_false_tasks=5\n\n"
    text += "task=5\ntype=parallel\ntasks=10\n\n" + cmd(10)
    assert "blocks cannot be nested" in messages(text)[0]


def test_routing_keys_in_subtasks_are_errors_once_each():
    text = "task=0\ntype=parallel\ntasks=10,11\n\ntask=1\ntype=conditional\ncondition=true\n"
    text += "if_true_tasks=10\nif_false_tasks=11\n\n"
    text += cmd(10, "on_success=1") + cmd(11, "loop=2\nnext=loop")
    got = messages(text)
    assert got == ["Task 10 is a sub-task of block 0 and cannot have 'on_success'",
                   "Task 11 is a sub-task of block 0 and cannot have 'loop'",
                   "Task 11 is a sub-task of block 0 and cannot have 'next'"]


@pytest.mark.parametrize("change, expected", [
    (lambda t: t.replace("web1, web2 ,,web3", "web1"), "needs 2 to 1000 hosts, found 1"),
    (lambda t: t.replace("web2 ", "bad_host!"),
     "'bad_host!' is not a valid host: the host 'bad_host!' is not a host name"),
    (lambda t: t.replace("command=check.sh\n", ""), "a hostnames= block needs a command"),
    (lambda t: t.replace("max_parallel=3", "tasks=3"), "tasks= and hostnames= cannot be used"),
    (lambda t: t.replace("type=parallel", "type=conditional\ncondition=true"),
     "hostnames= is only valid on a parallel block"),
])
def test_hostnames_rules(change, expected):
    got = messages(change(FANOUT))
    assert any(expected in m for m in got), got


@pytest.mark.parametrize("text, expected", [
    ("task=0\ntype=decision\nsuccess=true\nfailure=false\n", "either success= or failure="),
    (cmd(0, "host_success=exit_0"), "host_success= only applies to a hostnames= block"),
])
def test_decision_and_host_success_rules(text, expected):
    got = messages(text + "\n" + cmd(10))
    assert any(expected in m for m in got), got


def test_fanout_blocks_are_not_flagged_for_their_generated_list():
    assert messages(FANOUT) == []
    assert messages("task=0\ntype=parallel\ntasks=10\nsuccess=min_success=1|max_failed=0\n"
                    + cmd(10)) == []


@pytest.mark.parametrize("name, ok", [
    ("localhost", True), ("web-1.example.com", True), ("10.0.0.255", True),
    ("-bad", False), ("a" * 64, False), ("under_score", False), ("a..b", False),
    ("10.0.0.256", False), ("1.2.3", False), ("300.1.1.1", False), ("127", False),
    ("server.01", True), ("::1", True), ("fe80::1%eth0", True), ("2001:db8::g", False),
    ("host:22", False),
])
def test_valid_host(name, ok):
    assert valid_host(name) is ok


def test_empty_block_list_is_an_error():
    got = messages("task=0\ntype=parallel\ntasks= , \n")
    assert got == ["Task 0: tasks= lists no tasks"]
