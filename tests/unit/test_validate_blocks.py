"""Block structure rules (tasker.validate.blocks): what sub-tasks may not have, ID lists."""

import pytest

from tasker.syntax.taskfile import LoadOptions, build_task_file
from tasker.validate.blocks import SUBTASK_FORBIDDEN, block_errors
from tasker.validate.structure import structural_errors


def load(text):
    return build_task_file("t.txt", text, LoadOptions())


PARALLEL = "task=0\ntype=parallel\ntasks=10\n\n"
CONDITIONAL = "task=0\ntype=conditional\ncondition=true\nif_true_tasks=10\nif_false_tasks=11\n\n"
SUB = "task=10\nhostname=localhost\ncommand=true\n"  # lines 5-7 after PARALLEL
OTHER = "task=11\nhostname=localhost\ncommand=true\n"


def test_loop_break_is_forbidden_in_subtasks():
    assert "loop_break" in SUBTASK_FORBIDDEN  # II.8.1: "a referenced task has loop/loop_break"


@pytest.mark.parametrize("head, tail", [(PARALLEL, ""), (CONDITIONAL, OTHER)])
def test_loop_break_in_a_subtask_is_a_located_error(head, tail):
    text = head + SUB + "loop_break=exit_0\n" + tail
    errs = block_errors(load(text))
    assert [d.message for d in errs] == [
        "Task 10 is a sub-task of block 0 and cannot have 'loop_break'"]
    line = text.splitlines().index("loop_break=exit_0") + 1
    assert (errs[0].line, errs[0].column) == (line, len("loop_break=") + 1)


def test_loop_break_outside_blocks_is_not_a_block_error():
    assert block_errors(load(SUB + "loop=2\nnext=loop\nloop_break=exit_0\n")) == []


@pytest.mark.parametrize("entry", ["1_0", "\u0661\u0660", "\u00b2", "--10", "+-10"])
def test_id_list_entries_are_ascii_integers(entry):
    tf = load(f"task=0\ntype=parallel\ntasks={entry}\n\n" + SUB)
    assert block_errors(tf) == []  # not an ID: the structure check reports it, no traceback
    missing, dangling = structural_errors(tf)
    assert missing == []
    assert [d.message for d in dangling] == [f"Task 0: '{entry}' in tasks is not a task ID"]


def test_id_list_entries_may_carry_a_plus_sign_as_int_reads_them():
    tf = load("task=0\ntype=parallel\ntasks=+10\n\n" + SUB)
    assert structural_errors(tf) == ([], []) and block_errors(tf) == []


@pytest.mark.parametrize("text, message", [
    ("task=0\ntype=parallel\nhostnames=a1,a2\n", "Task 0: a hostnames= block needs a command"),
    ("task=0\ntype=decision\nsuccess=exit_0\nfailure=exit_1\non_success=1\n\n"
     "task=1\nreturn=0\n", "Task 0: a decision block takes either success= or failure=, "
     "not both"),
    ("task=0\ntype=conditional\ncondition=true\nif_true_tasks=10\nif_false_tasks=\n\n" + SUB,
     "Task 0: if_false_tasks= lists no tasks"),
])
def test_one_mistake_is_one_error(text, message):
    """Rules that overlap report a mistake once (no sentences about generated IDs)."""
    from tasker.validate.pipeline import validate_task_file

    errors = [d.message for d in validate_task_file(load(text)) if d.is_error]
    assert errors == [message]
