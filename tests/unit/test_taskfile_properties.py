"""Properties of the loader: any text gives a TaskFile or a located TaskFileError."""

import pytest
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
    return build_task_file("f.txt", text, L.classify(text), LoadOptions())


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


PAIRISH = st.text(alphabet=st.sampled_from(list("ab=#-_ \t\r\x0b\xa0\u2028")), max_size=12)


@settings(max_examples=500)
@given(st.lists(PAIRISH, max_size=8))
def test_pre_split_clean_pairs_agree_with_the_grammar(lines):
    """The scanner's whole-text split of clean pairs is only a shortcut: same key, value
    and value column as classifying the line with the grammar and splitting it."""
    text = "\n".join(lines)
    scanned = L.classify(text)
    assert len(L._CLEAN_PAIR.findall(text)) == len(scanned.source)  # one row per line
    for number, raw in enumerate(text.split("\n"), 1):
        key, value, other = scanned.pairs[number - 1]
        assert other == ("" if key else raw)  # an irregular line comes as written
        slow = L.classify_line(raw, number)
        if key:
            assert slow.kind == L.PAIR
            assert L.split_pair(slow) == (key, value, len(key) + 2)
        assert scanned.line(number) == slow



@settings(max_examples=300)
@given(st.lists(PAIRISH, max_size=30), st.integers(1, 40), st.integers(1, 40))
def test_pairs_split_a_block_at_a_time_are_the_whole_text_split(lines, first, block):
    """Streaming the pairs in blocks of any size gives the split of the whole text."""
    text = "\n".join(lines)
    scanned = L.classify(text)
    scanned.FIRST_BLOCK_CHARS, scanned.BLOCK_CHARS = first, block
    streamed = list(scanned.stream_pairs())
    assert streamed == L._CLEAN_PAIR.findall(text)
    assert list(scanned) == [L.classify_line(raw, n) for n, raw in
                                      enumerate(text.split("\n"), 1)
                                      if L.classify_line(raw, n) is not None]

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


@settings(max_examples=200)
@given(st.lists(st.text(alphabet=st.sampled_from(list("ab \r\t=")), max_size=4), max_size=40),
       st.lists(st.integers(min_value=0, max_value=45), max_size=20), st.integers(0, 3))
def test_source_lines_fetch_single_lines_as_the_split_does(parts, indexes, block_power):
    """A line fetched from the text (blocks skipped in C) is the line the split gives."""
    text = "\n".join(parts)
    expected = text.split("\n")
    source = L.SourceLines(text)
    size = 2 ** block_power  # small blocks, so that block skipping is exercised
    block = L.re.compile(r"(?:[^\n]*\n){%d}" % size)
    for i in indexes:
        if i < len(expected):
            assert source._one(i, size, block) == expected[i]
            assert source[i] == expected[i]
        else:
            with pytest.raises(IndexError):
                source._one(i, size, block)
            with pytest.raises(IndexError):
                source[i]
    assert list(source) == expected and len(source) == len(expected)
