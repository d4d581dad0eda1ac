"""Condition expressions: text -> frozen AST, and the AST back to text.

The grammar is `grammars/condition.lark`. Globals were substituted into the
text before it gets here; task results (`@N_field@`) stay in the AST as `Ref`
parts of a `Template` and are bound only at evaluation (tasker.engine.evaluate),
so an output holding `&` or `|` can never change an expression's structure.
This module is the one place where Lark exceptions become `ConditionError`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import List, Optional, Tuple, Union

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedInput, UnexpectedToken

from tasker.grammar_loader import load_grammar
from tasker.syntax.condition_ast import (  # noqa: F401  re-exported for callers
    MAX_DEPTH, And, BareOperand, BoolLiteral, Comparison, Contains, ExitCode, ExitNotZero,
    ExitTest, LineCount, MultiTask, Node, Not, Operand, Or, OutputMatch, Expr, Ref,
    StreamField, StreamValue, Success, Template, placeholders, walk,
)
from tasker.syntax.condition_fast import quick_parse
from tasker.syntax.placeholders import RESULT_FIELDS


class ConditionError(Exception):
    """A condition that does not parse; `column` is 1-based inside the condition text."""

    def __init__(self, message: str, column: int, hint: Optional[str] = None):
        super().__init__(message, column, hint)
        self.message = message
        self.column = column
        self.hint = hint

    def __str__(self) -> str:
        return f"column {self.column}: {self.message}" + (f" ({self.hint})" if self.hint else "")


_FIELDS = "|".join(sorted(RESULT_FIELDS, key=len, reverse=True))
_REF = re.compile(rf"@([0-9]{{1,9}})_({_FIELDS})@", re.IGNORECASE)
_PLACEHOLDER_ONLY = re.compile(r"(?:@[A-Za-z0-9_]+@)+")  # task refs or unresolved globals
_FIELD_TOKEN = re.compile(r"(stdout|stderr):(.+?),(-?[0-9]+)", re.IGNORECASE | re.DOTALL)


def _template(raw: str, column: int, quote: str = "", unclosed: bool = False) -> Template:
    """Split text into literal parts and `Ref`s; `\\<quote>` inside quotes is the quote."""
    if "@" not in raw and not quote:  # the common case, kept cheap
        return Template((raw,) if raw else (), column, unclosed)
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


def _value(present: List[Token]) -> Template:
    """The Template of the optional value token (absent: the empty template)."""
    if not present:
        return Template(())
    tok = present[0]
    if tok.type == "QUOTED":
        return _template(tok[1:-1], tok.column + 1, tok[0])
    if tok.type == "UNCLOSED_QUOTED":
        return _template(tok[1:].rstrip(), tok.column + 1, tok[0], unclosed=True)
    return _template(str(tok), tok.column)


def _operand(tok: Token) -> Operand:
    """The left operand of a comparison."""
    if tok.type == "EXIT_OPERAND":
        return ExitCode(tok.column)
    if tok.type == "STREAM":
        return StreamValue(tok.lower(), tok.column)
    if tok.type == "STREAM_FIELD":
        m = _FIELD_TOKEN.fullmatch(tok)
        assert m is not None  # the lexer matched the same shape
        return StreamField(m.group(1).lower(), m.group(2), int(m.group(3)), tok.column)
    return _template(str(tok), tok.column)


def _unrecognised(tok: Token) -> ConditionError:
    """The located error for a word that is no condition (`foo`, `exit_abc`, `a,b`)."""
    low = tok.lower()
    text = tok if len(tok) <= 40 else tok[:37] + "..."  # keep messages one line long
    words = set(low.split())
    if words & {"and", "or", "not"}:
        hint = "use '&' for AND, '|' for OR and '!' for NOT"
    elif "," in tok:
        hint = "did you mean '|' (OR) instead of ','?"
    elif len(words) > 1:
        hint = "missing '&' or '|' between conditions?"
    elif low.startswith("exit_"):
        return ConditionError(f"invalid exit test '{text}'", tok.column,
                              "exit codes are integers: exit_0, exit_1, exit_not_0")
    else:
        hint = ("expected exit_N, exit_not_0, success, true, false, stdout~TEXT, "
                "LEFT=RIGHT (or != ~ !~ < <= > >=) or a placeholder such as @1_success@")
    return ConditionError(f"unrecognised condition '{text}'", tok.column, hint)


class _Build(Transformer):
    """Lark callbacks: each grammar rule becomes one AST node.

    Callbacks take the children list as is: v_args(inline=True) would add two
    Python calls per reduction, a third of the parse time.
    """

    def or_expr(self, items: List[Expr]) -> Or:
        return Or(tuple(items), items[0].column)

    def and_expr(self, items: List[Expr]) -> And:
        return And(tuple(items), items[0].column)

    def negation(self, ch: list) -> Not:
        bang, operand = ch
        return Not(operand, bang.column)

    def exit_test(self, ch: List[Token]) -> Expr:
        tok = ch[0]
        if tok.lower() == "exit_not_0":
            return ExitNotZero(tok.column)
        return ExitTest(int(tok[5:]), tok.column)

    def success(self, ch: List[Token]) -> Success:
        return Success(ch[0].column)

    def boolean(self, ch: List[Token]) -> BoolLiteral:
        return BoolLiteral(ch[0].lower() == "true", ch[0].column)

    def output_match(self, ch: List[Token]) -> OutputMatch:
        stream, op, *value = ch
        pattern = _value(value)
        # `stdout~""` is the emptiness test too: an empty pattern means "nothing".
        return OutputMatch(stream.lower(), pattern if pattern.parts else None, op == "!~",
                           stream.column)

    def line_count(self, ch: List[Token]) -> LineCount:
        stream, op, count = ch
        return LineCount(stream[:6].lower(), str(op), int(count), stream.column)

    def legacy_contains(self, ch: List[Token]) -> Contains:
        word, *value = ch
        return Contains(_value(value), word.lower().startswith("not_"), word.column)

    def comparison(self, ch: List[Token]) -> Comparison:
        left, op, *value = ch
        return Comparison(_operand(left), str(op), _value(value), left.column)

    def bare_operand(self, ch: List[Token]) -> BareOperand:
        tok = ch[0]
        if not _PLACEHOLDER_ONLY.fullmatch(tok):
            raise _unrecognised(tok)
        return BareOperand(_template(str(tok), tok.column), tok.column)

    def multi_task(self, ch: List[Token]) -> MultiTask:
        word, *rest = ch
        if rest and rest[0] != "=":
            raise ConditionError(f"'{word}' takes '=' (not '{rest[0]}')", rest[0].column,
                                 f"write {word.lower()}=N")
        return MultiTask(word.lower(), int(rest[1]) if rest else None, word.column)


@lru_cache(maxsize=None)
def _parser() -> Lark:
    """The condition parser, built on first use (start-up stays cheap)."""
    # Columns come from the tokens: the inline transformer returns dataclasses, not Trees,
    # so propagate_positions would only add a wrapper call to every reduction (~15%).
    return Lark(load_grammar("condition"), parser="lalr", transformer=_Build(), cache=True)


# ---- errors ------------------------------------------------------------------------------
def _unclosed_paren(text: str) -> Optional[int]:
    """Column of the first '(' that is never closed (quoted text skipped)."""
    stack: List[int] = []
    quote = ""
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote and text[i - 1] != "\\" else quote
        elif ch in "\"'" and text.find(ch, i + 1) != -1:
            quote = ch
        elif ch == "(":
            stack.append(i)
        elif ch == ")" and stack:
            stack.pop()
    return stack[0] + 1 if stack else None


def _expected(e: UnexpectedInput) -> set:
    """Names of the terminals the parser (or the lexer) would have accepted."""
    return set(getattr(e, "expected", None) or getattr(e, "allowed", None) or ())


def _at_end(text: str, e: UnexpectedInput) -> ConditionError:
    """The error for a condition that stops too early."""
    before = text.rstrip()
    prev = before[-1:]
    if prev in ("&", "|"):
        return ConditionError(f"condition cannot end with '{prev}'", len(before),
                              f"remove the trailing '{prev}' or add a condition after it")
    if prev == "!":
        return ConditionError("expected a condition after '!'", len(before), None)
    if "RPAR" in _expected(e) or prev == "(":
        col = _unclosed_paren(text)
        where = f" at column {col}" if col else ""
        return ConditionError("unbalanced parentheses: missing ')'", col or len(text) + 1,
                              f"close the '('{where} or remove it")
    return ConditionError("incomplete condition", len(text) + 1,
                          "an operator and a value are missing, e.g. stdout~TEXT or exit!=0")


def _located(text: str, e: UnexpectedInput) -> ConditionError:
    """Turn a Lark exception into a ConditionError with a column and a hint."""
    if isinstance(e, UnexpectedToken) and e.token.type == "$END":
        return _at_end(text, e)
    pos = e.pos_in_stream if e.pos_in_stream is not None else len(text)
    col, got = pos + 1, text[pos:pos + 1]
    prev = text[:pos].rstrip()[-1:]
    if got in ("&", "|"):
        if prev == got:
            return ConditionError(f"'{got}{got}' is not an operator", col,
                                  f"use a single '{got}'")
        if prev in ("", "("):
            return ConditionError(f"a condition cannot start with '{got}'", col,
                                  f"remove the '{got}' or put a condition before it")
        if prev in ("&", "|", "!"):
            return ConditionError(f"expected a condition before '{got}'", col, None)
    if got == ")":
        if prev == "(":
            return ConditionError("empty parentheses", col - 1, "put a condition inside '()'")
        if prev in ("&", "|", "!"):
            return ConditionError(f"expected a condition after '{prev}'", col, None)
        return ConditionError("unbalanced parentheses: ')' without '('", col,
                              "remove the ')' or add the missing '('")
    if got == "(":
        after_value = "COMPARE_OP" not in _expected(e)
        return ConditionError("unexpected '('", col,
                              "parentheses in an unquoted value must balance (3 levels at "
                              "most): quote the value, stdout~\"a (b\""
                              if after_value else "missing '&' or '|' before '('?")
    if "COUNT" in _expected(e):
        return ConditionError("expected a whole number", col, "e.g. stdout_count>2")
    shown = got if got.isprintable() else repr(got)
    return ConditionError(f"unexpected '{shown}'", col,
                          "quote the value if it holds special characters: stdout~\"...\"")


# ---- public API --------------------------------------------------------------------------
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
    try:
        expr = _parser().parse(text)
    except UnexpectedInput as e:
        raise _located(text, e) from None
    _check(expr, allow_block)
    return expr


@lru_cache(maxsize=16384)
def parse_condition(text: str) -> Expr:
    """Parse a task condition (`success=`, `condition=`, `next=`, ...); raise ConditionError."""
    return _parse(text, allow_block=False)


@lru_cache(maxsize=4096)
def parse_block_condition(text: str) -> Expr:
    """Parse a block's `success=`/`next=`: conditions plus the multi-task forms of II.5.3."""
    return _parse(text, allow_block=True)


# ---- printer -----------------------------------------------------------------------------
@lru_cache(maxsize=None)
def _value_pattern() -> "re.Pattern[str]":
    """The grammar's own VALUE regex, so the printer quotes exactly when the lexer needs it."""
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
        return f"{expr.stream}_count{expr.op}{expr.count}"
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
