"""Static flow analysis: gaps, endless loops, unreachable tasks, early reads, C16."""

import pytest

from tasker.syntax.taskfile import LoadOptions, build_task_file
from tasker.validate.flow import END_FAIL, END_OK, SUB, flow_diagnostics, routing_graph


def load(text):
    return build_task_file("t.txt", text, LoadOptions())


def t(tid, *fields):
    """An ordinary task with extra `key=value` fields."""
    return f"task={tid}\nhostname=h\ncommand=echo\n" + "".join(f + "\n" for f in fields)


def found(text):
    return [(d.line, d.column, d.severity, d.message, d.hint)
            for d in flow_diagnostics(load(text))]


def has(diags, line, col, severity, fragment):
    return any(d[:3] == (line, col, severity) and fragment in d[3] for d in diags)


def line_of(text, needle):
    return text.split("\n").index(needle) + 1


PARALLEL_1 = "task=1\ntype=parallel\ntasks=100,101\n" + t(100) + t(101)
COND_0 = "task=0\ntype=conditional\ncondition=true\nif_true_tasks=100\nif_false_tasks=101\n"

CASES = [
    # gaps (II.8.1)
    (t(0) + t(1) + t(3) + t(4), "task=3", 6, "error", "Missing task(s) [2] between task 1"),
    (t(0) + t(6), "task=6", 6, "error", "Missing task(s) [1, 2, 3, 4, 5]"),
    (t(0) + t(30), "task=30", 6, "error", "[1, 2, ..., 29]"),
    (t(0) + t(7), "task=7", 6, "error", "[1, 2, ..., 6]"),
    # a gap of billions of IDs is described, not listed out
    (t(0) + t(99999999999), "task=99999999999", 6, "error", "[1, 2, ..., 99999999998]"),
    # endless routing loop: both ways out of 1 and 2 lead back
    (t(0) + t(1, "on_success=2", "on_failure=2") + t(2, "on_success=1", "on_failure=1"),
     "on_success=1", 12, "error", "closes a routing loop (1 -> 2 -> 1)"),
    (t(0, "on_success=0", "on_failure=0"), "on_success=0", 12, "error",
     "on_success closes a routing loop (0 -> 0)"),
    # unreachable
    (t(0, "next=never") + t(1), "task=1", 6, "warning", "Task 1 is never reached"),
    (t(0, "return=0") + t(1), "task=1", 6, "warning", "start task (0)"),
    (t(0, "next=never") + PARALLEL_1, "task=1", 6, "warning", "(nor its sub-tasks)"),
    (t(0, "next=never") + t(99, "return=1"), "task=99", 6, "warning", "never reached"),
    # early reads
    (t(0, "arguments=@1_stdout@") + t(1), "arguments=@1_stdout@", 11, "warning",
     "reads @1_stdout@, but task 1 cannot have run before task 0"),
    (t(0, "on_success=2", "on_failure=2") + t(1) + t(2, "condition=@1_exit@=0"),
     "condition=@1_exit@=0", 11, "warning", "task 1 cannot have run before task 2"),
    ("task=0\ntype=parallel\ntasks=10,11\nnext=never\n" + t(10) + t(11, "arguments=@10_exit@"),
     "arguments=@10_exit@", 11, "warning", "cannot have run"),
    ("task=0\ntype=conditional\ncondition=true\nif_true_tasks=11,10\nif_false_tasks=12\n"
     "next=never\n" + t(10) + t(11, "arguments=@10_stdout@") + t(12),
     "arguments=@10_stdout@", 11, "warning", "task 10 cannot have run before task 11"),
    # ... and where only some paths have passed task N (I.4): the example path is shown
    (t(0, "on_failure=99") + t(1, "on_failure=99") + t(2, "next=never")
     + t(99, "arguments=@1_exit@", "return=1"), "arguments=@1_exit@", 11, "warning",
     "task 1 may not have run before task 99: the path 0 -> 99 does not pass it"),
    (t(0, "on_success=2", "on_failure=1") + t(1) + t(2, "arguments=@1_stdout@"),
     "arguments=@1_stdout@", 11, "warning", "the path 0 -> 2 does not pass it"),
    # C16: the flow walks into a sub-task
    (t(0) + PARALLEL_1.replace("100", "2").replace("101", "3"), "task=1", 6, "warning",
     "the flow continues to task 2 (all_success (ID+1)), a sub-task of block 1"),
    # C16: the run starts with a sub-task
    (t(0) + "task=1\ntype=parallel\ntasks=0\nnext=never\n", "task=0", 6, "warning",
     "the run starts with this task, a sub-task of block 1"),
    # a task of one branch of a conditional block may not have run after the block
    (COND_0 + t(1, "arguments=@101_stdout@", "next=never") + t(100) + t(101),
     "arguments=@101_stdout@", 11, "warning", "task 101 may not have run before task 1: it "
     "runs only when conditional block 0 takes its false branch"),
    # ... nor before a task of the other branch, or of both
    (COND_0.replace("if_false_tasks=101", "if_false_tasks=101,100") + t(1, "next=never")
     + t(100, "arguments=@101_stdout@") + t(101), "arguments=@101_stdout@", 11, "warning",
     "runs only when conditional block 0 takes its false branch"),
    # the column is that of the placeholder, also after a global in the same field
    ("G=x\n" + t(0, "arguments=@G@ @1_stdout@") + t(1), "arguments=@G@ @1_stdout@", 15,
     "warning", "task 1 cannot have run before task 0"),
]


@pytest.mark.parametrize("text, needle, col, severity, fragment", CASES)
def test_findings(text, needle, col, severity, fragment):
    diags = found(text)
    assert has(diags, line_of(text, needle), col, severity, fragment), diags


CLEAN = [
    t(0) + t(1) + t(2),
    t(0, "on_success=5", "on_failure=90") + t(5, "next=never") + t(90, "return=1"),
    t(0, "on_failure=99") + t(1, "next=never") + t(99, "return=1"),
    t(0) + t(1, "arguments=@0_stdout@ @0_exit@") + t(2, "condition=@1_success@=true"),
    t(0, "loop=3", "next=loop", "arguments=@0_stdout@"),
    t(0) + PARALLEL_1 + t(2, "arguments=@100_stdout@ @1_success@"),
    "task=0\ntype=conditional\ncondition=true\nif_true_tasks=10,11\nif_false_tasks=12\n"
    "next=never\n" + t(10) + t(11, "arguments=@10_stdout@") + t(12),
    "task=0\ntype=parallel\ntasks=10,11\nsuccess=min_success=1\nnext=never\n" + t(10) + t(11),
    t(0, "on_success=@0_stdout@") + t(1, "next=never") + t(50),  # run-time target
    t(0) + "task=1\ntype=parallel\ntasks=100\nnext=never\n" + t(100),
    # every path to task 2 passes task 0, whichever way task 0 went
    t(0, "on_success=2", "on_failure=1") + t(1) + t(2, "arguments=@0_stdout@"),
    # a task run by two blocks: every path passes one of them
    "task=0\ntype=parallel\ntasks=100\non_success=2\non_failure=1\n"
    "task=1\ntype=parallel\ntasks=100\n" + t(2, "arguments=@100_stdout@", "next=never")
    + t(100),
    # a block's routing targets are resolved after its sub-tasks ran (C19)
    "task=0\ntype=parallel\ntasks=10,11\non_success=@10_stdout@\non_failure=5\n"
    + t(5, "next=never") + t(6, "next=never") + t(10) + t(11),
    # a task listed in both branches has run after the block
    COND_0.replace("if_false_tasks=101", "if_false_tasks=100") + t(1, "arguments=@100_exit@")
    + t(100),
]


@pytest.mark.parametrize("text", CLEAN)
def test_clean(text):
    assert [d for d in found(text) if "recommended range" not in d[3]] == []


def test_block_reads_its_own_subtasks_after_they_ran():
    text = "task=0\ntype=parallel\ntasks=10\nnext=@10_exit@=0\n" + t(10, "next=never")
    assert [d for d in found(text) if "cannot have run" in d[3]] == []


def test_parallel_siblings_hint():
    text = "task=0\ntype=parallel\ntasks=10,11\nnext=never\n" + t(10) + t(11, "arguments=@10_exit@")
    (d,) = [d for d in found(text) if "cannot have run" in d[3]]
    assert "run at the same time in parallel block 0" in d[4]


def test_conditional_branch_hints():
    """Tasks in different branches cannot be ordered; a read in a task listed in both
    branches needs the task it reads in both."""
    text = COND_0 + t(1, "next=never") + t(100) + t(101, "arguments=@100_stdout@")
    (d,) = [d for d in found(text) if "reads @100" in d[3]]
    assert d[4] == "tasks 100 and 101 are in different branches of conditional block 0"
    text = (COND_0.replace("if_false_tasks=101", "if_false_tasks=101,100") + t(1, "next=never")
            + t(100, "arguments=@101_stdout@") + t(101))
    (d,) = [d for d in found(text) if "reads @101" in d[3]]
    assert "task 100 also runs in a branch of block 0 without task 101" in d[4]


def test_gap_is_not_also_reported_as_unreachable():
    diags = found(t(0) + t(1) + t(3))
    assert [d[2] for d in diags] == ["error"]


def edges(text):
    g = routing_graph(load(text))
    return {(e.src, e.dst, e.label, e.kind, e.end) for e in g.edges}


def test_graph_of_ordinary_tasks():
    got = edges(t(0, "condition=true") + t(1, "on_success=3") + t(2, "next=never") + t(3))
    assert got == {
        (0, 1, "skipped (ID+1)", "flow", ""), (0, 1, "ID+1", "flow", ""),
        (0, None, "failure", "flow", END_FAIL),
        (1, 3, "on_success", "flow", ""), (1, None, "failure (exit 10)", "flow", END_FAIL),
        (2, None, "next=never", "flow", END_OK),
        (3, None, "ID+1", "flow", END_OK), (3, None, "failure", "flow", END_FAIL),
    }


def test_graph_of_next_loop_and_return():
    got = edges(t(0, "next=exit_0", "on_failure=2") + t(1, "loop=2", "next=loop")
                + "task=2\nreturn=3\n")
    assert (0, 1, "next: exit_0 (ID+1)", "flow", "") in got
    assert (0, 2, "on_failure (not next: exit_0)", "flow", "") in got
    assert (1, 1, "loop x2", "loop", "") in got and (1, 2, "ID+1", "flow", "") in got
    assert (2, None, "return 3", "flow", END_FAIL) in got


def test_graph_of_blocks():
    got = edges("task=0\ntype=conditional\ncondition=true\nif_true_tasks=10\n"
                "if_false_tasks=11\nsuccess=any_success\non_failure=2\n" + t(10) + t(11)
                + "task=1\ntype=decision\nsuccess=true\n" + t(2))
    assert (0, 10, "if true", SUB, "") in got and (0, 11, "if false", SUB, "") in got
    assert (0, 1, "any_success (ID+1)", "flow", "") in got
    assert (0, 2, "on_failure (not any_success)", "flow", "") in got
    assert (1, 2, "true (ID+1)", "flow", "") in got
    assert (1, None, "false (exit 10)", "flow", END_FAIL) in got


def test_graph_start_is_lowest_without_task_zero():
    assert routing_graph(load(t(5) + t(6))).start == 5


def test_large_chain_has_no_findings_and_no_recursion_limit():
    """A 3000-task chain (deeper than Python's recursion limit); its speed is measured
    by bench/bench_validate.py, not here."""
    text = "".join(t(i, f"arguments=@{i - 1}_stdout@" if i else "arguments=x")
                   for i in range(3000))
    assert flow_diagnostics(load(text)) == []


def test_endless_loop_with_a_negative_task_id():
    text = "task=-1\nhostname=h\ncommand=x\non_success=0\non_failure=0\n" + \
        t(0, "on_success=-1", "on_failure=-1")
    assert any("closes a routing loop" in d[3] for d in found(text))


def test_dominators_on_a_diamond_with_a_loop():
    from tasker.validate.dominators import Dominators
    from tasker.validate.graph import seq_reached

    text = (t(0, "on_success=2", "on_failure=1") + t(1) + t(2, "loop=2", "next=loop")
            + t(3, "next=never"))
    g = routing_graph(load(text))
    dom = Dominators(g, seq_reached(g))
    assert dom.dominates(0, 3) and dom.dominates(2, 3) and dom.dominates(3, 3)
    assert not dom.dominates(1, 2) and not dom.dominates(1, 3) and not dom.dominates(3, 0)



@pytest.mark.parametrize("text", [
    t(0) + t(1),                                   # the last task ends the run
    t(0, "condition=exit_0") + t(1, "condition=stdout~x"),  # skipped -> ID + 1
    t(0, "loop=3") + t(1, "timeout=9"),             # loop without next=loop: no routing
    t(0) + t(1) + t(5, "condition=exit_0"),          # ID + 1 undefined: a successful end
    "task=0\nhostname=h\nreturn=0\n" + t(1),          # mixed with routing tasks
])
def test_plain_task_edges_match_the_general_rules(text):
    """The shortcut for tasks without routing keys builds exactly what _ordinary builds."""
    from tasker.validate.graph import _ordinary

    tf = load(text)
    g = routing_graph(tf)
    for tid, task in tf.tasks.items():
        assert g.out[tid] == tuple(_ordinary(tf, task))
        assert g.succ[tid] == tuple(e.dst for e in g.out[tid]
                                    if e.kind == "flow" and e.dst is not None)


def _routed_file(spec):
    """Tasks 0..n-1 with routing and `@N_exit@` reads drawn by hypothesis."""
    parts = []
    for tid, (success, failure, cond, read) in enumerate(spec):
        fields = [f"arguments=@{read}_exit@"] if read is not None else []
        fields += [f"on_success={success}"] if success is not None else []
        fields += [f"on_failure={failure}"] if failure is not None else []
        fields += ["condition=exit_0"] if cond else []
        parts.append(t(tid, *fields))
    return "".join(parts)


def test_single_predecessor_shortcut_agrees_with_the_dominator_tree(monkeypatch):
    """Early-read warnings are the same with and without the single-predecessor walk."""
    from hypothesis import given, settings, strategies as st

    from tasker.validate import flow

    ids = st.one_of(st.none(), st.integers(0, 7))
    task = st.tuples(ids, ids, st.booleans(), ids)

    @settings(max_examples=300, deadline=None)
    @given(st.lists(task, min_size=1, max_size=8))
    def check(spec):
        tf = load(_routed_file(spec))
        with_walk = [(d.line, d.message) for d in flow.flow_diagnostics(tf)]
        with monkeypatch.context() as m:
            m.setattr(flow, "_only_predecessors", lambda g, seen: {})
            without = [(d.line, d.message) for d in flow.flow_diagnostics(tf)]
        assert with_walk == without

    check()
