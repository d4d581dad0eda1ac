"""Field rules of the validator: input snippet -> (line, column, message fragment)."""

import pytest
from hypothesis import given, settings, strategies as st

from tasker.syntax.taskfile import LoadOptions, build_task_file
from tasker.validate.rules import RuleOptions, parse_int, rule_diagnostics

T0 = "task=0\nhostname=h\ncommand=echo\n"  # lines 1-3: an ordinary task


def load(text, **kw):
    return build_task_file("t.txt", text, LoadOptions(**kw))


def found(text, skip_range=False, **kw):
    tf = load(text, **kw)
    return [(d.line, d.column, d.severity, d.message, d.hint)
            for d in rule_diagnostics(tf, RuleOptions(skip_subtask_range=skip_range))]


def has(diags, line, col, severity, fragment):
    return any(d[0] == line and d[1] == col and d[2] == severity and fragment in d[3]
               for d in diags)


ERRORS = [
    (T0 + "arguments=" + "x" * 8193 + "\n", 4, 8203, "at most 8192"),
    ("task=-5\nreturn=0\n", 1, 6, "cannot be negative"),
    ("task=10000\nreturn=0\n", 1, 6, "exceeds the maximum (9999)"),
    ("task=100000\nreturn=0\n", 1, 6, "reserved for the generated sub-tasks"),
    (T0 + "timeout=30   # two minutes\n", 4, 14, "timeout contains an inline comment"),
    ("task=0\nreturn=x\n", 2, 8, "return must be a whole number"),
    (T0 + "loop=0\nnext=loop\n", 4, 6, "loop=0 is out of range (1-1000)"),
    (T0 + "loop=1001\nnext=loop\n", 4, 6, "out of range"),
    (T0 + "loop=x\nnext=loop\n", 4, 6, "loop must be a whole number"),
    (T0 + "loop=3\n", 4, 6, "loop requires next=loop"),
    (T0 + "next=loop\n", 4, 6, "next=loop requires loop=N"),
    (T0 + "sleep=abc\n", 4, 7, "sleep must be a number"),
    (T0 + "sleep=inf\n", 4, 7, "sleep must be a number"),
    (T0 + "sleep=1_0\n", 4, 7, "sleep must be a number"),
    (T0 + "sleep=2e9\n", 4, 7, "sleep=2e9 is longer than the longest sleep, 1,000,000,000"),
    (T0 + "timeout=abc\n", 4, 9, "timeout must be a whole number"),
    ("task=0\nreturn=0\ntimeout=10\n", 3, 9, "no effect on a return task"),
    ("task=0\ntype=parallel\ntasks=1\ntimeout=10\ntask=1\nhostname=h\ncommand=x\n", 4, 9,
     "not allowed on a parallel block"),
    (T0 + "next=exit_0\non_success=5\n", 4, 6, "next cannot be combined with on_success"),
    ("task=3\nhostname=h\ncommand=echo\non_success=2\n", 4, 12, "on_success=2 jumps backwards"),
    ("task=3\nhostname=h\ncommand=echo\non_failure=3\n", 4, 12, "points to the task itself"),
    (T0 + "success=exit_0\nfailure=exit_1\n", 5, 9, "success and failure cannot be used"),
    (T0 + "stdout_split=space\n", 4, 14, "stdout_split must be DELIMITER,INDEX"),
    (T0 + "stderr_split=space,x\n", 4, 14, "stderr_split must be DELIMITER,INDEX"),
    (T0 + "stdout_split=a,b,1\n", 4, 14, "one comma"),
    ("task=0\ntype=parallel\ntasks=1\nfailure=exit_0\ntask=1\nhostname=h\ncommand=x\n", 4, 9,
     "failure is not allowed on a parallel block"),
    ("task=0\ntype=parallel\ntasks=1\nmax_parallel=0\ntask=1\nhostname=h\ncommand=x\n", 4, 14,
     "max_parallel must be a whole number of at least 1"),
    ("task=0\ntype=decision\nsuccess=true\ncommand=x\n", 4, 9, "'command' is not allowed"),
    ("task=0\ntype=decision\nsuccess=true\nhostname=x\n", 4, 10, "'hostname' is not allowed"),
    ("task=0\ntype=parallel\ntasks=1\nretry_count=0\ntask=1\nhostname=h\ncommand=x\n", 4, 13,
     "retry_count=0 is out of range (1-1000)"),
    ("task=0\ntype=parallel\ntasks=1\nretry_delay=-1\ntask=1\nhostname=h\ncommand=x\n", 4, 13,
     "retry_delay=-1 is out of range (0 or more)"),
    ("task=0\ntype=parallel\ntasks=1\nsuccess=exit_0\ntask=1\nhostname=h\ncommand=x\n", 4, 9,
     "is not an aggregate condition"),
    ("task=0\ntype=conditional\ncondition=true\nif_true_tasks=1\nif_false_tasks=1\n"
     "next=min_success=1&exit_0\ntask=1\nhostname=h\ncommand=x\n", 6, 20, "not an aggregate"),
    ("task=0\ntype=parallel\ntasks=1\nsuccess=min_success=-1\ntask=1\nhostname=h\ncommand=x\n",
     4, 9, "min_success=-1 cannot be negative"),
    (T0 + "arguments=-m 'it is\n", 4, 14, "the single quote at column 4 is never closed"),
    (T0 + "arguments=a b\\\n", 4, 14, "escapes nothing"),
]


@pytest.mark.parametrize("text, line, col, fragment", ERRORS)
def test_errors(text, line, col, fragment):
    diags = found(text)
    assert has(diags, line, col, "error", fragment), diags


WARNINGS = [
    ("task=1000\nreturn=0\n", 1, 6, "high task ID"),
    ("task=0\nreturn=-1\n", 2, 8, "outside 0-255"),
    ("task=0\nreturn=300\n", 2, 8, "exit code becomes 44"),
    (T0 + "loop=200\nnext=loop\n", 4, 6, "loop=200 is unusually high"),
    ("task=0\ntype=parallel\ntasks=1\nretry_delay=400\ntask=1\nhostname=h\ncommand=x\n", 4,
     13, "retry_delay=400 is unusually high (above 300); the run uses 1 instead"),
    (T0 + "sleep=-1\n", 4, 7, "negative sleep"),
    (T0 + "timeout=2\n", 4, 9, "outside 5-1000"),
    (T0 + "loop_break=exit_0\n", 4, 12, "loop_break has no effect"),
    (T0 + "stdout_split=space,-1\n", 4, 20, "negative stdout_split index"),
    ("task=0\ntype=parallel\ntasks=1\nmax_parallel=25\ntask=1\nhostname=h\ncommand=x\n", 4,
     14, "above 20"),
    ("task=0\ntype=parallel\ntasks=1,2\nmax_parallel=5\ntask=1\nhostname=h\ncommand=x\n"
     "task=2\nhostname=h\ncommand=x\n", 4, 14, "more than the 2 sub-tasks"),
    ("task=0\ntype=parallel\ntasks=1\nnext=success\ntask=1\nhostname=h\ncommand=x\n", 4, 6,
     "treated as all_success"),
    ("task=0\ntype=parallel\ntasks=1\nsuccess=min_success=0\ntask=1\nhostname=h\ncommand=x\n",
     4, 9, "min_success=0 is always true"),
    ("task=0\ntype=parallel\ntasks=1\nsuccess=min_success=3\ntask=1\nhostname=h\ncommand=x\n",
     4, 9, "can never be met with 1 sub-tasks"),
    ("task=0\ntype=parallel\ntasks=1\nretry_count=200\ntask=1\nhostname=h\ncommand=x\n", 4,
     13, "unusually high"),
    ("task=0\ntype=decision\nsuccess=true\nexec=local\n", 4, 6, "ignored on a decision"),
    ("task=0\ntype=decision\nsuccess=true\n", 2, 6, "decision block without on_success"),
    (T0 + "retry_count=2\n", 4, 13, "only applies to parallel and conditional blocks"),
    (T0 + "Hostnme=x\n", 4, 1, "unknown field 'Hostnme'"),
    (T0 + "exec=foo\n", 4, 6, "unknown exec type 'foo'"),
    ("task=0\nhostname=h\ncommand=ls -l\n", 3, 11, "contains a space"),
    (T0 + 'success=stdout~"Test 1 PASSED\n', 4, 16, "quote that is never closed; it is "
     "ignored"),
    (T0 + 'success=stdout="Test 1\n', 4, 16, "never closed; the comparison is always false"),
    (T0 + "success=exit_0|exit_256\n", 4, 16, "exit_256 can never be true"),
    (T0 + "success=exit_0&stdout_count=abc\n", 4, 16, "stdout_count=abc can never be true"),
    (T0 + "condition=stdout_count~3\n", 4, 11, "stdout_count~3 can never be true"),
    ("task=1\ntype=parallel\ntasks=10\ntask=10\nhostname=h\ncommand=x\n", 3, 7,
     "sub-task 10 is outside the recommended range 100-199"),
    ("X=1\n" + T0, 1, 3, "Global variable X=1 is defined but never used"),
]


@pytest.mark.parametrize("text, line, col, fragment", WARNINGS)
def test_warnings(text, line, col, fragment):
    diags = found(text)
    assert has(diags, line, col, "warning", fragment), diags
    assert not [d for d in diags if d[2] == "error"], diags


CLEAN = [
    T0 + "arguments=a#b\n",
    T0 + "arguments=-m 'it is'\n",
    T0 + "arguments=echo 'unbalanced\nexec=bash\n",
    T0 + "arguments=a #\n",
    T0 + "exec=LOCAL\n",
    T0 + "exec=@0_stdout@\n",
    "task=0\nhostname=h\ncommand=ls -l\nexec=Shell\n",
    T0 + "loop=3\nnext=loop&exit_0\n",
    T0 + "on_success=@0_stdout@\n",
    T0 + "timeout=@0_stdout@\n",
    T0 + "sleep=0.5\n",
    T0 + "sleep=+5\n",
    T0 + "sleep=1e-1\n",  # what float() reads, as the original does
    T0 + "success=exit=0\n",  # legal in our grammar (C12)
    T0 + "success=(exit_0|exit_1)&stdout~ok\n",  # operators inside parentheses (I.2)
    "task=0\ntype=parallel\nhostnames=a,b\ncommand=x\ntimeout=10\nfailure=exit_1\n",
    "task=1\ntype=parallel\ntasks=100\nsuccess=min_success=1&max_failed=0\n"
    "task=100\nhostname=h\ncommand=x\n",
    "N=1\ntask=0\nhostname=h\ncommand=echo\narguments=@N@\n",
    "SECRET_VARS=X\ntask=0\nreturn=0\n",
]


@pytest.mark.parametrize("text", CLEAN)
def test_clean(text):
    assert found(text) == []


def test_inline_comment_hides_other_findings_of_that_field():
    diags = found(T0 + "timeout=30   # two minutes\n")
    assert [d[3] for d in diags] == [
        "Task 0: timeout contains an inline comment ('# two minutes'); comments must be on "
        "a line of their own"]


def test_unknown_field_hints():
    hints = {d[3]: d[4] for d in found(T0 + "on_sucess=4\nHOSTNAME=x\nzzz=1\n")}
    assert hints["Task 0 has unknown field 'on_sucess'; it is ignored"] == \
        "did you mean `on_success`?"
    assert hints["Task 0 has unknown field 'HOSTNAME'; it is ignored"] == \
        "did you mean `hostname`?"
    assert hints["Task 0 has unknown field 'zzz'; it is ignored"] == "keys are case-sensitive"


def test_space_in_command_hint_mentions_shell():
    (diag,) = found("task=0\nhostname=h\ncommand=ls -l\n")
    assert "exec=shell" in diag[4]


def test_subtask_range_can_be_skipped():
    text = "task=1\ntype=parallel\ntasks=10\ntask=10\nhostname=h\ncommand=x\n"
    assert found(text, skip_range=True) == []


def test_too_many_fields():
    text = T0 + "".join(f"k{i}=v\n" for i in range(23))
    assert has(found(text), 1, 6, "warning", "more than 25 fields")


def test_secret_global_value_is_masked():
    tf = load("DB_PASSWORD=s3cret\nTOKEN_X=abc\nSECRET_VARS=PLAIN\nPLAIN=pw1\n" + T0)
    diags = rule_diagnostics(tf)
    text = "\n".join(d.render("t.txt") for d in diags)
    assert "DB_PASSWORD=****" in text and "PLAIN=****" in text
    assert "s3cret" not in text and "pw1" not in text and "abc" not in text


def test_unset_environment_variable_in_used_global_is_an_error():
    text = "A=x${NOPE_1}y\nB=${NOPE_2}\ntask=0\nhostname=h\ncommand=echo\narguments=@A@\n"
    diags = found(text, environ={})
    assert has(diags, 1, 4, "error", "Environment variable expansion failed for used global "
               "variable A: $NOPE_1 is not set")
    assert has(diags, 2, 3, "warning", "B=${NOPE_2} is defined but never used (it also uses "
               "unset $NOPE_2)")


def test_used_through_another_global():
    text = "A=@B@\nB=x\ntask=0\nhostname=h\ncommand=echo\narguments=@A@\n"
    assert found(text) == []


def test_global_refers_to_undefined_global():
    text = "SERVER=@HOSTNAME@\ntask=0\nhostname=@SERVER@\ncommand=echo\n"
    assert has(found(text), 1, 8, "warning", "refers to @HOSTNAME@, which is not defined")


@pytest.mark.parametrize("text, value", [
    ("12", 12), (" -3 ", -3), ("+4", 4), ("1_000", None), ("\u0663", None), ("", None),
    ("1.0", None),
])
def test_parse_int_is_strict(text, value):
    assert parse_int(text) == value


# ---- the whole validator (pipeline) --------------------------------------------------------
def test_pipeline_sorts_and_collects_every_phase():
    import gc

    from tasker.validate.pipeline import validate_task_file

    text = ("X=1\ntask=0\nhostname=h\ncommand=echo\narguments=a; rm b @9_stdout@\n"
            "task=2\nhostname=h\ncommand=echo\n")
    diags = validate_task_file(load(text))
    lines = [d.line for d in diags]
    assert lines == sorted(lines)
    messages = " | ".join(d.message for d in diags)
    assert "never used" in messages  # rules (globals)
    assert "command injection" in messages  # security
    assert "which is not defined" in messages  # structure
    assert "Missing task(s) [1]" in messages  # flow (gaps)
    assert gc.isenabled()
    quiet = validate_task_file(load(text), skip_security=True)
    assert "command injection" not in " | ".join(d.message for d in quiet)


def test_check_task_file_raises_on_errors_and_logs_warnings():
    from tasker.syntax.diagnostics import TaskFileError
    from tasker.validate.pipeline import check_task_file

    class Log:
        def __init__(self):
            self.lines = []

        def debug(self, text):
            self.lines.append(text)

        def mask(self, text):
            return text

    log = Log()
    warnings = check_task_file(load("X=1\n" + T0), log)
    assert [w.line for w in warnings] == [1]
    assert log.lines == ["# WARNING: Line 1: Global variable X=1 is defined but never used"]
    with pytest.raises(TaskFileError) as info:
        check_task_file(load(T0 + "return=x\n"), Log())
    assert info.value.diagnostics[0].line == 4


def test_configured_exec_types_are_not_unknown():
    """Types of execution_types.yaml are known to the rule (any case), others still warn."""
    from tasker.validate.rules import KNOWN_EXEC

    text = T0 + "exec=Sudo\n\ntask=1\nhostname=h\ncommand=echo\nexec=other\n"
    opts = RuleOptions(known_exec=frozenset(KNOWN_EXEC + ("sudo",)))
    warned = [d for d in rule_diagnostics(load(text), opts) if "unknown exec type" in d.message]
    assert [(d.line, d.message) for d in warned] == [(9, "Task 1: unknown exec type 'other'")]
    assert "sudo" in warned[0].hint


def test_block_next_with_success_and_both_max_parallel_warnings():
    text = ("task=0\ntype=parallel\ntasks=1,2\nsuccess=all_success\nnext=loop\nloop=2\n"
            "max_parallel=25\ntask=1\nhostname=h\ncommand=x\ntask=2\nhostname=h\ncommand=y\n")
    diags = found(text)
    assert has(diags, 5, 6, "warning", "next is ignored on a block with success=")
    assert has(diags, 7, 14, "warning", "max_parallel=25 is above 20")
    assert has(diags, 7, 14, "warning", "max_parallel=25 is more than the 2 sub-tasks")


def _located(text):
    from tasker.validate.pipeline import validate_task_file

    tf = load(text)
    return [(d.line, d.column, d.message, d.hint) for d in validate_task_file(tf) if d.is_error]


def test_an_empty_hostname_or_command_is_reported_at_its_value():
    """II.8.1: written but empty is an error at the field, not a missing field."""
    (d,) = _located("task=0\nhostname=\ncommand=echo\nexec=pbrun\n")
    assert d[:3] == (2, 10, "Task 0: hostname is empty")
    (d,) = _located("task=0\nhostname=h\ncommand=\n")
    assert d[:3] == (3, 9, "Task 0: command is empty")
    (d,) = _located("task=0\ncommand=echo\n")
    assert d[:3] == (1, 1, "Task 0 is missing required 'hostname' field")


def test_a_decision_block_timeout_hint_does_not_mention_sub_tasks():
    text = "task=0\ntype=decision\nsuccess=true\ntimeout=10\n"
    (d,) = [d for d in _located(text) if "timeout" in d[2]]
    assert d[3] == "a decision block runs no command: remove it"


def _reference_distance(a: str, b: str) -> int:
    """Optimal string alignment distance, by the textbook table (the reference)."""
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1,
                          d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


@settings(max_examples=400, deadline=None)
@given(st.text("abc_", max_size=7), st.text("abc_", max_size=7))
def test_one_edit_apart_agrees_with_the_distance_table(a, b):
    from tasker.validate.rules import one_edit_apart

    assert one_edit_apart(a, b) == (_reference_distance(a, b) == 1)


def test_hint_only_for_keys_one_edit_away():
    hints = {d[3]: d[4] for d in found(T0 + "on_succes=4\nhostnmae=x\nsuccesss=1\nrtry=2\n")}
    assert hints["Task 0 has unknown field 'on_succes'; it is ignored"] == \
        "did you mean `on_success`?"
    assert hints["Task 0 has unknown field 'hostnmae'; it is ignored"] == \
        "did you mean `hostname`?"
    assert hints["Task 0 has unknown field 'successs'; it is ignored"] == \
        "did you mean `success`?"
    assert hints["Task 0 has unknown field 'rtry'; it is ignored"] == "keys are case-sensitive"
