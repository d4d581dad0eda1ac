"""The task-file loader: lines, globals, task blocks, positions and errors."""

import pytest

from tasker.syntax import lines as L
from tasker.syntax.diagnostics import TaskFileError, TaskFileUnreadable
from tasker.syntax.placeholders import expand_env_names as expand_env
from tasker.syntax.taskfile import LoadOptions, build_task_file, header_arguments


def load(text, **kw):
    return build_task_file("t.txt", text, LoadOptions(**kw))


def errors_of(text, **kw):
    with pytest.raises(TaskFileError) as info:
        load(text, **kw)
    return info.value.diagnostics


@pytest.mark.parametrize("line, kind", [
    ("# comment", L.COMMENT),
    ("   # indented comment", L.COMMENT),
    ("-r", L.CLI_ARG),
    ("--log-level=DEBUG", L.CLI_ARG),
    ("key=value", L.PAIR),
    ("  key = v=2  ", L.PAIR),
    ("=x", L.PAIR),
    ("no equals here", L.STRAY),
])
def test_line_kinds(line, kind):
    (token,) = L.tokens(line)
    assert token.type == kind and token.rstrip() == line.strip()


def test_blank_lines_are_dropped_and_positions_kept():
    got = L.tokens("\n  \n\t\n  key=v\n")
    assert [(x.line, x.column) for x in got] == [(4, 3)]


def test_pair_split_at_first_equals_with_value_column():
    (token,) = L.tokens("  timeout =  30 = x ")
    assert L.split_pair(token, token.column) == ("timeout", "30 = x", 14)


def test_globals_before_first_task_only():
    tf = load("REGION=eu\ntask=0\nhostname=h\ncommand=echo\nLATE=x\n")
    assert set(tf.globals) == {"REGION"}
    assert [f.key for f in tf.tasks[0].unknown] == ["LATE"]


def test_hostnames_in_header_is_a_global():
    assert "hostnames" in load("hostnames=a,b\ntask=0\nreturn=0\n").globals


def test_task_key_in_header_is_a_warning_not_a_global():
    tf = load("hostname=x\ntask=0\nreturn=0\n")
    assert "hostname" not in tf.globals
    assert any("outside of a task" in d.message for d in tf.warnings)


def test_globals_are_substituted_and_chained():
    tf = load("A=@B@-x\nB=bee\ntask=0\nhostname=h\ncommand=echo\narguments=@A@ @1_stdout@\n")
    f = tf.tasks[0].fields["arguments"]
    assert f.value == "bee-x @1_stdout@"
    assert f.raw == "@A@ @1_stdout@"


def test_env_expansion_in_globals():
    tf = load("P=${HOME}/x:$NOPE\ntask=0\nreturn=0\n", environ={"HOME": "/h"})
    g = tf.globals["P"]
    assert g.value == "/h/x:$NOPE" and g.unset_env == ("NOPE",)


def test_set_overrides_and_adds():
    tf = load("A=1\ntask=0\nreturn=0\n", overrides={"A": "2", "B": "3"})
    assert tf.global_values == {"A": "2", "B": "3"}


def test_strict_env_rejects_non_tasker_variables():
    diags = errors_of("P=$HOME\ntask=0\nreturn=0\n", environ={"HOME": "/h"}, strict_env=True)
    assert "strict-env" in diags[0].message


def test_duplicate_keys_later_wins():
    tf = load("task=0\nhostname=a\nhostname=b\ncommand=c\n")
    assert tf.tasks[0].get("hostname") == "b"


def test_tasks_ordered_by_id_not_position():
    tf = load("task=5\nreturn=0\ntask=1\nreturn=0\n")
    assert list(tf.tasks) == [1, 5]


def test_bad_and_duplicate_ids_are_located_errors():
    diags = errors_of("task=x\nreturn=0\ntask=1\nreturn=0\ntask=1\nreturn=0\n")
    assert [(d.line, d.column) for d in diags] == [(1, 6), (5, 6)]
    assert "not a valid integer" in diags[0].message
    assert "Task ID 1 is defined multiple times" in diags[1].message


def test_condition_syntax_error_points_inside_the_value():
    diags = errors_of("task=0\nhostname=h\ncommand=c\nsuccess=exit_0&&exit_1\n")
    assert diags[0].line == 4 and diags[0].column > len("success=")


def test_invalid_global_name():
    diags = errors_of("1BAD=x\ntask=0\nreturn=0\n")
    assert "not a valid global variable name" in diags[0].message


def test_header_arguments_stop_at_first_pair():
    text = "# c\n-r\n--log-level=DEBUG  \nA=1\n--ignored\ntask=0\n"
    assert [(a.text, a.line) for a in header_arguments(text)] == [
        ("-r", 2), ("--log-level=DEBUG", 3)]


def test_expand_env_forms():
    assert expand_env("$A ${A} $B", {"A": "1"}) == ("1 1 $B", ("B",))


def test_unreadable_file(tmp_path):
    with pytest.raises(TaskFileUnreadable):
        L.read_text(str(tmp_path / "missing.txt"))
    with pytest.raises(TaskFileUnreadable):
        L.read_text(str(tmp_path))


def test_invalid_utf8_is_located(tmp_path):
    p = tmp_path / "bad.txt"
    p.write_bytes(b"task=0\nhostname=\xff\n")
    with pytest.raises(TaskFileError) as info:
        L.read_text(str(p))
    d = info.value.diagnostics[0]
    assert (d.line, d.column) == (2, 10)


def test_diagnostic_rendering_has_caret():
    diags = errors_of("task=x\nreturn=0\n")
    text = diags[0].render("t.txt")
    assert text.splitlines()[0].startswith("t.txt:1:6: error:")
    assert text.splitlines()[2] == "    " + " " * 5 + "^"


def test_next_with_a_bare_number_is_a_located_jump_error():
    diags = errors_of("task=0\nhostname=h\ncommand=c\nnext= 5\n")
    assert len(diags) == 1
    d = diags[0]
    assert (d.line, d.column) == (4, 7)  # the "5"
    assert "Direct task jumping is not supported" in d.message
    assert "on_success" in d.hint and "on_failure" in d.hint


@pytest.mark.parametrize("tid", ["1_000", "\u0663", "5.0", "--5", "+-5"])
def test_task_ids_are_ascii_integers_only(tid):
    diags = errors_of(f"task={tid}\nreturn=0\n")
    assert [(d.line, d.column) for d in diags] == [(1, 6)]
    assert f"Task ID '{tid}' is not a valid integer" in diags[0].message
    assert list(load("task= -5 \nreturn=0\n").tasks) == [-5]  # the validator reports it
    assert list(load("task=+5\nreturn=0\n").tasks) == [5]  # as int() reads it (HEAD)


@pytest.mark.parametrize("key", ["success", "condition", "next", "failure", "loop_break"])
def test_inline_comment_in_a_condition_is_reported_as_a_comment(key):
    """II.1.1: not as an unrecognised condition, whose hint would point the wrong way."""
    (d,) = errors_of(f"task=0\nhostname=h\ncommand=c\n{key}=exit_0  # ok\n")
    assert d.message == (f"Task 0: {key} contains an inline comment ('# ok'); comments must "
                         "be on a line of their own")
    assert (d.line, d.column) == (4, len(key) + 10)


def test_condition_errors_name_their_task():
    (d,) = errors_of("task=7\nhostname=h\ncommand=c\nsuccess=exit_0&&exit_1\n")
    assert d.message.startswith("Task 7: success: ")


def test_lone_cr_ends_a_line_like_crlf_and_lf(tmp_path):
    """Old Mac files (CR only) read as Python's text mode reads them; CRLF is unchanged."""
    from tasker.syntax.taskfile import load_task_file

    body = ["task=0", "hostname=localhost", "command=echo", "arguments=a b"]
    for newline in ("\r", "\r\n", "\n"):
        path = tmp_path / "t.txt"
        path.write_bytes(newline.join(body).encode())
        tf = load_task_file(str(path), LoadOptions())
        assert tf.tasks[0].get("arguments") == "a b"
        assert tf.tasks[0].fields["arguments"].line == 4
    assert L.read_text(str(path)) == "\n".join(body)
    path.write_bytes(b"task=0\r\nx=1\r")
    assert L.read_text(str(path)) == "task=0\r\nx=1\n"


@pytest.mark.parametrize("text", ["", "\n", "a=1\n\n", "\n\n\nx=2", "a=1", "k=v\r\nq=\r\n",
                                  "  k = v \n#c\n-r\n=x\n"])
def test_one_token_per_non_blank_line(text):
    assert [tok.line for tok in L.tokens(text)] == [n for n, raw in
                                                   enumerate(text.split("\n"), 1) if raw.strip()]


def test_set_values_have_the_limits_of_globals_in_the_file():
    diags = errors_of("task=0\nreturn=0\n", overrides={"A" * 65: "1", "B": "x" * 1025})
    messages = sorted(d.message for d in diags)
    assert "at most 64 characters" in messages[0] and "1025 characters long" in messages[1]
    assert all(d.line == 0 for d in diags)
    assert load("task=0\nreturn=0\n", overrides={"A" * 64: "x" * 1024}).globals


def test_a_task_id_of_thousands_of_digits_is_a_located_error():
    import pytest as _pytest

    from tasker.syntax.diagnostics import TaskFileError

    with _pytest.raises(TaskFileError) as info:
        load("task=" + "9" * 5000 + "\nhostname=h\ncommand=x\n")
    assert info.value.diagnostics[0].line == 1
