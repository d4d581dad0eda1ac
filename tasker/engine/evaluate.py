"""Evaluate a parsed condition against the current values and stored task results.

A small recursive function over the AST of tasker.syntax.condition. Task-result
placeholders are bound here through `lookup`, never pasted into text, so their
values cannot change the structure of an expression (fix C9). Comparisons
follow one rule everywhere (fix C10, see `compare`).
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from typing import Callable, Optional, Tuple, Union

from tasker.engine.split import apply_split
from tasker.syntax.condition import (
    And, BareOperand, BoolLiteral, Comparison, Contains, ExitCode, ExitNotZero, ExitTest, Expr,
    LineCount, MultiTask, Not, Operand, Or, OutputMatch, Ref, StreamField, StreamValue, Success,
    Template,
)

Lookup = Callable[[int, str], Optional[str]]
Scalar = Union[bool, int, float, str]

_ORDER = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
          "=": operator.eq, "!=": operator.ne}
# Bounded digit counts: int() refuses texts longer than sys.int_info's limit.
_INT = re.compile(r"[+-]?[0-9]{1,4000}")
_FLOAT = re.compile(r"[+-]?(?:[0-9]{1,300}\.[0-9]{0,300}|\.[0-9]{1,300})(?:[eE][+-]?[0-9]{1,3})?")


@dataclass(frozen=True)
class Current:
    """The "current" values a condition is evaluated against (SPEC II.3.1)."""
    exit_code: int = 0
    stdout: str = ""
    stderr: str = ""
    success: Optional[bool] = None  # the task's success result, for the word `success`


@dataclass(frozen=True)
class _Env:
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

    `~`/`!~`: substring of the stripped texts. Otherwise both sides are
    converted; two numbers (booleans count as 1/0) compare numerically,
    anything else compares as stripped strings for `=`/`!=` and is false
    for the orderings.
    """
    if op in ("~", "!~"):
        return (right.strip() in left.strip()) == (op == "~")
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
        if isinstance(part, Ref):
            value = lookup(part.task_id, part.field)
            out.append(str(part) if value is None else value)
        else:
            out.append(part)
    return "".join(out)


def _stream(current: Current, name: str) -> str:
    """A current output as conditions see it: trailing newlines removed."""
    return (current.stdout if name == "stdout" else current.stderr).rstrip("\n")


def _operand(op: Operand, env: _Env) -> str:
    """The text of a comparison operand."""
    if isinstance(op, ExitCode):
        return str(env.current.exit_code)
    if isinstance(op, StreamValue):
        return _stream(env.current, op.stream)
    if isinstance(op, StreamField):
        raw = env.current.stdout if op.stream == "stdout" else env.current.stderr
        return apply_split(raw, f"{op.delimiter},{op.index}").rstrip("\n")
    return render(op, env.lookup)


def _output_match(node: OutputMatch, env: _Env) -> bool:
    """`stdout~TEXT` substring test, or with no TEXT the emptiness test (fix C11)."""
    text = _stream(env.current, node.stream)
    if node.pattern is None:
        found = not text.strip()
    else:
        found = render(node.pattern, env.lookup) in text
    return found != node.negated


def _line_count(node: LineCount, env: _Env) -> bool:
    """0 lines if blank, else the `\\n`-separated lines of the stripped output."""
    text = _stream(env.current, node.stream).strip()
    lines = len(text.split("\n")) if text else 0
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


def _eval(expr: Expr, env: _Env) -> bool:
    """The recursive evaluator."""
    if isinstance(expr, Or):
        return any(_eval(e, env) for e in expr.items)
    if isinstance(expr, And):
        return all(_eval(e, env) for e in expr.items)
    if isinstance(expr, Not):
        return not _eval(expr.operand, env)
    current = env.current
    if isinstance(expr, ExitTest):
        return current.exit_code == expr.code
    if isinstance(expr, ExitNotZero):
        return current.exit_code != 0
    if isinstance(expr, Success):
        return current.exit_code == 0 if current.success is None else current.success
    if isinstance(expr, BoolLiteral):
        return expr.value
    if isinstance(expr, OutputMatch):
        return _output_match(expr, env)
    if isinstance(expr, LineCount):
        return _line_count(expr, env)
    if isinstance(expr, Contains):
        return (render(expr.text, env.lookup) in current.stdout) != expr.negated
    if isinstance(expr, Comparison):
        return compare(_operand(expr.left, env), expr.op, render(expr.right, env.lookup))
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
