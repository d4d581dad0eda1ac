"""Words of an arguments template: the template's quotes split it, results are data (I.4a)."""

import io
import re
import shlex
import threading

import pytest
from hypothesis import assume, given, settings, strategies as st

from tasker.engine.context import EngineOptions, RunContext
from tasker.engine.sequential import run_workflow
from tasker.engine.variables import Variables
from tasker.exec.base import CommandResult
from tasker.exec.config import load_exec_config
from tasker.exec.exectypes import ExecType, build_argv
from tasker.exec.words import ArgumentsError, compile_words, fill_text, fill_words, split_arguments
from tasker.interrupt import Interrupt
from tasker.report.console import log_events
from tasker.report.logger import Log
from tasker.results import SUCCESS, TaskResult
from tasker.syntax.placeholders import ResultRef, arguments_template
from tasker.syntax.taskfile import LoadOptions, build_task_file

OUT = ResultRef("@0_stdout@", 0, "stdout")
# Any text a command can print but NUL (which no argv can carry).
OUTPUTS = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
                  max_size=40)
HOSTILE = st.text(alphabet=" \t\n\r'\"\\$@{}a_0;|`*", max_size=20)
TEMPLATE_TEXT = st.text(alphabet="ab \t\r\n\"'\\#$@", max_size=14)


def blank_pieces(text):
    """What the issue promises a result outside quotes becomes: its blank-separated pieces."""
    return [p for p in re.split("[ \t\n]+", text) if p]


def words_of(pieces, value):
    return fill_words(compile_words(pieces), lambda slot: value)


# ---- the template's own text is split as shlex splits it -------------------------------
@settings(max_examples=600, deadline=None)
@given(TEMPLATE_TEXT)
def test_template_text_splits_as_shlex_does(text):
    try:
        expected = shlex.split(text, posix=True)
    except ValueError:
        with pytest.raises(ArgumentsError) as info:
            split_arguments(text)
        assert text[info.value.column - 1] in "\"'\\"
    else:
        assert split_arguments(text) == expected


@pytest.mark.parametrize("text, words", [
    ("a\\\nb", ["a\nb"]),  # (shlex: an escaped newline is a character, not a continuation)
    ('"a\\$b\\`c"', ["a\\$b\\`c"]),  # (inside "..." only \" and \\ are escapes, as in shlex)
    ("a\rb", ["a", "b"]),  # CR separates words of the template
    ("'it''s'", ["its"]),
])
def test_template_rules_kept_from_shlex(text, words):
    assert split_arguments(text) == words == shlex.split(text, posix=True)


# ---- a result is data --------------------------------------------------------------------
@settings(max_examples=500, deadline=None)
@given(OUTPUTS)
def test_unquoted_result_gives_its_blank_separated_pieces(output):
    assert words_of((OUT,), output) == blank_pieces(output)


@settings(max_examples=500, deadline=None)
@given(OUTPUTS, st.sampled_from(['"', "'"]))
def test_quoted_result_is_one_word_verbatim(output, quote):
    assert words_of((quote, OUT, quote), output) == [output]


@settings(max_examples=300, deadline=None)
@given(OUTPUTS, st.sampled_from(["pre", "", "-x="]), st.sampled_from(["post", ""]))
def test_result_joins_its_neighbours(output, before, after):
    """`pre@0_stdout@post`: the first piece joins `pre`, the last joins `post`."""
    assert words_of((before, OUT, after), output) == blank_pieces(before + output + after)


@settings(max_examples=300, deadline=None)
@given(TEMPLATE_TEXT, st.from_regex(r"[a-z0-9.=/-]{1,8}", fullmatch=True), st.data())
def test_a_plain_result_gives_what_pasting_it_gave(template, output, data):
    """Compatibility: an output without blanks, quotes or backslashes gives the words it
    gave when it was pasted into the text and the text split (today's files keep working)."""
    at = data.draw(st.integers(0, len(template)))
    before, after = template[:at], template[at:]
    assume(not before.endswith("\\"))  # (a backslash before a slot escapes nothing now)
    try:
        expected = shlex.split(before + output + after, posix=True)
    except ValueError:
        with pytest.raises(ArgumentsError):
            compile_words((before, OUT, after))
        return
    assert words_of((before, OUT, after), output) == expected


@settings(max_examples=300, deadline=None)
@given(HOSTILE)
def test_a_result_never_unbalances_the_template(output):
    for pieces in [(OUT,), ("-m ", OUT), ('"', OUT, '"'), ("'", OUT, "'"), ("a\\", OUT)]:
        words_of(pieces, output)  # no ArgumentsError, whatever the output holds


@pytest.mark.parametrize("pieces, words", [
    ((OUT,), []),  # an empty result outside quotes adds no word
    (("a ", OUT, " b"), ["a", "b"]),
    (('"', OUT, '"'), [""]),  # inside quotes: one empty word
    (("'", OUT, "'"), [""]),
    (("pre", OUT, "post"), ["prepost"]),
])
def test_empty_result(pieces, words):
    assert words_of(pieces, "") == words


@pytest.mark.parametrize("output, words", [
    ("$HOME ${PATH}", ["$HOME", "${PATH}"]),
    ("a b' 'c --rm-all", ["a", "b'", "'c", "--rm-all"]),
    ("it's", ["it's"]),
    ('"x y"', ['"x', 'y"']),
    ("back\\slash \\", ["back\\slash", "\\"]),
    ("@0_stdout@ @SOME_GLOBAL@", ["@0_stdout@", "@SOME_GLOBAL@"]),
    ("a\tb\nc\rd", ["a", "b", "c\rd"]),  # only space, tab and newline cut a result
    ("x\u00a0y", ["x\u00a0y"]),
])
def test_hostile_outputs(output, words):
    assert words_of((OUT,), output) == words
    assert words_of(('"', OUT, '"'), output) == [output]


def test_backslash_before_a_slot_escapes_nothing():
    assert words_of(("a\\", OUT), " b") == ["a", "b"]
    assert words_of(('"\\', OUT, '"'), "b") == ["\\b"]  # inside "...": kept, as before '@'


def test_unbalanced_template_is_reported_with_its_column():
    with pytest.raises(ArgumentsError) as info:
        compile_words(("-m ", OUT, ' "x'))
    assert info.value.column == 15  # (the slot counts as the 10 characters of its text)
    with pytest.raises(ArgumentsError):
        compile_words(("a ", OUT, " b\\"))


def test_fill_text_inserts_verbatim():
    assert fill_text(("x ", OUT, " 'y'"), lambda slot: "a'b $HOME") == "x a'b $HOME 'y'"


# ---- the template: `$VAR`s and globals in, one pass -------------------------------------
def template(raw, environ=None, values=None):
    return arguments_template(raw, environ or {}, values or {})


def test_template_of_plain_text():
    assert template("") == ()
    assert template("-l 'a b'") == ("-l 'a b'",)


def test_template_slots_for_results_in_the_text_and_in_globals():
    pieces = template("x @1_stdout@ @G@ @2_foo@ @3_EXIT@", values={"G": "'@1_exit@'"})
    assert pieces == ("x ", ResultRef("@1_stdout@", 1, "stdout"), " '",
                      ResultRef("@1_exit@", 1, "exit"), "' @2_foo@ ",
                      ResultRef("@3_EXIT@", 3, "exit"))


def test_environment_values_are_not_searched_for_placeholders():
    pieces = template("$V ${W} @G@", {"V": "@1_stdout@", "W": "@G@"}, {"G": "g"})
    assert pieces == ("@1_stdout@ @G@ g",)


def test_global_values_are_not_environment_expanded_again():
    assert template("@G@ $H", {"H": "h", "Y": "secret"}, {"G": "$Y"}) == ("$Y h",)


def test_global_chains_and_undefined_names():
    assert template("@A@ @NOPE@ $UNSET", values={"A": "@B@", "B": "b"}) == ("b @NOPE@ $UNSET",)


def test_single_quotes_do_not_protect_placeholders():
    pieces = template("'$H @G@ @0_stdout@'", {"H": "h"}, {"G": "g"})
    assert words_of(pieces, "o u") == ["h g o u"]


# ---- stored results fill the slots ------------------------------------------------------
def test_variables_fill_slots_verbatim_or_keep_the_reference():
    variables = Variables({0: TaskResult(0, 0, stdout="a 'b'\n\n", status=SUCCESS)})
    assert variables.fill(OUT) == "a 'b'"
    assert variables.fill(ResultRef("@7_stdout@", 7, "stdout")) == "@7_stdout@"
    assert words_of((ResultRef("@7_stdout@", 7, "stdout"),), variables.fill(
        ResultRef("@7_stdout@", 7, "stdout"))) == ["@7_stdout@"]


def test_build_argv_takes_words_for_the_split_element():
    xtype = ExecType("t", "tool", ("{binary}", "{hostname}", "{arguments_split}", "[{arguments}]"))
    assert build_argv(xtype, "h", "c", "a 'b c'", ["x", "y z"]) == (
        "tool", "h", "x", "y z", "[a 'b c']")
    assert build_argv(xtype, "h", "c", "a 'b c'") == ("tool", "h", "a", "b c", "[a 'b c']")


# ---- through the engine: what the executor receives -------------------------------------
class Recorder:
    """A fake executor: task 0's command prints `output`; every argv is recorded."""

    def __init__(self, output):
        self.output, self.calls = output, []

    def run(self, spec, cancel: threading.Event) -> CommandResult:
        self.calls.append(spec.argv)
        return CommandResult(0, self.output if spec.argv[0] == "producer" else "", "", 0.0)


def run_pair(output, arguments, exec_type="local", environ=None, header=""):
    text = (f"{header}task=0\nhostname=localhost\nexec=local\ncommand=producer\n\n"
            f"task=1\nhostname=db1\nexec={exec_type}\ncommand=consumer\narguments={arguments}\n")
    environ = environ or {}
    tf = build_task_file("t.txt", text, LoadOptions(environ=environ))
    ex = Recorder(output)
    ctx = RunContext(taskfile=tf, options=EngineOptions(dry_run=False, environ=environ),
                     exec_config=load_exec_config([]), executor=ex,
                     events=log_events(Log(stream=io.StringIO())),
                     interrupt=Interrupt())
    outcome = run_workflow(ctx)
    assert outcome.exit_code == 0
    return ex.calls[1]


@settings(max_examples=150, deadline=None)
@given(OUTPUTS)
def test_words_a_later_task_receives(output):
    output = output.rstrip("\n")  # (a stored output loses its trailing newlines)
    argv = run_pair(output, '@0_stdout@ "@0_stdout@"')
    assert list(argv[1:]) == blank_pieces(output) + [output]


@pytest.mark.parametrize("exec_type, prefix", [
    ("pbrun", ("pbrun", "-n", "-h", "db1", "consumer")),
    ("p7s", ("p7s", "db1", "consumer")),
    ("wwrs", ("wwrs_clir", "db1", "consumer")),
])
def test_wrappers_receive_the_same_words(exec_type, prefix):
    argv = run_pair("a b' 'c --rm-all", "-x @0_stdout@", exec_type)
    assert argv == prefix + ("-x", "a", "b'", "'c", "--rm-all")


def test_shell_line_takes_the_result_as_written():
    argv = run_pair("a b' 'c $HOME", "-x @0_stdout@", "shell", {"HOME": "/h"})
    assert argv == ("/bin/bash", "-c", "consumer -x a b' 'c $HOME")


def test_environment_is_expanded_in_the_written_text_only():
    env = {"HOME": "/h", "DB_PASS": "hunter2", "X": "$DB_PASS"}
    argv = run_pair("$DB_PASS ${DB_PASS}", "$HOME/@0_stdout@ @G@ $X", environ=env,
                    header="G=$X\n")
    assert argv == ("consumer", "/h/$DB_PASS", "${DB_PASS}", "$DB_PASS", "$DB_PASS")


def test_an_apostrophe_in_a_result_does_not_fail_the_next_task():
    assert run_pair("it's", "--name=@0_stdout@") == ("consumer", "--name=it's")


# ---- validation warns where a shell line takes a result ---------------------------------
def shell_warnings(text):
    from tasker.validate.security import security_diagnostics

    tf = build_task_file("t.txt", text, LoadOptions())
    return [(d.line, d.column, d.message, d.hint) for d in security_diagnostics(tf)
            if "into a shell command line" in d.message]


PRODUCER = "task=0\nhostname=localhost\nexec=local\ncommand=date\n\n"


@pytest.mark.parametrize("exec_type", ["shell", "bash", "sh", "/bin/bash", "/bin/sh", "cmd",
                                       "SHELL"])
def test_a_result_in_a_shell_line_warns_at_its_place(exec_type):
    text = PRODUCER + f"task=1\nhostname=localhost\nexec={exec_type}\ncommand=echo\n" \
        "arguments=x @0_stdout@\n"
    ((line, column, message, hint),) = shell_warnings(text)
    assert (line, column) == (10, 13)
    assert message.startswith("Task 1: arguments puts the task result @0_stdout@ into a shell")
    assert "exec=local" in hint and '"@N_stdout@"' in hint


def test_one_warning_per_task_command_first():
    text = PRODUCER + "task=1\nhostname=localhost\nexec=shell\ncommand=@0_stdout@\n" \
        "arguments=@0_stderr@\n"
    assert [(line, column) for line, column, *_ in shell_warnings(text)] == [(9, 9)]


def test_a_result_brought_in_by_a_global_warns_at_the_global():
    text = "G=@0_stdout@\n" + PRODUCER + "task=1\nhostname=localhost\nexec=shell\n" \
        "command=echo\narguments=a @G@\n"
    ((line, column, message, _),) = shell_warnings(text)
    assert (line, column) == (11, 13) and "@0_stdout@" in message


@pytest.mark.parametrize("exec_type, arguments", [
    ("local", "@0_stdout@"), ("pbrun", "@0_stdout@"),  # results are words there
    ("shell", "@G@ $HOME"), ("shell", "@0_foo@"),  # no task result
])
def test_no_warning_without_a_result_in_a_shell_line(exec_type, arguments):
    text = "G=g\n" + PRODUCER + f"task=1\nhostname=localhost\nexec={exec_type}\n" \
        f"command=echo\narguments={arguments}\n"
    assert shell_warnings(text) == []
