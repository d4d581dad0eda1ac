"""A fast path for the commonest conditions: simple atoms, no groups, no quotes.

Lark's LALR parser costs 50-100 microseconds per condition, and a 10,000-task
file has 10,000 distinct conditions such as `@41_exit@=0`. Most conditions
are a few atoms of a few shapes (`exit_0`, `stdout~ready`, `@3_exit@!=0`,
`success`) joined by `&`/`|`, which regular expressions recognise in a few
microseconds.

The grammar stays the definition of the language: this module only answers
for texts it is sure about and returns None for everything else, which then
goes to Lark. A property test checks that whenever it answers, the AST
(columns included) is exactly the one Lark builds.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Optional

from tasker.syntax.condition_ast import (
    And, Or, BoolLiteral, Comparison, ExitCode, ExitNotZero, ExitTest, Expr, Operand, OutputMatch,
    Ref, StreamValue, Success, Template,
)
from tasker.syntax.placeholders import RESULT_FIELD_PATTERN

_FIELDS = RESULT_FIELD_PATTERN
MAX_QUICK = 400  # longer texts go to the grammar
# An unquoted value without groups: no & | ( ) and no quotes anywhere.
_VALUE = r"(?P<value>[^\s&|()\"'][^&|()\"']*?)?"
_OP = r"(?P<op>!=|<=|>=|=|<|>)"
_ODD_BLANKS = re.compile(r"[\f\r\n\v]")
_WORD = re.compile(r"\s*(?P<word>(?i:exit_(?:not_0|-?[0-9]{1,300})|success|true|false))\s*")
_MATCH = re.compile(rf"\s*(?P<stream>(?i:stdout|stderr))\s*(?P<op>!~|~)\s*{_VALUE}\s*")
_COMPARE = re.compile(
    rf"\s*(?P<left>(?i:exit_code|exit|stdout|stderr)"
    rf"|@(?P<ref_id>[0-9]{{1,9}})_(?P<ref_field>(?i:{_FIELDS}))@)\s*{_OP}\s*{_VALUE}\s*")
_REF_MATCH = re.compile(
    rf"\s*(?P<left>@[0-9]{{1,9}}_(?i:{_FIELDS})@)\s*(?P<op>!~|~)\s*{_VALUE}\s*")
# Literal text on the left (`production=production` once a global is substituted):
# plain words only, and none that starts like one of the grammar's keywords.
_TEXT_COMPARE = re.compile(
    rf"\s*(?P<left>[A-Za-z0-9_.@/-]+(?:[ \t]+[A-Za-z0-9_.@/-]+)*)\s*(?P<op>!=|<=|>=|=|<|>|!~|~)"
    rf"\s*{_VALUE}\s*")
_KEYWORD_START = ("exit", "stdout", "stderr", "success", "true", "false", "min_", "max_",
                  "contains", "not_contains", "all_success", "any_success", "majority_success",
                  "always", "never")


_WORD_OPERATORS = frozenset({"and", "or", "not"})
_BLANK_WORD = re.compile(r"\S+")


def word_operator(left: str) -> Optional[int]:
    """0-based offset of AND, OR or NOT written as a word in a several-word left operand.

    2.1 removed the word operators; `exit_0 AND stdout~ok` would otherwise read as
    the literal text "exit_0 AND stdout" compared with "ok", silently false. Both
    parser paths reject it (the Lark side with a located error).
    """
    words = list(_BLANK_WORD.finditer(left))
    if len(words) < 2:
        return None
    return next((w.start() for w in words if w.group().lower() in _WORD_OPERATORS), None)


def _word(m: "re.Match[str]") -> Expr:
    word, col = m.group("word").lower(), m.start("word") + 1
    if word == "success":
        return Success(col)
    if word in ("true", "false"):
        return BoolLiteral(word == "true", col)
    if word == "exit_not_0":
        return ExitNotZero(col)
    return ExitTest(int(word[5:]), col)


class _Recognized:
    """What the fast path answers in recognition mode: "valid, AST not built"."""

    def __repr__(self) -> str:
        return "<recognized>"


RECOGNIZED: Any = _Recognized()


def quick_parse(text: str, template: Callable[[str, int], Template],
                build: bool = True) -> Optional[Expr]:
    """The AST of simple atoms joined by `&` and `|`, or None when Lark must decide.

    `template` is the parser's own text -> Template builder, so literal parts
    and `@N_field@` references are split exactly as the grammar path does.
    Without parentheses and quotes, `&` and `|` can only be operators, so the
    text splits at them; `|` binds loosest, and both are n-ary as in the grammar.

    With `build` False the same recognition runs without building the tree: the
    answer is RECOGNIZED (the text is valid, and building it cannot fail) or None.
    """
    if len(text) > MAX_QUICK or not text.isascii() or _ODD_BLANKS.search(text):
        return None  # unusual text: let the grammar decide
    if "|" not in text and "&" not in text:  # one atom: most conditions
        return _atom(text, 0, len(text), template, build)
    alternatives = []
    start = 0
    for part in text.split("|"):
        end = start + len(part)
        conj = _conjunction(text, start, end, template, build)
        if conj is None:
            return None
        alternatives.append(conj)
        start = end + 1
    if len(alternatives) == 1 or not build:
        return alternatives[0]
    return Or(tuple(alternatives), alternatives[0].column)


def _conjunction(text: str, start: int, end: int,
                 template: Callable[[str, int], Template], build: bool) -> Optional[Expr]:
    """Atoms joined by `&` between text[start:end], or None."""
    items = []
    pos = start
    while True:
        amp = text.find("&", pos, end)
        stop = end if amp < 0 else amp
        atom = _atom(text, pos, stop, template, build)
        if atom is None:
            return None
        items.append(atom)
        if amp < 0:
            break
        pos = amp + 1
    return items[0] if len(items) == 1 or not build else And(tuple(items), items[0].column)


def _atom(text: str, start: int, end: int,
          template: Callable[[str, int], Template], build: bool) -> Optional[Expr]:
    """One atom spanning text[start:end]; match positions are absolute, so are columns."""
    if text.startswith("@", start):  # `@N_field@ OP value`: only these forms start so
        m = _COMPARE.fullmatch(text, start, end) or _REF_MATCH.fullmatch(text, start, end)
        if m:
            return _comparison(m, template) if build else RECOGNIZED
        m = _TEXT_COMPARE.fullmatch(text, start, end)  # e.g. an unresolved `@NAME@`
        return _text_comparison(m, template, build) if m else None
    m = _WORD.fullmatch(text, start, end)
    if m:
        return _word(m) if build else RECOGNIZED
    m = _MATCH.fullmatch(text, start, end)
    if m:
        if not build:
            return RECOGNIZED
        value = m.group("value")
        pattern = template(value, m.start("value") + 1) if value else None
        return OutputMatch(m.group("stream").lower(), pattern, m.group("op") == "!~",
                           m.start("stream") + 1)
    m = _COMPARE.fullmatch(text, start, end) or _REF_MATCH.fullmatch(text, start, end)
    if m:
        return _comparison(m, template) if build else RECOGNIZED
    m = _TEXT_COMPARE.fullmatch(text, start, end)
    return _text_comparison(m, template, build) if m else None


def _text_comparison(m: "re.Match[str]", template: Callable[[str, int], Template],
                     build: bool) -> Optional[Expr]:
    """Literal text on the left, unless it reads like a keyword or uses a word operator."""
    left = m.group("left")
    if left.lower().startswith(_KEYWORD_START) or word_operator(left) is not None:
        return None
    return _comparison(m, template) if build else RECOGNIZED


def _comparison(m: "re.Match[str]", template: Callable[[str, int], Template]) -> Expr:
    left, op, value = m.group("left", "op", "value")
    col = m.start("left") + 1
    ref_id = m.group("ref_id") if "ref_id" in m.re.groupindex else None
    if ref_id is not None:  # one reference, split by the regex already
        operand: Operand = Template((Ref(int(ref_id), m.group("ref_field").lower(), col),), col)
    else:
        low = left.lower()
        if low in ("exit", "exit_code"):
            operand = ExitCode(col)
        elif low in ("stdout", "stderr"):
            operand = StreamValue(low, col)
        else:
            operand = template(left, col)
    right = template(value, m.start("value") + 1) if value else Template(())
    return Comparison(operand, op, right, col)
