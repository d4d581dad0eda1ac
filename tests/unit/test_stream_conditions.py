"""Conditions and splits on spilled outputs, read in chunks: same answers as on the whole text."""

from __future__ import annotations

import io
import os
import stat
import tempfile
import threading
from pathlib import Path
from typing import Optional

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tasker.engine.context import EngineOptions, RunContext
from tasker.engine.evaluate import Current, evaluate
from tasker.engine.sequential import run_workflow
from tasker.engine.split import apply_split, split_stream
from tasker.engine.streams import (
    contains,
    is_blank,
    line_count,
    log_view,
    stripped_prefix,
    text_length,
)
from tasker.exec.base import MEMORY_LIMIT, CommandResult
from tasker.exec.config import load_exec_config
from tasker.exec.output import Stream, chunks
from tasker.interrupt import Interrupt
from tasker.report.console import log_events
from tasker.report.logger import Log, shorten
from tasker.syntax.condition import parse_condition
from tasker.syntax.condition_ast import (
    Comparison,
    Contains,
    LineCount,
    OutputMatch,
    StreamField,
    StreamValue,
    Template,
)
from tasker.syntax.taskfile import LoadOptions, build_task_file


def decode(data: bytes) -> str:
    """The whole output as conditions see it when it is in memory (tasker.exec.process)."""
    return data.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")


def spilled(directory: str, data: bytes, chunk_size: int) -> Stream:
    """A stream whose whole text is in a file; its in-memory beginning must not matter."""
    fd, path = tempfile.mkstemp(dir=directory)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return Stream("(only the beginning)", path, chunk_size)


# ---- random outputs: every fragment that can be cut badly by a chunk border ---------------
FRAGMENTS = [b"a", b"b", b"ab", b"ok", b"x=1", b" ", b"  ", b"\t", b"\n", b"\r", b"\r\n",
             b"\n\n", b",", b";", b":", b"|", b"=", b"0", b"7", b"42", b"1.5", b"true",
             "é".encode(), "€".encode(), "😀".encode(), b"\xff", b"\xc3", b"\xe2\x82",
             b"\xf0\x9f\x98", b"\x00", "\u2028".encode(), "\xa0".encode()]
LONG = [b" " * 4200, b"\n" * 4200, b"ab" * 2100, b"7" * 4100]  # past the comparison bound
outputs = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.sampled_from(LONG)),
                   max_size=30).filter(lambda parts: sum(map(len, parts)) < 20000)
outputs = outputs.map(b"".join) | st.lists(st.sampled_from(FRAGMENTS), max_size=40).map(b"".join)
chunk_sizes = st.sampled_from([1, 2, 3, 4, 5, 7, 64, 4096])
OPS = ["=", "!=", "~", "!~", "<", "<=", ">", ">="]
DELIMS = ["space", "whitespace", "tab", "newline", "comma", "colon", "semicolon", "semi", "pipe",
          "SPACE", "=", "ab", "a.", "(,)", "x|é", r"\d", "(a)|(b)", "b*", "^a", "a$", r"\bab",
          "(?<=a)b", "(?m)^", "[", "\u2028", r"\s"]


def texts_of(draw, whole: str) -> str:
    """A pattern or right side: a piece of the output (so it straddles borders) or a word."""
    start = draw(st.integers(0, len(whole)))
    piece = whole[start:start + draw(st.integers(0, 12))]
    return draw(st.sampled_from([piece, piece.strip(), whole.strip(), "ok", "7", "007", "42",
                                 "true", "1.5", "", "ab" * 2100, " ok ", "x=1"]))


@st.composite
def expressions(draw, whole: str):
    """One output test on the current stdout, with operands taken from the output."""
    stream = "stdout"
    text = texts_of(draw, whole)
    kind = draw(st.sampled_from(["match", "empty", "count", "compare", "field", "contains"]))
    negated = draw(st.booleans())
    if kind == "match":
        return OutputMatch(stream, Template((text,) if text else ()), negated)
    if kind == "empty":
        return OutputMatch(stream, None, negated)
    if kind == "count":
        return LineCount(stream, draw(st.sampled_from(["=", "!=", "<", "<=", ">", ">="])),
                         draw(st.integers(0, 8)))
    right = Template((text,) if text else ())
    op = draw(st.sampled_from(OPS))
    if kind == "compare":
        return Comparison(StreamValue(stream), op, right)
    if kind == "field":
        field = StreamField(stream, draw(st.sampled_from(DELIMS)), draw(st.integers(-1, 6)))
        return Comparison(field, op, right)
    return Contains(Template((text,) if text else ()), negated)


def no_lookup(task_id: int, field: str) -> Optional[str]:
    return None


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=outputs, size=chunk_sizes, draw=st.data())
def test_chunked_evaluation_agrees_with_the_whole_text(data, size, draw):
    whole = decode(data)
    with tempfile.TemporaryDirectory() as directory:
        stream = spilled(directory, data, size)
        chunked = Current(3, stream.text, "", stdout_file=stream.path, chunk_size=size)
        plain = Current(3, whole, "")
        for _ in range(4):
            expr = draw.draw(expressions(whole))
            expected = evaluate(expr, plain, no_lookup)
            assert evaluate(expr, chunked, no_lookup) == expected, expr
        assert sorted(os.listdir(directory)) == [os.path.basename(stream.path)]  # none left


@settings(max_examples=300, deadline=None)
@given(data=outputs, size=chunk_sizes)
def test_chunks_join_up_to_the_whole_text_and_the_log_line_is_the_same(data, size):
    whole = decode(data)
    with tempfile.TemporaryDirectory() as directory:
        stream = spilled(directory, data, size)
        assert "".join(chunks(stream)) == whole
        text, total = log_view(stream, True)
        assert shorten(text, total=total) == shorten(whole)
        assert bool(text.strip()) == bool(whole.strip())
        assert is_blank(stream) == (not whole.strip())
        assert line_count(stream) == line_count(Stream(whole))


@settings(max_examples=400, deadline=None)
@given(data=outputs, size=chunk_sizes, delim=st.sampled_from(DELIMS),
       index=st.integers(-1, 7), keep=st.sampled_from([0, 3, 1 << 20]))
def test_streamed_split_agrees_with_the_whole_text(data, size, delim, index, keep):
    whole = decode(data)
    spec = f"{delim},{index}"
    with tempfile.TemporaryDirectory() as directory:
        stream = spilled(directory, data, size)
        field, note = split_stream(stream, spec, "stdout", overlap=4, keep=keep)
        assert note is None
        assert "".join(chunks(field)) == apply_split(whole, spec)
        if field.path is not None and field.path != stream.path:
            assert field.text == apply_split(whole, spec)[:keep]  # head + file again
            assert stat.S_IMODE(os.stat(field.path).st_mode) == 0o600
            assert os.path.dirname(field.path) == directory


# ---- one test kind at a time -------------------------------------------------------------
@pytest.fixture
def file_stream(tmp_path):
    def make(data: bytes, size: int = 5) -> Current:
        stream = spilled(str(tmp_path), data, size)
        return Current(0, stream.text, "", stdout_file=stream.path, chunk_size=size)
    return make


def holds(condition: str, current: Current) -> bool:
    return evaluate(parse_condition(condition), current, no_lookup)


def test_a_marker_across_chunk_borders_is_found(file_stream):
    current = file_stream(b"x" * 17 + b"MARKER" + b"y" * 9, size=4)
    assert holds("stdout~MARKER", current) and not holds("stdout!~MARKER", current)
    assert holds("contains:xMARKERy", current) and not holds("stdout~MARKERz", current)


def test_crlf_and_characters_cut_by_a_border_are_whole(file_stream):
    current = file_stream(b"a\r\nb\rc" + "é€😀".encode() + b"\xff\r", size=1)
    assert holds("stdout_count=3", current) and holds("stdout~cé€😀\ufffd", current)
    assert holds("stdout=@0_stdout@", current) is False  # (an unresolved literal)
    assert "".join(chunks(Stream("", current.stdout_file, 1))) == "a\nb\ncé€😀\ufffd\n"


def test_trailing_newlines_are_not_part_of_the_output_for_conditions(file_stream):
    current = file_stream(b"ok\n\n\n", size=1)
    assert holds("stdout=ok", current) and holds("stdout_count=1", current)
    # `contains:` looks at stdout as it is, trailing newlines included
    assert contains(Stream("", current.stdout_file, 1), "ok\n\n", whole=True)
    assert not contains(Stream("", current.stdout_file, 1), "ok\n")


def test_blank_and_not_blank(file_stream):
    assert holds("stdout~", file_stream(b" \n\t\r\n" * 1000))
    assert holds("stdout!~", file_stream(b" " * 5000 + b"."))


def test_line_counts_ignore_surrounding_blank_lines(file_stream):
    current = file_stream(b"\n\n  one\r\n\r\ntwo  \nthree\n\n\n", size=3)
    assert holds("stdout_count=4", current) and holds("stdout_count>=4", current)
    assert not holds("stdout_count<4", current)
    assert holds("stdout_count=0", file_stream(b"\n \n"))


def test_two_mib_of_blanks_around_ok_still_equal_ok(file_stream):
    current = file_stream(b" \n" * MEMORY_LIMIT + b"ok" + b"\n " * MEMORY_LIMIT, size=65536)
    assert holds("stdout=ok", current) and not holds("stdout!=ok", current)
    assert holds("stdout=OK", current) is False


def test_a_long_output_equals_nothing_short_and_orders_against_nothing(file_stream):
    current = file_stream(b"7" * 5000, size=100)
    assert holds("stdout=" + "7" * 5000, current)  # a number of 5,000 digits is a string
    assert not holds("stdout=7", current) and holds("stdout!=7", current)
    assert not holds("stdout>1", current) and not holds("stdout<1", current)
    assert holds("stdout~777", current) and not holds("stdout~8", current)


def test_a_number_in_a_file_compares_as_a_number(file_stream):
    current = file_stream(b"\n  0042 \r\n\n")
    assert holds("stdout=42", current) and holds("stdout>41.5", current)
    assert holds("stdout~0042", current) and holds("stdout_count=1", current)


def test_a_field_of_a_spilled_output_is_compared(file_stream, tmp_path):
    current = file_stream(b"a,b," + b"x" * 5000 + b",ok\n", size=7)
    assert holds("stdout:comma,3=ok", current) and holds("stdout:comma,1=b", current)
    assert holds("stdout:comma,2~xxx", current) and not holds("stdout:comma,2=x", current)
    assert holds("stdout:comma,9~a,b,", current)  # out of range: the whole output
    assert len(os.listdir(tmp_path)) == 1  # the field's own spill files are gone


def test_stripped_prefix_stops_early_and_says_whether_it_is_all(file_stream):
    current = file_stream(b"  abc" + b" " * 50 + b"def  ", size=3)
    stream = Stream("", current.stdout_file, 3)
    assert stripped_prefix(stream, 1000) == ("abc" + " " * 50 + "def", True)
    prefix, whole = stripped_prefix(stream, 10)
    assert not whole and prefix.startswith("abc" + " " * 7)


# ---- splits ------------------------------------------------------------------------------
def test_a_small_field_stays_in_memory_and_a_large_one_gets_its_own_file(tmp_path):
    data = b"head " + b"y" * 3000 + b" tail\n"
    stream = spilled(str(tmp_path), data, 64)
    small, _ = split_stream(stream, "space,2", "stdout", keep=100)
    assert small == Stream("tail\n", None, 64)
    large, note = split_stream(stream, "space,1", "stdout", keep=100)
    assert note is None and large.text == "y" * 100 and large.path != stream.path
    assert Path(large.path).read_text() == "y" * 3000


@pytest.mark.parametrize("spec", ["space", "space,x", "space,-1", "space,3", "newline,0",
                                  "x,0", "(,1"])
def test_the_no_op_cases_leave_the_stream_as_it_was(tmp_path, spec):
    stream = spilled(str(tmp_path), b"a b c", 2)
    assert split_stream(stream, spec, "stdout") == (stream, None)
    assert os.listdir(tmp_path) == [os.path.basename(stream.path)]


def test_an_empty_output_is_a_no_op(tmp_path):
    stream = spilled(str(tmp_path), b"", 2)
    assert split_stream(stream, "space,1", "stdout") == (stream, None)


def test_a_delimiter_run_cut_by_a_chunk_border_is_one_delimiter(tmp_path):
    stream = spilled(str(tmp_path), b"a" + b" " * 10 + b"b\n\n\n\nc", 3)
    assert split_stream(stream, "space,1", "stdout")[0].text == "b\n\n\n\nc"
    assert split_stream(stream, "newline,1", "stdout")[0].text == "c"
    assert split_stream(stream, "whitespace,2", "stdout")[0].text == "c"


def test_a_group_of_a_pattern_that_took_no_part_is_empty(tmp_path):
    assert apply_split("xby", "(a)|(b),1") == ""
    stream = spilled(str(tmp_path), b"xby", 1)
    assert split_stream(stream, "(a)|(b),1", "stdout")[0].text == ""
    assert split_stream(stream, "(a)|(b),2", "stdout")[0].text == "b"


def test_a_field_that_cannot_be_written_keeps_its_beginning_and_says_so(tmp_path):
    stream = spilled(str(tmp_path), b"a," + b"z" * 500, 16)
    missing = str(tmp_path / "no" / "such" / "dir")  # what a broken TMPDIR looks like
    field, note = split_stream(stream, "comma,1", "stdout", keep=100, directory=missing)
    assert field == Stream("z" * 100, None, 16)
    assert note == ("tasker: stdout: only the first 100 characters were kept; 400 more were "
                    f"lost (cannot write a spill file in {missing}: No such file or directory)")
    assert os.listdir(tmp_path) == [os.path.basename(stream.path)]


# ---- the engine: a fake executor hands over spilled outputs -----------------------------
class SpillingExecutor:
    """Answers every command with the same spilled stdout (a file written beforehand)."""

    def __init__(self, path: str, lost: int = 0) -> None:
        self.path, self.lost = path, lost

    def run(self, spec, cancel: threading.Event) -> CommandResult:
        with open(self.path, "rb") as handle:
            head = decode(handle.read(MEMORY_LIMIT))
        if self.lost:
            return CommandResult(0, head, "note", 0.01, stdout_lost=self.lost)
        return CommandResult(0, head, "", 0.01, stdout_file=self.path)


def run_spilled(tmp_path: Path, text: str, data: bytes, lost: int = 0,
                spool: Optional[Path] = None):
    path = tmp_path / "spilled"
    path.write_bytes(data)
    tf = build_task_file("t.txt", text, LoadOptions())
    out = io.StringIO()
    ctx = RunContext(taskfile=tf, options=EngineOptions(dry_run=False),
                     exec_config=load_exec_config([]), executor=SpillingExecutor(str(path), lost),
                     events=log_events(Log(stream=out)), interrupt=Interrupt(),
                     spool_dir=spool or tmp_path / "spool")
    outcome = run_workflow(ctx)
    return outcome, ctx.run_state, out.getvalue(), str(path)


BIG = b"line one\r\n" + b"x" * (3 * MEMORY_LIMIT) + b"\nMARKER,last\n"


def task(extra: str, tid: int = 0) -> str:
    return f"task={tid}\nhostname=localhost\nexec=local\ncommand=big\n{extra}\n"


def test_success_next_and_loop_break_see_the_end_of_a_spilled_output(tmp_path):
    text = (task("success=stdout~MARKER\nnext=stdout~last") +
            task("loop=3\nnext=loop\nloop_break=stdout~MARKER,last", 1))
    outcome, rec, log, path = run_spilled(tmp_path, text, BIG)
    assert outcome.exit_code == 0, log
    assert "Task 0: Success condition 'stdout~MARKER' evaluated to: True" in log
    assert "Task 0: Proceeding to next task (stdout~last=TRUE)" in log
    assert "Task 1: Breaking loop - loop_break condition" in log and "Task 1.2" not in log
    stored = rec.results[0]
    assert stored.stdout_file == path and len(stored.stdout) == 100 * 1024
    total = len("line one") + 2 + 3 * MEMORY_LIMIT + 2 + len("MARKER,last")
    assert "Task 0: STDOUT: line one\\nxxx" in log and f"({total} chars total)" in log


def test_a_split_of_a_spilled_output_is_streamed_and_the_file_stays_the_whole(tmp_path):
    text = (task("stdout_split=comma,1\nsuccess=stdout=last") +
            task("stdout_split=newline,1\nsuccess=stdout_count=1&stdout~xxxx", 1) +
            task("stdout_split=newline,9", 2))
    outcome, rec, log, path = run_spilled(tmp_path, text, BIG)
    assert outcome.exit_code == 0, log
    assert "Task 0: Split STDOUT: last" in log and rec.results[0].stdout == "last\n"
    assert f"Task 1: Split STDOUT: {'x' * 200}... ({3 * MEMORY_LIMIT} chars total)" in log
    assert rec.results[1].stdout == "x" * 100 * 1024
    assert {rec.results[i].stdout_file for i in range(3)} == {path}  # as the command wrote it
    assert rec.results[2].stdout.startswith("line one\n")  # index out of range: a no-op
    assert os.listdir(tmp_path) == ["spilled"]  # the field's own file was for task 1 only


def test_an_output_whose_tail_was_lost_gets_no_file(tmp_path):
    outcome, rec, log, _ = run_spilled(tmp_path, task("success=stdout~x"), BIG, lost=12345)
    assert outcome.exit_code == 0
    stored = rec.results[0]
    assert stored.stdout_file is None and len(stored.stdout) == 100 * 1024
    assert "12345 bytes of its stdout past the first 1048576 were lost" in log
    assert not (tmp_path / "spool").exists() or os.listdir(tmp_path / "spool") == []


def test_a_long_result_that_cannot_be_written_keeps_100_kib_and_says_so(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a directory")
    data = b"y" * 500_000  # in memory (no spill), but longer than a stored result keeps

    class InMemory(SpillingExecutor):
        def run(self, spec, cancel):
            return CommandResult(0, data.decode(), "", 0.01)

    text = task("") + "\ntask=1\nhostname=localhost\nexec=local\ncommand=next\n"
    tf = build_task_file("t.txt", text, LoadOptions())
    out = io.StringIO()
    ctx = RunContext(taskfile=tf, options=EngineOptions(dry_run=False),
                     exec_config=load_exec_config([]), executor=InMemory(""),
                     events=log_events(Log(stream=out)), interrupt=Interrupt(),
                     spool_dir=blocker / "spool")
    outcome = run_workflow(ctx)
    assert outcome.exit_code == 0 and ctx.run_state.execution_path == [0, 1]
    stored = ctx.run_state.results[0]
    assert stored.stdout == "y" * 102400 and stored.stdout_file is None
    note = ("tasker: stdout: only the first 102400 characters were kept; 397600 more were "
            f"lost (cannot write a file in {blocker / 'spool'}: ")
    assert stored.stderr.startswith(note)
    assert "WARN" in out.getvalue() and note in out.getvalue()


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=outputs, size=chunk_sizes)
def test_text_length_of_a_spilled_stream_is_that_of_the_whole_text(tmp_path, data, size):
    """The report's `stdout_length`: the whole text without trailing newlines, read in chunks."""
    stream = spilled(str(tmp_path), data, size)
    try:
        assert text_length(stream) == len(decode(data).rstrip("\n"))
        assert text_length(Stream(decode(data))) == len(decode(data).rstrip("\n"))
    finally:
        os.unlink(stream.path)
