"""Condition expressions: text -> frozen AST, and the AST back to text.

The grammar is `grammars/condition.lark`. Globals were substituted into the
text before it gets here; task results (`@N_field@`) stay in the AST as `Ref`
parts of a `Template` and are bound only at evaluation (tasker.engine.evaluate),
so an output holding `&` or `|` can never change an expression's structure.
Simple conditions take the fast path (condition_fast); the rest go to the
Lark parser in condition_lark, imported only then, so start-up stays cheap.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import List, Optional, Tuple, Union


from tasker.syntax.condition_ast import (  # noqa: F401  re-exported for callers
    MAX_DEPTH, And, BareOperand, BoolLiteral, Comparison, Contains, ExitCode, ExitNotZero,
    ExitTest, LineCount, MultiTask, Node, Not, Operand, Or, OutputMatch, Expr, Ref,
    StreamField, StreamValue, Success, Template, placeholders, walk,
)
from tasker.syntax.condition_fast import MAX_QUICK, quick_parse
from tasker.syntax.placeholders import RESULT_FIELD_PATTERN, RESULT_FIELDS


class ConditionError(Exception):
    """A condition that does not parse; `column` is 1-based inside the condition text."""

    def __init__(self, message: str, column: int, hint: Optional[str] = None):
        super().__init__(message, column, hint)
        self.message = message
        self.column = column
        self.hint = hint

    def __str__(self) -> str:
        return f"column {self.column}: {self.message}" + (f" ({self.hint})" if self.hint else "")


_FIELDS = RESULT_FIELD_PATTERN
_REF = re.compile(rf"@([0-9]{{1,9}})_({_FIELDS})@", re.IGNORECASE)
_PLACEHOLDER_ONLY = re.compile(r"(?:@[A-Za-z0-9_]+@)+")  # task refs or unresolved globals
_FIELD_TOKEN = re.compile(r"(stdout|stderr):(.+?),(-?[0-9]+)", re.IGNORECASE | re.DOTALL)


def _template(raw: str, column: int, quote: str = "", unclosed: bool = False) -> Template:
    """Split text into literal parts and `Ref`s; `\\<quote>` inside quotes is the quote."""
    if "@" not in raw and not quote:  # the common case, kept cheap
        return Template((raw,) if raw else (), column, unclosed)
    whole = _REF.fullmatch(raw)
    if whole is not None:  # one reference and nothing else (`@41_exit@`), the next commonest
        return Template((Ref(int(whole.group(1)), whole.group(2).lower(), column),), column,
                        unclosed)
    parts: List[Union[str, Ref]] = []
    pos = 0
    for m in _REF.finditer(raw):
        parts.append(raw[pos:m.start()])
        parts.append(Ref(int(m.group(1)), m.group(2).lower(), column + m.start()))
        pos = m.end()
    parts.append(raw[pos:])
    if quote:
        parts = [p.replace("\\" + quote, quote) if isinstance(p, str) else p for p in parts]
    return Template(tuple(p for p in parts if p != ""), column, unclosed)


def _check(expr: Expr, allow_block: bool) -> None:
    """Reject block-only forms outside blocks and nesting deep enough to hit recursion limits."""
    stack: List[Tuple[Expr, int]] = [(expr, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ConditionError(f"condition nested deeper than {MAX_DEPTH} levels",
                                 node.column, "simplify the expression")
        if isinstance(node, (Or, And)):
            stack.extend((item, depth + 1) for item in reversed(node.items))
        elif isinstance(node, Not):
            stack.append((node.operand, depth + 1))
        elif isinstance(node, MultiTask) and not allow_block:
            raise ConditionError(f"'{node.kind}' is a block condition", node.column,
                                 "only valid in success=/next= of a parallel or conditional "
                                 "block")


def _parse(text: str, allow_block: bool) -> Expr:
    """Parse, locate errors, then apply the checks the grammar cannot express."""
    if not text.strip():
        raise ConditionError("empty condition", 1, "write a condition such as exit_0")
    quick = quick_parse(text, _template)
    if quick is not None:
        return quick
    from tasker.syntax.condition_lark import lark_parse  # Lark loads only when needed

    expr = lark_parse(text)
    _check(expr, allow_block)
    return expr


# The commonest condition of large files, one task result compared (`@41_exit@=0`,
# `@3_stdout@~ok`), in one regular expression. It accepts part of what the fast path
# reads (ASCII only, blanks only spaces and tabs, any value without & | ( ) or quotes);
# anything else takes the general path. The field names most used come first.
_COMMON_FIELDS = ("exit", "stdout", "stderr", "success")
_COMMON_REF_ATOM = re.compile(
    r"[ \t]*@[0-9]{1,9}_(?i:%s)@[ \t]*(?:!=|<=|>=|=|<|>|!~|~)[ \t]*"
    r"(?:[!#-%%*-{}~][\t !#-%%*-{}~]*)?"
    % "|".join(_COMMON_FIELDS + tuple(sorted(RESULT_FIELDS - set(_COMMON_FIELDS)))))


def recognizes(text: str) -> bool:
    """True when `text` is a condition the fast path reads (so it parses, in either kind
    of field, to the same tree): its tree may then be built later, when first needed."""
    if len(text) <= MAX_QUICK and _COMMON_REF_ATOM.fullmatch(text) is not None:
        return True  # (a fifth of the time of the general path below)
    return bool(text.strip()) and quick_parse(text, _template, build=False) is not None


# Unbounded caches: only a task file's own condition texts are parsed, once each while
# it loads, and its tasks keep the trees anyway.
@lru_cache(maxsize=None)
def parse_condition(text: str) -> Expr:
    """Parse a task condition (`success=`, `condition=`, `next=`, ...); raise ConditionError."""
    return _parse(text, allow_block=False)


@lru_cache(maxsize=None)
def parse_block_condition(text: str) -> Expr:
    """Parse a block's `success=`/`next=`: conditions plus the multi-task forms of II.5.3."""
    return _parse(text, allow_block=True)


# ---- printer -----------------------------------------------------------------------------
@lru_cache(maxsize=None)
def _value_pattern() -> "re.Pattern[str]":
    """The grammar's own VALUE regex, so the printer quotes exactly when the lexer needs it."""
    from tasker.syntax.condition_lark import _parser

    return re.compile(_parser().get_terminal("VALUE").pattern.to_regexp())


def _format_value(t: Optional[Template]) -> str:
    """A value as it must be written after an operator: bare when possible, else quoted."""
    text = "" if t is None else t.text()
    if not text or (_value_pattern().fullmatch(text) and text[0] not in "=~<>!"):
        return text
    for quote in ('"', "'"):
        if quote not in text:
            return quote + text + quote
    return '"' + text.replace('"', '\\"') + '"'


def _format_operand(op: Operand) -> str:
    """A comparison's left operand."""
    if isinstance(op, ExitCode):
        return "exit"
    if isinstance(op, StreamValue):
        return op.stream
    if isinstance(op, StreamField):
        return f"{op.stream}:{op.delimiter},{op.index}"
    return op.text()


def _grouped(expr: Expr, wrap: tuple) -> str:
    """Format a sub-expression, in parentheses when it binds looser than its parent."""
    text = format_condition(expr)
    return f"({text})" if isinstance(expr, wrap) else text


def format_condition(expr: Expr) -> str:
    """Print an expression in canonical form; parsing the result gives back an equal AST."""
    if isinstance(expr, Or):
        return "|".join(_grouped(e, (Or,)) for e in expr.items)
    if isinstance(expr, And):
        return "&".join(_grouped(e, (Or, And)) for e in expr.items)
    if isinstance(expr, Not):
        return "!" + _grouped(expr.operand, (Or, And))
    if isinstance(expr, ExitTest):
        return f"exit_{expr.code}"
    if isinstance(expr, ExitNotZero):
        return "exit_not_0"
    if isinstance(expr, Success):
        return "success"
    if isinstance(expr, BoolLiteral):
        return "true" if expr.value else "false"
    if isinstance(expr, OutputMatch):
        return f"{expr.stream}{'!~' if expr.negated else '~'}{_format_value(expr.pattern)}"
    if isinstance(expr, LineCount):
        count = expr.written if expr.count is None else expr.count
        return f"{expr.stream}_count{expr.op}{count}"
    if isinstance(expr, Contains):
        return f"{'not_' if expr.negated else ''}contains:{_format_value(expr.text)}"
    if isinstance(expr, Comparison):
        return f"{_format_operand(expr.left)}{expr.op}{_format_value(expr.right)}"
    if isinstance(expr, BareOperand):
        return expr.value.text()
    if isinstance(expr, MultiTask):
        return expr.kind if expr.count is None else f"{expr.kind}={expr.count}"
    raise TypeError(f"not a condition node: {expr!r}")


__all__ = [
    "ConditionError", "parse_condition", "parse_block_condition", "format_condition",
    "placeholders", "walk", "Node", "Expr", "Operand", "MAX_DEPTH", "And", "Or", "Not",
    "BareOperand", "BoolLiteral", "Comparison", "Contains", "ExitCode", "ExitNotZero",
    "ExitTest", "LineCount", "MultiTask", "OutputMatch", "Ref", "StreamField", "StreamValue",
    "Success", "Template",
]
