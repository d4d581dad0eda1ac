"""`--graph dot|mermaid` and `--show-plan` output (SPEC I.4)."""

import re
import shutil
import subprocess

import pytest

from tasker.syntax.taskfile import LoadOptions, build_task_file
from tasker.validate.render import render_graph, render_plan

WORKFLOW = """\
task=0
hostname=localhost
command=echo
arguments="quoted" <tag> {x} [y] #hash | pipe & amp; (p) `bt` \\back a-->b end
success=stdout~"a|b"&stderr~
on_failure=90
task=1
type=parallel
tasks=100,101
success=min_success=1|any_success
on_success=2
on_failure=90
task=100
hostname=web1
command=check
task=101
hostname=web2
command=end
task=2
type=decision
success=@100_exit@=0
next=always
task=3
type=conditional
condition=@2_success@=True
if_true_tasks=300
if_false_tasks=301
next=never
task=300
hostname=h
command=subgraph
task=301
return=4
task=90
return=1
"""


def load(text):
    return build_task_file("wf.txt", text, LoadOptions())


# One regex per kind of Mermaid line we emit: the renderer's whole output language.
_LABEL = r'"(?:[^"#]|#[a-z0-9]+;)*"'
_MERMAID_LINE = re.compile("|".join([
    r"flowchart TD",
    rf"  (?:t\d+)(?:\[{_LABEL}\]|\{{\{{{_LABEL}\}}\}})",
    rf"    (?:t\d+)(?:\[{_LABEL}\]|\{{\{{{_LABEL}\}}\}})",
    rf"  subgraph block\d+ \[{_LABEL}\]",
    r"  end",
    rf'  (?:done|failed)\(\[{_LABEL}\]\)',
    rf'  runtime\{{{_LABEL}\}}',
    rf"  t\d+ (?:-->|-\.->)\|{_LABEL}\| (?:t\d+|done|failed|runtime)",
]) + r"\Z")


def test_mermaid_is_a_flowchart_of_known_line_forms():
    text = render_graph(load(WORKFLOW), "mermaid")
    lines = text.rstrip("\n").split("\n")
    assert lines[0] == "flowchart TD"
    bad = [line for line in lines if not _MERMAID_LINE.match(line)]
    assert bad == []
    assert lines.count("  end") == sum(1 for x in lines if x.startswith("  subgraph"))


def test_mermaid_content():
    text = render_graph(load(WORKFLOW), "mermaid")
    assert '  subgraph block1 ["block 1 (parallel)"]' in text
    assert '    t100["100: check"]' in text
    assert '  t0 -->|"on_failure"| t90' in text
    assert '  t1 -.->|"runs"| t101' in text
    assert '  t1 -->|"on_success (min_success=1#124;any_success)"| t2' in text
    assert '  t3 -->|"next=never is false (exit 10)"| failed' in text
    assert '  t90 -->|"return 1"| failed' in text


def test_dot_content():
    text = render_graph(load(WORKFLOW), "dot")
    assert text.startswith("digraph tasker {")
    assert "  subgraph cluster_1 {" in text
    assert '    t1 [label="1: parallel", shape=hexagon];' in text
    assert '  t1 -> t100 [label="runs", style=dashed];' in text
    assert '  t2 -> t3 [label="true (ID+1)"];' in text
    small = render_graph(load('task=0\nhostname=h\ncommand=a\\b "q"\n'), "dot")
    assert 't0 [label="0: a\\\\b \\"q\\""];' in small


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz is not installed")
def test_dot_is_accepted_by_graphviz():
    text = render_graph(load(WORKFLOW), "dot")
    proc = subprocess.run(["dot", "-Tsvg"], input=text, capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stderr == ""


def test_dot_braces_and_statements_balance():
    text = render_graph(load(WORKFLOW), "dot")
    body = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)  # drop quoted strings
    assert body.count("{") == body.count("}")
    for line in body.strip().split("\n")[1:-1]:
        assert line.rstrip().endswith((";", "{", "}")), line


def test_unknown_format():
    with pytest.raises(ValueError):
        render_graph(load(WORKFLOW), "svg")


def test_hostnames_block_draws_its_hosts_inside_the_cluster():
    text = render_graph(load("task=0\ntype=parallel\nhostnames=a,b\ncommand=up\n"), "dot")
    assert "subgraph cluster_0" in text and "t100000" in text and "t100001" in text


def test_plan_has_one_line_per_task_in_id_order():
    plan = render_plan(load(WORKFLOW)).rstrip("\n").split("\n")
    assert plan[0] == "Execution plan for wf.txt: 9 task(s), start at task 0"
    ids = [int(line.split()[0]) for line in plan[1:]]
    assert ids == [0, 1, 2, 3, 90, 100, 101, 300, 301]
    row = {int(line.split()[0]): line for line in plan[1:]}
    assert "localhost" in row[0] and "ID+1 -> 1" in row[0] and "on_failure" in row[0]
    assert "parallel" in row[1] and "runs 100,101" in row[1]
    assert "return 1 -> stop (failed)" in row[90]
    assert "(sub-task of 1)" in row[100]
    assert "next=never is false (exit 10) -> stop (failed)" in row[3]


def test_plan_marks_generated_hosts():
    plan = render_plan(load("task=0\ntype=parallel\nhostnames=a,b\ncommand=up\n"))
    assert "(host of block 0)" in plan and "2 hosts" in plan


def test_secret_values_are_masked_everywhere():
    text = ("API_TOKEN=tok-123456789-very-long-secret-value-abcdef\nSECRET_VARS=PW\nPW=hunter2\n"
            "task=0\nhostname=h\ncommand=curl\narguments=-H @API_TOKEN@ -u @PW@\n"
            "next=stdout~@PW@\n")
    tf = load(text)
    for out in (render_graph(tf, "dot"), render_graph(tf, "mermaid"), render_plan(tf)):
        assert "hunter2" not in out and "tok-123" not in out and "****" in out


def test_plan_shows_branches_and_that_sub_tasks_do_not_route():
    text = ("task=0\ntype=conditional\ncondition=exit_0\nif_true_tasks=10\nif_false_tasks=11\n"
            "next=always\ntask=1\nhostname=h\ncommand=echo\nnext=never\n"
            "task=10\nhostname=h\ncommand=false\ntask=11\nhostname=h\ncommand=echo\n")
    row = {int(line.split()[0]): line for line in render_plan(load(text)).split("\n")[1:-1]}
    assert "if true runs 10; if false runs 11" in row[0]
    assert row[10].endswith("result goes to the block (sub-task of 0)")
    assert "ID+1" not in row[10]


def test_plan_of_a_sub_task_the_flow_walks_into_keeps_its_routing():
    text = ("task=0\nhostname=h\ncommand=echo\n"
            "task=1\ntype=parallel\ntasks=0\nnext=never\n")
    row = {int(line.split()[0]): line for line in render_plan(load(text)).split("\n")[1:-1]}
    assert "ID+1 -> 1" in row[0] and "(sub-task of 1; the flow also walks into it)" in row[0]


def test_plan_header_counts_written_tasks_and_names_the_start():
    plan = render_plan(load("task=0\ntype=parallel\nhostnames=a,b\ncommand=up\n"
                            "task=1\nhostname=h\ncommand=echo\n"), start=1)
    assert plan.split("\n")[0] == ("Execution plan for wf.txt: 2 task(s) and 2 generated for "
                                   "hostnames=, start at task 1")


def test_control_characters_do_not_reach_the_graph_source():
    text = "task=0\nhostname=h\ncommand=echo\nnext=stdout~a\x00b\x1bc\n"
    for fmt in ("dot", "mermaid"):
        out = render_graph(load(text), fmt)
        assert "\x00" not in out and "\x1b" not in out
