"""Robustness: random and mutated task files through the real CLI (issue 4, item 6).

Whatever the bytes, `tasker FILE --validate-only` must never let an exception
escape. It ends with 0 (clean), 20 with at least one `file:line:col: error:`
on stderr, or 24 (no tasks). Lines that would be file-defined options (a
leading `-`) are defused: the file could otherwise ask for an alert script.
"""

import contextlib
import io
import re
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings, strategies as st

from tasker.cli import main
from tasker.syntax.ast import TASK_FIELDS

BASE = """\
GREETING=hello
DB_PASSWORD=s3cret
task=0
hostname=localhost
command=echo
arguments=@GREETING@ world
success=exit_0&(stdout~hello|stderr~)
on_failure=90
task=1
type=parallel
tasks=100,101
max_parallel=2
success=min_success=1
task=2
hostname=localhost
command=cat
arguments=@100_stdout@
condition=@1_success@=True
loop=2
next=loop
task=3
type=decision
success=@2_exit@=0
on_failure=90
task=90
return=1
task=100
hostname=localhost
command=true
task=101
hostname=localhost
command=false
stdout_split=space,1
""".split("\n")

KEYS = sorted(TASK_FIELDS) + ["Task", "HOSTNAME", "x", "", " ", "@", "9"]
VALUES = st.one_of(
    st.sampled_from([
        "0", "1", "-1", "100000", "1e3", "exit_0", "never", "loop", "success", "a|b", "a&&b",
        "(exit_0", "exit_0)", 'stdout~"x', "stdout~", "min_success=-1", "all_success",
        "@0_stdout@", "@9999_exit@", "@G@", "@G", "$(id)", "`id`", "../x", "x # c", "a#b",
        "; rm -rf /", "\x00", "\t", "  ", "=", "==", "%s%n", "\\x41", "parallel",
        "conditional", "decision", "shell", "LOCAL", "100,101", ",", "space,-1",
    ]),
    st.text(max_size=30),
)
LINE = st.one_of(
    st.tuples(st.sampled_from(KEYS), VALUES).map(lambda kv: f"{kv[0]}={kv[1]}"),
    st.text(max_size=40),
    st.sampled_from(["#comment", "", "task=0", "task=1", "   ", "\r"]),
)


def _defuse(text: str) -> str:
    """No line may be a file-defined option (they could name scripts to run)."""
    return "\n".join("x" + ln if ln.lstrip().startswith("-") else ln for ln in text.split("\n"))


@st.composite
def mutated(draw) -> str:
    """The base workflow with a few lines deleted, duplicated, replaced or inflated."""
    lines = list(BASE)
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["delete", "duplicate", "replace", "insert", "huge", "deep",
                                   "cut"]))
        i = draw(st.integers(0, len(lines) - 1)) if lines else 0
        if op == "delete" and lines:
            del lines[i]
        elif op == "duplicate" and lines:
            lines.insert(i, lines[i])
        elif op in ("replace", "insert"):
            lines[i:i + (op == "replace")] = [draw(LINE)]
        elif op == "huge":
            lines.insert(i, "arguments=" + draw(st.sampled_from(["a", "dd ", "(", "@", " #"]))
                         * draw(st.integers(10_000, 200_000)))
        elif op == "deep":
            n = draw(st.integers(50, 3000))
            close = ")" * (n - draw(st.integers(0, 2)))
            lines.insert(i, "success=" + "(" * n + "exit_0" + close)
        elif op == "cut" and lines:
            lines[i] = lines[i][:draw(st.integers(0, max(len(lines[i]) - 1, 0)))]
    return "\n".join(lines)


FILES = st.one_of(
    st.binary(max_size=400),
    mutated().map(lambda t: _defuse(t).encode("utf-8")),
    st.lists(LINE, max_size=30).map(lambda ls: _defuse("\n".join(ls)).encode("utf-8")),
    st.tuples(mutated(), st.binary(min_size=1, max_size=4)).map(
        lambda tb: _defuse(tb[0]).encode("utf-8") + tb[1] + b"\ntask=5\n"),
)


def run_cli(data: bytes):
    """Run the CLI in-process on `data`; (exit code, stdout, stderr, path)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "fuzz.txt")
        path.write_bytes(data)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([str(path), "--validate-only", "--skip-host-validation", "-l",
                         str(Path(tmp, "log"))], environ={"HOME": tmp, "PATH": "/usr/bin:/bin"})
        return code, out.getvalue(), err.getvalue(), str(path)


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(FILES)
@example(b"\xff\xfe\x00task=0")
@example(b"task=0\nhostname=h\ncommand=echo\nsuccess=" + b"(" * 5000 + b"exit_0" + b")" * 5000)
@example(b"task=0\nreturn=0\n" + b"arguments=" + b"dd " * 100_000)
@example(b"")
def test_random_files_never_crash(data):
    code, _out, err, path = run_cli(data)
    assert code in (0, 20, 24), (code, err[-2000:])
    if code == 20:
        located = re.compile(rf"^{re.escape(path)}:\d+:\d+: error: ", re.M)
        assert located.search(err), err[-2000:]


def test_base_workflow_is_clean():
    code, _out, err, _ = run_cli("\n".join(BASE).encode())
    assert code == 0, err
