"""The Lark side of the condition parser: grammar callbacks and error locations.

The grammar is `grammars/condition.lark`; the parser is built once per process,
when the first condition is parsed. This module is the one place where Lark
exceptions become `ConditionError`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING, List, Optional, Set, Union, cast

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from tasker.grammar_loader import load_grammar
from tasker.syntax.condition_ast import (
    And,
    BareOperand,
    BoolLiteral,
    Comparison,
    ConditionError,
    Contains,
    ExitCode,
    ExitNotZero,
    ExitTest,
    Expr,
    LineCount,
    MultiTask,
    Not,
    Operand,
    Or,
    OutputMatch,
    StreamField,
    StreamValue,
    Success,
    Template,
    template,
)
from tasker.syntax.lines import position

if TYPE_CHECKING:
    from lark.parsers.lalr_interactive_parser import InteractiveParser


def parse_text(text: str) -> Expr:
    """Parse with the grammar; ConditionError with a column on failure."""
    try:
        # Lark types parse() as returning a Tree; with a transformer built in, it returns
        # what the callbacks build from the start rule: an Expr.
        return cast(Expr, _parser().parse(text))
    except UnexpectedInput as e:
        raise _located(text, e) from None


def terminal_regex(name: str) -> "re.Pattern[str]":
    """The compiled regular expression of one of the grammar's terminals (for the printer)."""
    return re.compile(_parser().get_terminal(name).pattern.to_regexp())


def _column(tok: Token) -> int:
    """The 1-based column of a token inside the condition text."""
    return position(tok)[1]


def _value(present: List[Token]) -> Template:
    """The Template of the optional value token (absent: the empty template)."""
    if not present:
        return Template(())
    tok = present[0]
    if tok.type == "QUOTED":
        return template(tok[1:-1], _column(tok) + 1, tok[0])
    if tok.type == "QUOTED_RUN":  # `"a":"b"`: outer quotes off when it ends in the same one
        if tok[-1] == tok[0]:
            return template(tok[1:-1], _column(tok) + 1)
        return template(str(tok), _column(tok))
    if tok.type == "UNCLOSED_QUOTED":
        return template(tok[1:].rstrip(), _column(tok) + 1, tok[0], unclosed=True)
    return template(str(tok), _column(tok))


def _operand(tok: Token) -> Operand:
    """The left operand of a comparison."""
    if tok.type == "EXIT_OPERAND":
        return ExitCode(_column(tok))
    if tok.type == "STREAM":
        return StreamValue(tok.lower(), _column(tok))
    if tok.type == "STREAM_FIELD":  # `stdout:DELIM,IDX`; IDX holds no comma, DELIM may
        delimiter, index = tok[7:].rsplit(",", 1)
        return StreamField(tok[:6].lower(), delimiter, int(index), _column(tok))
    offset = word_operator(tok)
    if offset is not None:
        word = tok[offset:].split()[0]
        raise ConditionError(f"'{word}' is not an operator", _column(tok) + offset,
                             "use '&' for AND, '|' for OR and '!' for NOT")
    return template(str(tok), _column(tok))


_WORD_OPERATORS = frozenset({"and", "or", "not"})
_BLANK_WORD = re.compile(r"\S+")


def word_operator(left: str) -> Optional[int]:
    """0-based offset of AND, OR or NOT written as a word in a several-word left operand.

    2.1 removed the word operators; `exit_0 AND stdout~ok` would otherwise read as
    the literal text "exit_0 AND stdout" compared with "ok", silently false.
    """
    words = list(_BLANK_WORD.finditer(left))
    if len(words) < 2:
        return None
    return next((w.start() for w in words if w.group().lower() in _WORD_OPERATORS), None)


def _comma_error(comma: Token) -> ConditionError:
    """The error for a comma the grammar read between two tests (`exit_0,stdout~x`)."""
    return ConditionError("',' is not an operator", _column(comma),
                          "use '&' (AND) or '|' (OR) instead of ','")


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
        return ConditionError(f"invalid exit test '{text}'", _column(tok),
                              "exit codes are integers: exit_0, exit_1, exit_not_0")
    else:
        hint = ("expected exit_N, exit_not_0, success, true, false, stdout~TEXT, "
                "LEFT=RIGHT (or != ~ !~ < <= > >=) or a placeholder such as @1_success@")
    return ConditionError(f"unrecognised condition '{text}'", _column(tok), hint)


class _Build(Transformer[Token, Expr]):
    """Lark callbacks: each grammar rule becomes one AST node.

    Callbacks take the children list as is: v_args(inline=True) would add two
    Python calls per reduction, a third of the parse time.
    """

    def or_expr(self, items: List[Expr]) -> Or:
        return Or(tuple(items), items[0].column)

    def and_expr(self, items: List[Expr]) -> And:
        return And(tuple(items), items[0].column)

    def negation(self, ch: List[Union[Token, Expr]]) -> Not:
        bang, operand = ch  # NOT not_expr
        if not isinstance(bang, Token) or isinstance(operand, Token):
            raise TypeError(f"negation: '!' and a condition expected, not {ch!r}")
        return Not(operand, _column(bang))

    def exit_test(self, ch: List[Token]) -> Expr:
        tok = ch[0]
        if tok.lower() == "exit_not_0":
            return ExitNotZero(_column(tok))
        return ExitTest(int(tok[5:]), _column(tok))

    def success(self, ch: List[Token]) -> Success:
        return Success(_column(ch[0]))

    def boolean(self, ch: List[Token]) -> BoolLiteral:
        return BoolLiteral(ch[0].lower() == "true", _column(ch[0]))

    def output_match(self, ch: List[Token]) -> OutputMatch:
        stream, op, *value = ch
        pattern = _value(value)
        # `stdout~""` is the emptiness test too: an empty pattern means "nothing".
        return OutputMatch(stream.lower(), pattern if pattern.parts else None, op == "!~",
                           _column(stream))

    def line_count(self, ch: List[Token]) -> LineCount:
        stream, op, count = ch
        text = str(count)
        if op in ("~", "!~") or not _WHOLE.fullmatch(text):  # never true, as in HEAD
            return LineCount(stream[:6].lower(), str(op), None, _column(stream), text)
        return LineCount(stream[:6].lower(), str(op), int(text), _column(stream))

    def legacy_contains(self, ch: List[Token]) -> Contains:
        word, *value = ch
        return Contains(_value(value), word.lower().startswith("not_"), _column(word))

    def comparison(self, ch: List[Token]) -> Comparison:
        left, op, *value = ch
        return Comparison(_operand(left), str(op), _value(value), _column(left))

    def bare_operand(self, ch: List[Token]) -> BareOperand:
        tok = ch[0]
        return BareOperand(template(str(tok), _column(tok)), _column(tok))

    def unrecognised(self, ch: List[Token]) -> Expr:
        raise _unrecognised(ch[0])

    def misplaced_comma(self, ch: List[Union[Token, Expr]]) -> Expr:
        comma = ch[1]  # atom COMMA
        if not isinstance(comma, Token):
            raise TypeError(f"misplaced_comma: a condition and a comma expected, not {ch!r}")
        raise _comma_error(comma)

    def multi_task(self, ch: List[Token]) -> MultiTask:
        word, *rest = ch
        if rest and rest[0] != "=":
            raise ConditionError(f"'{word}' takes '=' (not '{rest[0]}')", _column(rest[0]),
                                 f"write {word.lower()}=N")
        return MultiTask(word.lower(), int(rest[1]) if rest else None, _column(word))


@lru_cache(maxsize=None)
def _parser() -> Lark:
    """The condition parser, built on first use: a file without conditions never pays for it."""
    # Columns come from the tokens: the inline transformer returns dataclasses, not Trees,
    # so propagate_positions would only add a wrapper call to every reduction (~15%).
    return Lark(load_grammar("condition"), parser="lalr", transformer=_Build())


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


def _expected(e: UnexpectedInput) -> Set[str]:
    """Names of the terminals the parser (or the lexer) would have accepted."""
    if isinstance(e, UnexpectedToken):
        return set(e.expected)
    if isinstance(e, UnexpectedCharacters):
        return set(e.allowed or ())  # (None when the lexer was given no set)
    return set()


_WHOLE = re.compile(r"[+-]?[0-9]{1,300}")  # a count (COUNT or, lexed first, VALUE)

# A count word and its operator right before the error (`min_success=` in `min_success=x`),
# and the same with a number already read (`min_success=2` in `min_success=2.5`).
_COUNT_WORD = re.compile(r"(?P<word>(?i:(?:min|max)_(?:success|failed)|(?:stdout|stderr)_count))"
                         r"\s*(?:!=|<=|>=|=|<|>)\s*\Z")
_COUNT_SO_FAR = re.compile(r"(?P<word>(?i:(?:min|max)_(?:success|failed)|(?:stdout|stderr)"
                           r"_count))\s*(?:!=|<=|>=|=|<|>)\s*(?P<n>[+-]?[0-9]+)\Z")


def _count_hint(word: str) -> str:
    """An example for the count after `word`."""
    if word.lower().startswith(("min_", "max_")):
        return f"a number of sub-tasks, e.g. {word.lower()}=2"
    return f"a number of lines, e.g. {word.lower()}>2"


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
        col = _unclosed_paren(text)  # (the error points at it: the hint need not count)
        return ConditionError("unbalanced parentheses: missing ')'", col or len(text) + 1,
                              "close the '(' or remove it" if col else "add the missing ')'")
    count = _COUNT_WORD.search(before)
    if count:  # `stdout_count>` with nothing after it
        return ConditionError("expected a whole number", len(before) + 1,
                              _count_hint(count.group("word")))
    return ConditionError("incomplete condition", len(text) + 1,
                          "an operator and a value are missing, e.g. stdout~TEXT or exit!=0")


def _after_comma(e: UnexpectedInput) -> Optional[Token]:
    """The COMMA the parser read last, when the error comes right after one (`(a),`)."""
    # UnexpectedInput declares it, but only the LALR parser's own error handler sets it
    # (on the lexer's errors too): an error raised anywhere else has none.
    parser: Optional[InteractiveParser] = getattr(e, "interactive_parser", None)
    stack = parser.parser_state.value_stack if parser is not None else ()
    last = stack[-1] if stack else None
    return last if isinstance(last, Token) and last.type == "COMMA" else None


def _located(text: str, e: UnexpectedInput) -> ConditionError:
    """Turn a Lark exception into a ConditionError with a column and a hint."""
    comma = _after_comma(e)
    if comma is not None:
        return _comma_error(comma)
    if isinstance(e, UnexpectedToken) and e.token.type == "$END":
        return _at_end(text, e)
    # Lark's base class declares `pos_in_stream = None` (so a checker takes it for always
    # None); its errors set the offset in the text, or leave None when there is none.
    where: Optional[int] = e.pos_in_stream
    pos = where if where is not None else len(text)
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
                              "parentheses in an unquoted value must balance (6 levels at "
                              "most): quote the value, stdout~\"a (b\""
                              if after_value else "missing '&' or '|' before '('?")
    count = _COUNT_SO_FAR.search(text, 0, pos)
    if count and got not in ("&", "|", ")", " "):  # `min_success=2.5`: the count goes on
        return ConditionError("expected a whole number", count.start("n") + 1,
                              _count_hint(count.group("word")))
    if "COUNT" in _expected(e):
        word = _COUNT_WORD.search(text, 0, pos)
        return ConditionError("expected a whole number", col,
                              _count_hint(word.group("word") if word else "stdout_count"))
    shown = got if got.isprintable() else repr(got)
    return ConditionError(f"unexpected '{shown}'", col,
                          "quote the value if it holds special characters: stdout~\"...\"")

