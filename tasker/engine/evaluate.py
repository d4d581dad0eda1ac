"""Evaluate a parsed condition against the current values and stored task results.

A small recursive function over the AST of tasker.syntax.condition. Task-result
placeholders are bound here through `lookup`, never pasted into text, so their
values cannot change the structure of an expression (fix C9). Comparisons
follow one rule everywhere (fix C10, see `compare`). An output past the memory
limit is in a file; tests on it read the file in chunks (tasker.engine.streams)
and give the answer they give on the whole text.
"""

from __future__ import annotations

import operator
import re
from typing import TYPE_CHECKING, Callable, NamedTuple, Optional, Tuple, Union

from tasker.engine import streams
from tasker.engine.split import split_stream
from tasker.exec.output import CHUNK_SIZE, Stream
from tasker.record import record
from tasker.syntax.condition_ast import (
    And,
    BareOperand,
    BoolLiteral,
    Comparison,
    Contains,
    ExitCode,
    ExitNotZero,
    ExitTest,
    Expr,
    LineCount,
    MultiTask,
    Not,
    Or,
    OutputMatch,
    StreamField,
    StreamValue,
    Success,
    Template,
)

if TYPE_CHECKING:
    from tasker.results import TaskResult
    from tasker.syntax.ast import Task

Lookup = Callable[[int, str], Optional[str]]
Scalar = Union[bool, int, float, str]

_ORDER = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
          "=": operator.eq, "!=": operator.ne}
# Bounded digit counts: int() refuses texts longer than sys.int_info's limit.
_INT = re.compile(r"[+-]?[0-9]{1,4000}")
_FLOAT = re.compile(r"[+-]?(?:[0-9]{1,300}\.[0-9]{0,300}|\.[0-9]{1,300})(?:[eE][+-]?[0-9]{1,3})?")
# Longer than any text `convert` turns into a number or a boolean (4,001 characters).
_CONVERTIBLE = 4096


@record(frozen=True)
class Current:
    """The "current" values a condition is evaluated against (SPEC II.3.1)."""
    exit_code: int = 0
    stdout: str = ""
    stderr: str = ""
    success: Optional[bool] = None  # the task's success result, for the word `success`
    stdout_file: Optional[str] = None  # the whole stdout, when `stdout` is its beginning
    stderr_file: Optional[str] = None
    chunk_size: int = CHUNK_SIZE  # of a file read (tests make it tiny)

    def stream(self, name: str) -> Stream:
        """The current stdout or stderr, whole or as its beginning and its file."""
        if name == "stdout":
            return Stream(self.stdout, self.stdout_file, self.chunk_size)
        return Stream(self.stderr, self.stderr_file, self.chunk_size)


def stored_current(task: Task, result: TaskResult, success: Optional[bool] = None) -> Current:
    """The current values of a stored result (for `next`, `loop_break`).

    A stored stream is the first 100 KiB of what its file holds, except a split one:
    its file holds the output as the command wrote it, so only the split text counts.
    """
    def whole(name: str, path: Optional[str]) -> Optional[str]:
        return None if task.has(f"{name}_split") else path

    return Current(result.exit_code, result.stdout, result.stderr, success,
                   whole("stdout", result.stdout_file), whole("stderr", result.stderr_file))


class _Env(NamedTuple):
    """Everything an evaluation reads; counts only inside a block's success=/next=."""
    current: Current
    lookup: Lookup
    counts: Optional[Tuple[int, int]] = None  # (successful, failed) sub-task results


def convert(text: str) -> Scalar:
    """Literal conversion of C10: strip; true/false -> bool; int; float if it has '.'; else str."""
    s = text.strip()
    low = s.lower()
    if low in ("true", "false"):
        return low == "true"
    if _INT.fullmatch(s):
        return int(s)
    if _FLOAT.fullmatch(s):  # the pattern requires a "."
        return float(s)
    return s


def compare(left: str, op: str, right: str) -> bool:
    """One comparison rule everywhere (fix C10).

    `~`/`!~`: substring of the converted sides' string forms (`true` is `True`,
    as `@N_success@` stores it; II.3.2). Otherwise both sides are converted;
    two numbers (booleans count as 1/0) compare numerically, anything else
    compares as stripped strings for `=`/`!=` and is false for the orderings.
    """
    if op in ("~", "!~"):
        return (str(convert(right)) in str(convert(left))) == (op == "~")
    a, b = convert(left), convert(right)
    if not isinstance(a, str) and not isinstance(b, str):
        return bool(_ORDER[op](a, b))
    if op in ("=", "!="):
        return (left.strip() == right.strip()) == (op == "=")
    return False


def render(template: Template, lookup: Lookup) -> str:
    """The template's text with each reference bound; unresolved ones stay `@N_field@`."""
    out = []
    for part in template.parts:
        if isinstance(part, str):
            out.append(part)
        else:  # a Ref
            value = lookup(part.task_id, part.field)
            out.append(str(part) if value is None else value)
    return "".join(out)


def _compare_stream(stream: Stream, op: str, right: str) -> bool:
    """`compare` with an output on the left, read no further than the answer needs.

    An output whose stripped text is longer than `right` and than any number is a
    string that equals nothing `right` can be and is ordered against nothing (C10);
    only `~`/`!~` must look further, for the converted right side as a substring.
    """
    if stream.path is None:
        return compare(stream.text.rstrip("\n"), op, right)
    prefix, whole = streams.stripped_prefix(stream, max(_CONVERTIBLE, len(right) + 1))
    if whole:
        return compare(prefix, op, right)
    if op in ("~", "!~"):
        return streams.contains(stream, str(convert(right))) == (op == "~")
    return op == "!="


def _compare_field(left: StreamField, op: str, right: str, current: Current) -> bool:
    """A comparison whose left side is one field of an output (`stdout:DELIM,INDEX`)."""
    whole = current.stream(left.stream)
    field, _ = split_stream(whole, f"{left.delimiter},{left.index}", f"{left.stream}_field")
    try:
        return _compare_stream(field, op, right)
    finally:
        if field.path is not None and field.path != whole.path:
            streams.discard(None, field.path)  # a spill file of this comparison's own


def _output_match(node: OutputMatch, env: _Env) -> bool:
    """`stdout~TEXT` substring test, or with no TEXT the emptiness test (fix C11)."""
    stream = env.current.stream(node.stream)
    if node.pattern is None:
        found = streams.is_blank(stream)
    else:
        found = streams.contains(stream, render(node.pattern, env.lookup))
    return found != node.negated


def _line_count(node: LineCount, env: _Env) -> bool:
    """0 lines if blank, else the `\\n`-separated lines of the stripped output."""
    if node.count is None:
        return False  # not a whole number, or `~`: never true (HEAD)
    lines = streams.line_count(env.current.stream(node.stream))
    return bool(_ORDER[node.op](lines, node.count))


def _multi_task(node: MultiTask, counts: Optional[Tuple[int, int]]) -> bool:
    """SPEC II.5.3 with S successful and F failed results; no results (T = 0) is false."""
    s, f = counts or (0, 0)
    total, n = s + f, node.count or 0
    if total == 0:
        return False
    rules = {
        "all_success": s == total, "any_success": s > 0, "majority_success": 2 * s > total,
        "min_success": s >= n, "max_success": s <= n, "min_failed": f >= n,
        "max_failed": f <= n, "always": True, "never": False,
    }
    return rules.get(node.kind, False)


def _comparison(node: Comparison, env: _Env) -> bool:
    """`LEFT op RIGHT`; a right side whose opening quote is never closed is false (II.3.2)."""
    if node.right.unclosed_quote:
        return False
    left, right = node.left, render(node.right, env.lookup)
    if isinstance(left, StreamValue):
        return _compare_stream(env.current.stream(left.stream), node.op, right)
    if isinstance(left, StreamField):
        return _compare_field(left, node.op, right, env.current)
    if isinstance(left, ExitCode):
        return compare(str(env.current.exit_code), node.op, right)
    return compare(render(left, env.lookup), node.op, right)


def _eval(expr: Expr, env: _Env) -> bool:
    """The recursive evaluator: one branch per node kind, the commonest first."""
    current = env.current
    if isinstance(expr, Comparison):
        return _comparison(expr, env)
    if isinstance(expr, ExitTest):
        return current.exit_code == expr.code
    if isinstance(expr, OutputMatch):
        return _output_match(expr, env)
    if isinstance(expr, And):
        return all(_eval(x, env) for x in expr.items)
    if isinstance(expr, Or):
        return any(_eval(x, env) for x in expr.items)
    if isinstance(expr, Not):
        return not _eval(expr.operand, env)
    if isinstance(expr, Success):
        return current.exit_code == 0 if current.success is None else current.success
    if isinstance(expr, ExitNotZero):
        return current.exit_code != 0
    if isinstance(expr, BoolLiteral):
        return expr.value
    if isinstance(expr, LineCount):
        return _line_count(expr, env)
    if isinstance(expr, Contains):
        found = streams.contains(current.stream("stdout"), render(expr.text, env.lookup), True)
        return found != expr.negated
    if isinstance(expr, BareOperand):
        return render(expr.value, env.lookup).strip().lower() == "true"
    if isinstance(expr, MultiTask):
        return _multi_task(expr, env.counts)
    raise TypeError(f"not a condition node: {expr!r}")


def evaluate(expr: Expr, current: Current, lookup: Lookup) -> bool:
    """Truth of a condition for the current values; block-only forms are false here."""
    return _eval(expr, _Env(current, lookup))


def evaluate_block(expr: Expr, success_count: int, failed_count: int, current: Current,
                   lookup: Lookup) -> bool:
    """Truth of a block's success=/next=: multi-task forms read the sub-task counts."""
    return _eval(expr, _Env(current, lookup, (success_count, failed_count)))
