"""A fast path for the commonest conditions: one atom, no groups, no quotes.

Lark's LALR parser costs 50-100 microseconds per condition, and a 10,000-task
file has 10,000 distinct conditions such as `@41_exit@=0`. Most conditions
are a single atom of a few shapes (`exit_0`, `stdout~ready`, `@3_exit@!=0`,
`success`), which a regular expression recognises in a few microseconds.

The grammar stays the definition of the language: this module only answers
for texts it is sure about and returns None for everything else, which then
goes to Lark. A property test checks that whenever it answers, the AST
(columns included) is exactly the one Lark builds.
"""

from __future__ import annotations

import re
from typing import Callable, Optional

from tasker.syntax.condition_ast import (
    BoolLiteral, Comparison, ExitCode, ExitNotZero, ExitTest, Expr, OutputMatch, StreamValue,
    Success, Template,
)
from tasker.syntax.placeholders import RESULT_FIELDS

_FIELDS = "|".join(sorted(RESULT_FIELDS, key=len, reverse=True))
# An unquoted value without groups: no & | ( ) and no quotes anywhere.
_VALUE = r"(?P<value>[^\s&|()\"'][^&|()\"']*?)?"
_OP = r"(?P<op>!=|<=|>=|=|<|>)"
_ODD_BLANKS = re.compile(r"[\f\r\n\v]")
_WORD = re.compile(r"\s*(?P<word>(?i:exit_(?:not_0|-?[0-9]{1,10})|success|true|false))\s*")
_MATCH = re.compile(rf"\s*(?P<stream>(?i:stdout|stderr))\s*(?P<op>!~|~)\s*{_VALUE}\s*")
_COMPARE = re.compile(
    rf"\s*(?P<left>(?i:exit_code|exit|stdout|stderr)|@[0-9]{{1,9}}_(?i:{_FIELDS})@)"
    rf"\s*{_OP}\s*{_VALUE}\s*")
_REF_MATCH = re.compile(
    rf"\s*(?P<left>@[0-9]{{1,9}}_(?i:{_FIELDS})@)\s*(?P<op>!~|~)\s*{_VALUE}\s*")


def _word(m: "re.Match[str]") -> Expr:
    word, col = m.group("word").lower(), m.start("word") + 1
    if word == "success":
        return Success(col)
    if word in ("true", "false"):
        return BoolLiteral(word == "true", col)
    if word == "exit_not_0":
        return ExitNotZero(col)
    return ExitTest(int(word[5:]), col)


def quick_parse(text: str, template: Callable[[str, int], Template]) -> Optional[Expr]:
    """The AST of a single simple atom, or None when Lark must decide.

    `template` is the parser's own text -> Template builder, so literal parts
    and `@N_field@` references are split exactly as the grammar path does.
    """
    if len(text) > 200 or not text.isascii() or _ODD_BLANKS.search(text):
        return None  # unusual text: let the grammar decide
    m = _WORD.fullmatch(text)
    if m:
        return _word(m)
    m = _MATCH.fullmatch(text)
    if m:
        value = m.group("value")
        pattern = template(value, m.start("value") + 1) if value else None
        return OutputMatch(m.group("stream").lower(), pattern, m.group("op") == "!~",
                           m.start("stream") + 1)
    m = _COMPARE.fullmatch(text) or _REF_MATCH.fullmatch(text)
    if m:
        return _comparison(m, template)
    return None


def _comparison(m: "re.Match[str]", template: Callable[[str, int], Template]) -> Expr:
    left, col = m.group("left"), m.start("left") + 1
    low = left.lower()
    if low in ("exit", "exit_code"):
        operand = ExitCode(col)
    elif low in ("stdout", "stderr"):
        operand = StreamValue(low, col)
    else:
        operand = template(left, col)
    value = m.group("value")
    right = template(value, m.start("value") + 1) if value else Template(())
    return Comparison(operand, m.group("op"), right, col)
