"""Diagnostics stay readable on hostile input: masked before cut, bounded, repeats counted."""

import pytest

from tasker.syntax.diagnostics import (
    MAX_MESSAGE,
    MAX_OF_A_KIND,
    MAX_SHOWN,
    TaskFileError,
    error,
    limit_repeats,
    render_all,
    warning,
)
from tasker.syntax.taskfile import LoadOptions, build_task_file, global_cycles


def load(text, **kw):
    return build_task_file("t.txt", text, LoadOptions(**kw))


def test_a_huge_source_line_shows_a_window_around_the_column():
    line = "a" * 5000 + "X" + "b" * 5000
    text = error("bad X", 1, 5001, source=line).render("f.txt")
    shown, caret = text.splitlines()[1:3]
    assert len(shown) <= MAX_SHOWN + 6 and shown.startswith("    …") and shown.endswith("…")
    assert shown[caret.index("^")] == "X"


def test_a_short_line_is_shown_whole_with_its_caret():
    text = error("bad", 2, 3, source="ab=cd").render("f.txt").splitlines()
    assert text[1:] == ["    ab=cd", "      ^"]


def test_a_huge_message_keeps_its_start_and_end():
    message = "Task ID '" + "9x" * 100_000 + "' is not a valid integer"
    rendered = error(message, 1, 6).render("f.txt").splitlines()[0]
    assert len(rendered) < MAX_MESSAGE + 40
    assert rendered.endswith("is not a valid integer") and "Task ID '9x" in rendered


@pytest.mark.parametrize("offset", range(150, 170))
def test_a_secret_is_masked_before_the_line_is_cut(offset):
    secret = "hunter2secret"
    line = "v=" + "x" * offset + secret + "y" * 400
    mask = lambda text: text.replace(secret, "****")  # noqa: E731
    text = error("bad", 1, 3, source=line).render("f.txt", mask)
    for start in range(len(secret) - 3):
        assert secret[start:start + 4] not in text


def test_past_twenty_of_a_kind_the_rest_are_counted():
    found = [warning("this line is not a key=value pair and is ignored", n, 1)
             for n in range(1, 1001)]
    found.append(warning("Global variable X=1 is defined but never used", 2000, 1))
    shown, more = limit_repeats(found)
    assert len(shown) == MAX_OF_A_KIND + 1
    ((first, count),) = more.values()
    assert (first.line, count) == (MAX_OF_A_KIND + 1, 1000 - MAX_OF_A_KIND)
    out = render_all("f.txt", found)
    assert out[-1].startswith(f"... and {1000 - MAX_OF_A_KIND} more warnings like")


def test_kinds_ignore_quoted_values_and_numbers():
    a = error("Task 3: timeout must be a whole number of seconds, not 'x'", 1, 1)
    b = error("Task 44: timeout must be a whole number of seconds, not 'yy'", 9, 1)
    assert a.kind == b.kind
    assert a.kind != warning(a.message).kind


@pytest.mark.parametrize("values,expected", [
    ({"A": "@B@", "B": "@A@"}, [["A", "B", "A"]]),
    ({"S": "pre@S@post"}, [["S", "S"]]),
    ({"C": "@D@", "D": "@E@", "E": "@C@", "X": "@C@"}, [["C", "D", "E", "C"]]),
    ({"A": "@B@ @C@", "B": "@C@", "C": "1"}, []),
    ({"A": "@UNDEFINED@"}, []),
])
def test_global_cycles(values, expected):
    assert global_cycles(values) == expected


def test_a_cycle_among_globals_is_a_located_load_error():
    with pytest.raises(TaskFileError) as info:
        load("A=@B@\nB=@A@\nOK=1\ntask=0\nhostname=h\ncommand=echo\narguments=@A@\n")
    (d,) = info.value.diagnostics
    assert (d.line, d.column) == (1, 3)
    assert "A -> B -> A" in d.message


def test_set_can_break_a_cycle_and_can_make_one():
    load("A=@B@\nB=@A@\ntask=0\nhostname=h\ncommand=echo\n", overrides={"B": "plain"})
    with pytest.raises(TaskFileError) as info:
        load("A=@B@\ntask=0\nhostname=h\ncommand=echo\n", overrides={"B": "@A@"})
    assert "B -> A -> B" in info.value.diagnostics[0].message or \
        "A -> B -> A" in info.value.diagnostics[0].message


def test_a_load_error_carries_the_globals_for_masking():
    with pytest.raises(TaskFileError) as info:
        load("SECRET_X=exit_0&&topsecret\ntask=0\nhostname=h\ncommand=echo\n"
             "success=@SECRET_X@\n")
    assert info.value.global_values["SECRET_X"] == "exit_0&&topsecret"


def test_a_did_you_mean_warning_is_never_counted_away() -> None:
    """25 unknown fields, the 23rd a typo of a real key: it is shown, the rest counted."""
    found = [warning(f"Task 0 has unknown field 'junk{n}'; it is ignored", n, 1,
                     hint="keys are case-sensitive") for n in range(1, 26)]
    found[22] = warning("Task 0 has unknown field 'on_sucess'; it is ignored", 23, 1,
                        hint="did you mean `on_success`?")
    out = render_all("f.txt", found)
    assert "'on_sucess'; it is ignored\n    hint: did you mean `on_success`?" in "\n".join(out)
    assert out[-1].startswith("... and 4 more warnings like")
    typo = error("Task 0: bad condition", 30, 1, hint="did you mean '|' (OR) instead of ','?")
    shown, more = limit_repeats([typo] * (MAX_OF_A_KIND + 2))  # (errors: counted as before)
    assert len(shown) == MAX_OF_A_KIND and list(more.values())[0][1] == 2
