"""The condition AST: frozen values with the column where each starts.

Parsed by `tasker.syntax.condition`, evaluated by `tasker.engine.evaluate`,
read by the validator (placeholders, flow analysis). Columns are metadata:
two conditions that differ only in spacing compare equal. This module is the
bottom of the condition modules: the error type and the text -> `Template`
helper live here, so the parser and the printer both build on it.
"""

from __future__ import annotations

import re
from typing import FrozenSet, Iterator, List, Optional, Tuple, Union

from tasker.record import field, record
from tasker.syntax.placeholders import RESULT_FIELD_PATTERN


class ConditionError(Exception):
    """A condition that does not parse; `column` is 1-based inside the condition text."""

    def __init__(self, message: str, column: int, hint: Optional[str] = None) -> None:
        super().__init__(message, column, hint)
        self.message = message
        self.column = column
        self.hint = hint

    def __str__(self) -> str:
        return f"column {self.column}: {self.message}" + (f" ({self.hint})" if self.hint else "")


def _col() -> int:
    """A node's column: metadata, so two conditions that differ only in spacing are equal.

    (Typed as the field's value, as `dataclasses.field` is: the record reads the Field.)
    """
    return field(default=0, compare=False)


# ---- operands ---------------------------------------------------------------------------
@record(frozen=True)
class Ref:
    """`@N_field@`: a stored result of task N, bound at evaluation."""
    task_id: int
    field: str  # lower-cased
    column: int = _col()

    def __str__(self) -> str:
        return f"@{self.task_id}_{self.field}@"


@record(frozen=True)
class Template:
    """Literal text mixed with task-result references (`v@1_exit@`)."""
    parts: Tuple[Union[str, Ref], ...]
    column: int = _col()
    unclosed_quote: bool = field(default=False, compare=False)  # validator warns

    def text(self) -> str:
        """The template as written, references in `@N_field@` form."""
        return "".join(str(p) for p in self.parts)


@record(frozen=True)
class ExitCode:
    """`exit` / `exit_code` as an operand: the current exit code."""
    column: int = _col()


@record(frozen=True)
class StreamValue:
    """`stdout` / `stderr` as an operand: the output, trailing newlines removed."""
    stream: str
    column: int = _col()


@record(frozen=True)
class StreamField:
    """`stdout:DELIM,IDX`: one field of the output (SPEC II.4.5)."""
    stream: str
    delimiter: str
    index: int
    column: int = _col()


Operand = Union[ExitCode, StreamValue, StreamField, Template]


# ---- expressions ------------------------------------------------------------------------
@record(frozen=True)
class Or:
    """`a|b|...`; true when any item is."""
    items: Tuple["Expr", ...]
    column: int = _col()


@record(frozen=True)
class And:
    """`a&b&...`; true when every item is."""
    items: Tuple["Expr", ...]
    column: int = _col()


@record(frozen=True)
class Not:
    """`!a`."""
    operand: "Expr"
    column: int = _col()


@record(frozen=True)
class ExitTest:
    """`exit_N`: the exit code equals N."""
    code: int
    column: int = _col()


@record(frozen=True)
class ExitNotZero:
    """`exit_not_0`."""
    column: int = _col()


@record(frozen=True)
class Success:
    """`success`: the task's success result (else exit code 0)."""
    column: int = _col()


@record(frozen=True)
class BoolLiteral:
    """`true` / `false`."""
    value: bool
    column: int = _col()


@record(frozen=True)
class OutputMatch:
    """`stdout~TEXT` / `stdout!~TEXT`; pattern None means the emptiness test `stdout~`."""
    stream: str
    pattern: Optional[Template]
    negated: bool = False
    column: int = _col()


@record(frozen=True)
class LineCount:
    """`stdout_count=N` (and `<`, `>`, `<=`, `>=`, `!=`).

    `count` None: what follows the operator is not a whole number (`stdout_count=abc`), or
    the operator is `~`/`!~`; HEAD accepts such a test and it is never true. `written`
    keeps that text as written, so the condition prints back the same.
    """
    stream: str
    op: str
    count: Optional[int]
    column: int = _col()
    written: str = ""


@record(frozen=True)
class Contains:
    """Legacy `contains:TEXT` / `not_contains:TEXT` on stdout."""
    text: Template
    negated: bool = False
    column: int = _col()


@record(frozen=True)
class Comparison:
    """`LEFT op RIGHT` with op in `= != ~ !~ < <= > >=` (fix C10 rule)."""
    left: Operand
    op: str
    right: Template
    column: int = _col()


@record(frozen=True)
class BareOperand:
    """A placeholder standing alone (`@0_success@`): true when it renders `true`."""
    value: Template
    column: int = _col()


@record(frozen=True)
class MultiTask:
    """A block aggregate (`all_success`, `min_success=N`, ...; SPEC II.5.3)."""
    kind: str
    count: Optional[int] = None
    column: int = _col()


Expr = Union[Or, And, Not, ExitTest, ExitNotZero, Success, BoolLiteral, OutputMatch,
             LineCount, Contains, Comparison, BareOperand, MultiTask]
Node = Union[Expr, ExitCode, StreamValue, StreamField, Template, Ref]

MAX_DEPTH = 100  # keeps the recursive evaluator and printer far from Python's limit


def walk(expr: Node) -> Iterator[Node]:
    """Yield every node of the tree (expressions, operands, templates, refs), iteratively."""
    stack: List[Node] = [expr]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(list(_children(node))))


def _children(node: Node) -> Iterator[Node]:
    """The direct sub-nodes of one node."""
    if isinstance(node, (Or, And)):
        yield from node.items
    elif isinstance(node, Not):
        yield node.operand
    elif isinstance(node, OutputMatch) and node.pattern is not None:
        yield node.pattern
    elif isinstance(node, Contains):
        yield node.text
    elif isinstance(node, Comparison):
        yield node.left
        yield node.right
    elif isinstance(node, BareOperand):
        yield node.value
    elif isinstance(node, Template):
        yield from (p for p in node.parts if isinstance(p, Ref))


def placeholders(expr: Expr) -> FrozenSet[Tuple[int, str]]:
    """The task-result references (task_id, field) an expression reads."""
    return frozenset((n.task_id, n.field) for n in walk(expr) if isinstance(n, Ref))


# ---- text -> Template ---------------------------------------------------------------------
_REF = re.compile(rf"@([0-9]{{1,9}})_({RESULT_FIELD_PATTERN})@", re.IGNORECASE)


def template(raw: str, column: int, quote: str = "", unclosed: bool = False) -> Template:
    """Split text into literal parts and `Ref`s; `\\<quote>` inside quotes is the quote."""
    if "@" not in raw and not quote:  # the common case, kept cheap
        return Template((raw,) if raw else (), column, unclosed)
    parts: List[Union[str, Ref]] = []  # (no empty literals: an unescaped one stays non-empty)
    pos = 0
    for m in _REF.finditer(raw):
        start = m.start()
        if start > pos:
            parts.append(raw[pos:start])
        parts.append(Ref(int(m.group(1)), m.group(2).lower(), column + start))
        pos = m.end()
    if pos < len(raw):
        parts.append(raw[pos:])
    if quote:
        parts = [p.replace("\\" + quote, quote) if isinstance(p, str) else p for p in parts]
    return Template(tuple(parts), column, unclosed)
