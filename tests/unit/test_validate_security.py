"""Security rules (SPEC II.8.3): snippet -> (line, column, severity, message fragment)."""

import pytest
from hypothesis import given, settings, strategies as st

from tasker.syntax.taskfile import LoadOptions, build_task_file
from tasker.validate.security import (
    CHECKED_FIELDS as CHECKED,
    exec_type,
    global_security_diagnostics,
    security_diagnostics,
)


def load(text, **kw):
    return build_task_file("t.txt", text, LoadOptions(**kw))


def task(hostname="localhost", command="echo", arguments=None, exec_=None):
    text = f"task=0\nhostname={hostname}\ncommand={command}\n"
    if arguments is not None:
        text += f"arguments={arguments}\n"
    if exec_ is not None:
        text += f"exec={exec_}\n"
    return text


def found(text):
    return [(d.line, d.column, d.severity, d.message, d.hint)
            for d in security_diagnostics(load(text))]


def has(diags, line, col, severity, fragment):
    return any(d[:3] == (line, col, severity) and fragment in d[3] for d in diags)


CASES = [
    # hostname: empty with exec=local (the required-field rule covers other exec types)
    (task(hostname="", exec_="local"), 2, 10, "error", "hostname is empty"),
    # an '@' that is not a placeholder neither silences the character warning nor the limit
    (task(hostname="bob@db1:2222"), 2, 13, "warning", "has characters other than"),
    (task(hostname="ab" * 130 + "@x"), 2, 263, "error", "262 characters long (at most 253)"),
    # a non-ASCII blank: the pre-check must not hide what the pattern finds
    (task(arguments="su\u00a0root"), 4, 11, "warning", "suspicious pattern"),
    # arguments: injection (exec != shell), traversal (any exec), length, NUL
    (task(arguments="hello; rm -rf /tmp/*"), 4, 16, "error", "';' followed by another command"),
    (task(arguments="; rm -rf /"), 4, 11, "error", "looks like command injection"),
    (task(arguments="x | nc evil 80"), 4, 13, "error", "a pipe into nc"),
    (task(arguments="$(whoami)"), 4, 11, "error", "command substitution $(...)"),
    (task(arguments="a `id` b"), 4, 13, "error", "command substitution `...`"),
    (task(arguments="a && rm x"), 4, 13, "error", "'&& rm'"),
    (task(arguments="a || curl x"), 4, 13, "error", "'|| curl'"),
    (task(arguments="a > /dev/sda"), 4, 13, "error", "redirection"),
    (task(arguments="../../../etc/passwd"), 4, 11, "error", "path-traversal"),
    (task(arguments="x %2e%2e%2fetc", exec_="shell"), 4, 13, "error", "path-traversal"),
    (task(arguments="C:\\Windows\\system32"), 4, 11, "error", "path-traversal"),
    (task(arguments="a" * 2001), 4, 2011, "error", "2001 characters long (at most 2000)"),
    (task(arguments="a\x00b"), 4, 12, "error", "NUL byte"),
    # command: metacharacters unless shell
    (task(command="echo; cat /etc/passwd"), 3, 13, "error", "shell metacharacter ';'"),
    (task(command="echo | curl x"), 3, 14, "error", "shell metacharacter '|'"),
    (task(command="$HOME/bin/x"), 3, 9, "error", "shell metacharacter '$'"),
    (task(command="x" * 4097), 3, 4105, "error", "4097 characters long (at most 4096)"),
    # hostname: metacharacters always, length, unusual characters
    (task(hostname="localhost\\x00.malicious.com"), 2, 19, "error", "metacharacter '\\'"),
    (task(hostname="a;b", exec_="shell"), 2, 11, "error", "metacharacter ';'"),
    (task(hostname="h" * 254), 2, 263, "error", "254 characters long (at most 253)"),
    (task(hostname="web_1"), 2, 13, "warning", "other than letters, digits"),
    # warnings
    (task(arguments="sudo ls"), 4, 11, "warning", "suspicious"),
    (task(arguments="-x /bin/bash"), 4, 14, "warning", "suspicious"),
    (task(arguments="rm -rf /", exec_="shell"), 4, 11, "warning", "dangerous"),
    (task(command="mkfs.ext4"), 3, 9, "warning", "dangerous"),
    (task(arguments="+%s"), 4, 12, "warning", "format-string"),
    (task(arguments="a%20b"), 4, 12, "warning", "encoded character"),
    (task(arguments="x" * 150), 4, 11, "warning", "repeated character"),
]


@pytest.mark.parametrize("text, line, col, severity, fragment", CASES)
def test_findings(text, line, col, severity, fragment):
    diags = found(text)
    assert has(diags, line, col, severity, fragment), diags


CLEAN = [
    task(arguments="hello; rm -rf /tmp/x", exec_="shell"),
    task(arguments="a | nc x 1", exec_="BASH"),
    task(arguments="a > /dev/null", exec_="/bin/sh"),
    task(command="ps aux | grep x", exec_="sh"),
    task(command="echo", arguments="-c \"echo hi > /dev/null; cat f\""),
    task(arguments="Hello, world 100%"),
    task(hostname="user@db1.example.com:2222", exec_="ssh"),
    task(hostname="@0_stdout@"),
    task(hostname="db-1.example.com", arguments="--id @0_stdout@"),
]


@pytest.mark.parametrize("text", CLEAN)
def test_clean(text):
    assert found(text) == []


def test_injection_error_has_a_shell_hint():
    (d,) = [d for d in found(task(arguments="a; rm b")) if d[2] == "error"]
    assert d[4] == "use exec=shell if you need a pipe or redirection"


def test_after_substituting_globals_points_at_the_field():
    diags = found("CMD=ls|x\n" + task(command="@CMD@"))
    assert has(diags, 4, 9, "error", "metacharacter '|' (after substituting globals)")


def test_arguments_are_checked_after_expanding_the_environment():
    """The run expands $VAR in arguments; what it would pass is checked too (II.2.1)."""
    tf = load(task(arguments="${EVIL} ok", exec_="pbrun"))
    bad = [(d.line, d.column, d.message) for d in
           security_diagnostics(tf, {"EVIL": "x; rm -rf /tmp/y"}) if d.is_error]
    assert bad == [(4, 11, "Task 0: arguments contains a ';' followed by another command, "
                    "which looks like command injection (after expanding environment "
                    "variables)")]
    assert not security_diagnostics(tf, {"EVIL": "hello"})
    assert not security_diagnostics(load(task(arguments="${EVIL}", exec_="shell")),
                                    {"EVIL": "a; b"})  # a shell may run a sequence


def test_hostname_limit_is_for_names_written_out():
    """SPEC 1.5: 253 characters "with no @VAR@ inside"."""
    long_name = ".".join(["a" * 60] * 5)  # 304 characters of valid labels
    assert not [d for d in found(f"H={long_name}\n" + task(hostname="@H@")) if d[2] == "error"]
    assert has(found(task(hostname=long_name)), 2, 263, "error", "is 304 characters long")


@pytest.mark.parametrize("value, expected", [
    (None, "local"), ("SHELL", "shell"), ("/bin/bash", "shell"), ("cmd", "shell"),
    ("pbrun", "pbrun"), ("@X@", "local"),
])
def test_exec_type(value, expected):
    tf = load(task(exec_=value) if value != "@X@" else task() + "exec=@1_stdout@\n")
    assert exec_type(tf.tasks[0]) == expected


def test_generated_subtasks_are_checked_through_their_block():
    tf = load("task=1\ntype=parallel\nhostnames=a,b\ncommand=echo|x\n")
    diags = security_diagnostics(tf)
    assert [(d.line, d.column) for d in diags if d.is_error] == [(4, 13)]


GLOBALS = [
    ("MALICIOUS_VAR=test; cat /etc/passwd; echo\n", 1, 19, "error", "another command"),
    ("INJECTION_VAR=$(whoami)\n", 1, 15, "error", "command substitution $(...)"),
    ("BACKTICK_VAR=`cat /etc/passwd`\n", 1, 14, "error", "command substitution `...`"),
    ("BASE=../data\n", 1, 6, "error", "path-traversal"),
    ("NUL=a\x00b\n", 1, 6, "error", "NUL byte"),
    ("SCRIPT=sudo x\n", 1, 8, "warning", "suspicious"),
]


@pytest.mark.parametrize("text, line, col, severity, fragment", GLOBALS)
def test_global_findings(text, line, col, severity, fragment):
    diags = [(d.line, d.column, d.severity, d.message, d.hint)
             for d in global_security_diagnostics(load(text + "task=0\nreturn=0\n"))]
    assert has(diags, line, col, severity, fragment), diags


def test_global_checks_use_the_expanded_value():
    tf = load("P=$DIR/x\ntask=0\nreturn=0\n", environ={"DIR": "../.."})
    (d,) = global_security_diagnostics(tf)
    assert (d.line, d.column, d.is_error) == (1, 3, True)


def test_secret_global_source_is_masked():
    tf = load("DB_PASSWORD=pw$(id)\ntask=0\nreturn=0\n")
    (d,) = global_security_diagnostics(tf)
    rendered = d.render("t.txt")
    assert "pw$(id)" not in rendered and "    DB_PASSWORD=****\n" in rendered


def test_set_override_is_checked_without_a_location():
    tf = load("task=0\nreturn=0\n", overrides={"X": "$(id)"})
    (d,) = global_security_diagnostics(tf)
    assert d.line == 0 and "from --set" in d.message


@pytest.mark.parametrize("text", [
    "a;rm x", "a|nc x", "$(x)", "`x`", "a&&rm b", "a||curl b", ">/dev/x", "../", "..\\",
    "%2e%2e%2f", "/etc/passwd", "/proc/version", "C:\\Windows\\x", "/bin/zsh", "PERL x",
    "eval(", "system(\"", "chmod 755", "chown x", "sudo x", "su\tx", "rm  -rf /", "mkfs.x",
    "dd if=a of=/dev/sda", "%n", "%41", "\\x41", "\\u0041", "a\x00",
])
def test_pre_check_lets_every_pattern_through(text):
    from tasker.validate.security import suspect, value_findings

    assert list(value_findings("arguments", text, False, 2000)), text
    assert suspect(text)


def test_empty_hostname_is_left_to_the_required_field_rule_for_remote_types():
    assert found(task(hostname="", exec_="pbrun")) == []


def test_arguments_over_the_general_limit_are_reported_once():
    """8192 is the general limit (a rule); the security limit of 2000 stays quiet then."""
    from tasker.validate.pipeline import validate_task_file

    tf = load(task(arguments="a b" * 3000, exec_="shell"))
    lengths = [d.message for d in validate_task_file(tf) if "characters long" in d.message]
    assert lengths == ["Task 0: arguments is 9000 characters long (at most 8192)"]
    tf = load(task(arguments="a b" * 3000, exec_="shell"))
    skipped = validate_task_file(tf, skip_security=True)
    assert [d.message for d in skipped if d.is_error] == lengths


# Pieces of the patterns' words and the blanks between them, ASCII or not: the
# pre-check must agree with the patterns on every way of gluing them together.
_PIECES = st.sampled_from([
    "su", "rm", "-rf", "/", "sudo", "chmod", "chown", "777", "python", "perl", "eval(", "dd",
    "of=/dev/", "mkfs.", "..", "/etc/", "passwd", "/bin/", "sh", "c:\\", "windows", "%",
    "2e", "n", "x41", "\\", ";", "|", "&&", "$(", "`", "<", "nc", "curl", "a", "S", "U",
    "\u017f", " ", "\t", "\u00a0", "\u2003", "\x1c", "\x00",
])


@settings(max_examples=3000, deadline=None)
@given(st.lists(_PIECES, max_size=6).map("".join), st.sampled_from(CHECKED))
def test_pre_check_never_hides_a_finding(text, key):
    """Whenever any rule finds something in a short value, the pre-check lets it through."""
    from tasker.validate.security import suspect, value_findings

    if list(value_findings(key, text, False, None)):
        assert suspect(text)


def test_a_global_replaced_by_a_later_line_or_by_set_is_still_checked():
    text = "G=$(id)\nG=fine\nH=../x\nH=ok\nK=a; rm -rf /\n" + task(arguments="@G@ @H@ @K@")
    found = global_security_diagnostics(load(text, overrides={"K": "safe"}))
    assert sorted((d.line, d.severity) for d in found if d.is_error) == [
        (1, "error"), (3, "error"), (5, "error")]
    assert not global_security_diagnostics(load("G=fine\n" + task(arguments="@G@")))
