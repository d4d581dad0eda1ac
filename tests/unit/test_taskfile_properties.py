"""Properties of the loader: any text gives a TaskFile or a located TaskFileError."""

from functools import lru_cache

from hypothesis import HealthCheck, given, settings, strategies as st

from tasker.syntax import lines as L
from tasker.syntax.diagnostics import TaskFileError
from tasker.syntax.taskfile import LoadOptions, build_task_file

KEYS = ["task", "hostname", "command", "arguments", "exec", "success", "next", "condition",
        "on_success", "on_failure", "loop", "return", "type", "GLOBAL", "timeout"]
VALUES = st.text(alphabet=st.sampled_from(list("0123456789abc_@&|()!~=<>\"' -,#$")),
                 max_size=30)
LINE = st.one_of(
    st.builds(lambda k, v: f"{k}={v}", st.sampled_from(KEYS), VALUES),
    st.text(max_size=40),
    st.sampled_from(["", "# comment", "-r", "task=0", "task=1", "return=0"]),
)


def load(text):
    return build_task_file("f.txt", text, LoadOptions())


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(LINE, max_size=25))
def test_any_file_loads_or_fails_with_a_located_error(lines):
    text = "\n".join(lines)
    try:
        tf = load(text)
    except TaskFileError as exc:
        assert exc.diagnostics
        for d in exc.diagnostics:
            assert 1 <= d.line <= text.count("\n") + 1
            assert d.column >= 1
            assert d.render("f.txt").startswith(f"f.txt:{d.line}:{d.column}: error: ")
    else:
        assert all(isinstance(tid, int) for tid in tf.tasks)


@settings(max_examples=200)
@given(st.text(max_size=300))
def test_random_text_never_raises_anything_else(text):
    try:
        load(text)
    except TaskFileError:
        pass


PAIRISH = st.text(alphabet=st.sampled_from(list("ab=#-_ \t\r\x0b\x1c\x85\xa0\u2028\u3000\x00")),
                  max_size=12)


def _spec_line(raw):
    """SPEC II.1.1 in plain Python: the line stripped, its kind, the column of its text."""
    body = raw.strip()
    if not body:
        return None
    kind = (L.COMMENT if body[0] == "#" else L.CLI_ARG if body[0] == "-"
            else L.PAIR if "=" in body else L.STRAY)
    return kind, body, len(raw) - len(raw.lstrip()) + 1


@settings(max_examples=500)
@given(st.lists(PAIRISH, max_size=8))
def test_the_grammar_lexes_lines_as_the_spec_reads_them(lines):
    """One token per non-blank line (lines end at "\\n" only, any Unicode blank is
    stripped), of the kind and at the column the spec says; pairs split at the first `=`."""
    text = "\n".join(lines)
    expected = [(n,) + spec for n, spec in
                ((n, _spec_line(raw)) for n, raw in enumerate(text.split("\n"), 1)) if spec]
    tokens = list(L.tokens(text))
    assert [(t.line, t.type, t.rstrip(), t.column) for t in tokens] == expected
    for tok in tokens:
        if tok.type == L.PAIR:
            key, _, value = tok.rstrip().partition("=")
            offset = len(key) + 1 + len(value) - len(value.lstrip())
            assert L.split_pair(tok, tok.column) == (key.strip(), value.strip(),
                                                     tok.column + offset)


GLOBAL_LINE = st.sampled_from(["G=g", "H=@G@h", "task=x", "task=1", "task=2", "task=2",
                               "arguments=@G@ @H@", "command=@1_stdout@@G@", "success=@G@=g",
                               "hostname=a@G@", "# @G@", "x=@UNDEFINED@"])


@settings(max_examples=300)
@given(st.lists(GLOBAL_LINE, max_size=14))
def test_global_substitution_shortcut_misses_no_task(lines):
    """Only tasks whose lines name `@NAME@` are substituted; the result is the same as
    substituting into every task."""
    import tasker.syntax.taskfile as T

    text = "\n".join(lines)

    def everything(text, raw):
        return {tid for tid, *_ in raw}

    results = []
    for scan in (T._tasks_naming_globals, everything):
        original = T._tasks_naming_globals
        T._tasks_naming_globals = scan
        try:
            results.append(load(text))
        except TaskFileError as exc:
            results.append([d.message for d in exc.diagnostics])
        finally:
            T._tasks_naming_globals = original
    assert results[0] == results[1]


@lru_cache(maxsize=None)
def _whole_grammar():
    from lark import Lark

    from tasker.grammar_loader import load_grammar

    return Lark(load_grammar("taskfile"), parser="lalr")


@settings(max_examples=200)
@given(st.lists(PAIRISH, max_size=8))
def test_the_grammars_start_rule_parses_what_the_lexer_reads(lines):
    """The whole grammar is a definition of a file: its `start` rule, parsed with LALR,
    accepts any text, and its lines are the lexer's tokens in order."""
    text = "\n".join(lines)
    tree = _whole_grammar().parse(text)
    assert [(line.data.upper(), line.children[0]) for line in tree.children] == \
        [(tok.type, str(tok)) for tok in L.tokens(text)]
