"""The validator as one call: its shortcuts change no finding, notes come where they belong."""

import pytest
from hypothesis import given, settings, strategies as st

from tasker.syntax.diagnostics import TaskFileError
from tasker.syntax.taskfile import LoadOptions, build_task_file
from tasker.validate import pipeline, structure

LINES = st.sampled_from([
    "G=1", "task=0", "task=1", "task=2", "hostname=h", "hostname= ", "hostname=", "command=c",
    "command=", "exec=local", "type=parallel", "type=decision", "return=0", "tasks=1,9",
    "on_success=2", "on_failure=7", "arguments=@1_stdout@", "arguments=@5_exit@",
    "arguments=@G@ @task@", "condition=@H@=1", "# @9_stdout@", "success=exit_0",
])


@settings(max_examples=300)
@given(st.lists(LINES, max_size=16))
def test_structure_shortcuts_change_no_finding(lines):
    text = "\n".join(lines)
    try:
        tf = build_task_file("s.txt", text, LoadOptions())
    except TaskFileError:
        return
    missing, dangling = [], []
    for task in tf.tasks.values():  # every check on every task, no shortcut
        if task.generated_by is None:
            missing.extend(structure.required_fields(tf, task))
        dangling.extend(structure.references(tf, task))
        dangling.extend(structure.placeholders(tf, task))
    assert structure.structural_errors(tf) == (missing, dangling)


COMMENT_LINES = st.sampled_from([
    "task=0", "task=1", "task=3", "hostname=h", "command=c", "timeout=30  # two minutes",
    "arguments=a#b", "arguments=a #b", "# a comment", "  # indented comment", "\t#x",
    "success=exit_0 # ok", "exec=local", "return=0", "next=never\t# stop",
])


@settings(max_examples=300)
@given(st.lists(COMMENT_LINES, max_size=14))
def test_inline_comment_shortcut_changes_no_finding(lines):
    from tasker.validate import rules

    text = "\n".join(lines)
    try:
        tf = build_task_file("c.txt", text, LoadOptions())
    except TaskFileError:
        return
    every = [d for t in tf.tasks.values() if t.generated_by is None
             for d in rules.task_rules(tf, t, True)]
    marked = rules.tasks_with_comment_marks(tf)
    shortcut = [d for tid, t in tf.tasks.items() if t.generated_by is None
                for d in rules.task_rules(tf, t, tid in marked)]
    assert shortcut == every


class InfoLog:
    """The log check_task_file writes to: INFO lines kept, DEBUG lines dropped."""

    def __init__(self):
        self.info_lines = []

    def info(self, text):
        self.info_lines.append(text)

    def debug(self, text):
        pass

    def mask(self, text):
        return text


def test_reads_of_later_tasks_are_noted_at_info_level():
    text = ("task=0\nhostname=h\ncommand=echo\narguments=@2_stdout@\n"
            "task=1\nhostname=h\ncommand=echo\ncondition=@2_exit@=0\nsuccess=@2_exit@=0\n"
            "task=2\nhostname=h\ncommand=echo\narguments=@0_stdout@\n")
    tf = build_task_file("d.txt", text, LoadOptions())
    log = InfoLog()
    pipeline.check_task_file(tf, log)
    assert log.info_lines == [
        "# WARNING: Task dependency issues detected",
        "#   Task 0: arguments reads @2_stdout@ of task 2, which comes later",
        "#   Task 1: condition reads @2_exit@ of task 2, which comes later",
    ]


def test_notes_name_only_the_results_the_original_knows():
    """II.8.4: stdout, stderr, success and exit; our own result names are not noted."""
    text = ("task=0\nhostname=h\ncommand=echo\narguments=@1_duration@ @1_hostname@\n"
            "condition=@1_exit_code@=0\n"
            "task=1\nhostname=h\ncommand=echo\n")
    tf = build_task_file("n.txt", text, LoadOptions())
    notes = []
    pipeline.check_task_file(tf, InfoLog(), notes=notes)
    assert notes == []


def test_notes_come_after_the_validation_lines(tmp_path, capsys):
    """II.7.2: the dependency notes (step 8) follow task validation (step 5)."""
    from tasker.cli import main

    f = tmp_path / "n.txt"
    f.write_text("task=0\nhostname=localhost\ncommand=echo\narguments=@1_stdout@\nexec=local\n"
                 "task=1\nhostname=localhost\ncommand=echo\nexec=local\n")
    assert main([str(f), "--validate-only", "--skip-host-validation", "-l",
                 str(tmp_path / "logs")]) == 0
    out = capsys.readouterr().out
    assert out.index("# Task validation passed successfully.") \
        < out.index("# WARNING: Task dependency issues detected")


@pytest.mark.parametrize("arguments", ["@H@", "@9_stdout@"])
def test_a_fan_out_block_is_reported_once_not_per_host(arguments):
    """The generated sub-tasks carry the block's fields: a mistake there is the block's."""
    text = ("task=0\ntype=parallel\nhostnames=localhost,127.0.0.1,vm\ncommand=echo\n"
            f"arguments={arguments}\nexec=local\n")
    tf = build_task_file("f.txt", text, LoadOptions())
    errors = [d for d in pipeline.validate_task_file(tf) if d.is_error]
    assert len(errors) == 1 and errors[0].message.startswith("Task 0:"), errors


@pytest.mark.parametrize("field", ["timeout={n}", "on_success={n}", "arguments=@{n}_stdout@",
                                   "stdout_split=space,{n}", "condition=@{n}_exit@=0"])
def test_numbers_of_thousands_of_digits_are_reported_not_crashed_on(field):
    """int() refuses more than 4300 digits: such a value is a located error or literal text."""
    text = "task=0\nhostname=h\ncommand=echo\n" + field.format(n="9" * 5000) + "\n"
    tf = build_task_file("n.txt", text, LoadOptions())
    pipeline.validate_task_file(tf)  # (no exception)


def test_a_global_naming_itself_several_times_stops_growing():
    from tasker.syntax.placeholders import MAX_SUBSTITUTED, substitute_globals

    out = substitute_globals("@X@", {"X": "@X@" * 6})
    assert len(out) <= MAX_SUBSTITUTED * 6
