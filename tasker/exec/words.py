"""Words of an `arguments` template: the author's quotes group, inserted data never does.

A template is a sequence of pieces: `str` pieces are the author's text (the
field as written, with `$VAR`s and globals already in), any other piece is a
slot that is filled at run time with data (a task result). The author's text
is split into words by POSIX rules, exactly as `shlex.split(text, posix=True)`
splits it: blanks (space, tab, CR, LF) separate words, quotes group and are
removed, a backslash outside quotes makes the next character plain, and inside
double quotes it escapes only `"` and a backslash. Data is never read as
syntax, as a POSIX shell treats a variable: outside quotes it is cut at space,
tab and newline and at nothing else; inside quotes it is part of the word,
verbatim. Quotes, backslashes, `$` and `@` in data are plain characters.

The quoting of a template is known before any slot is filled, so the template
is compiled once into a plan (`compile_words`) and the plan is filled with
values (`fill_words`); only the template can be unbalanced, never the data.
"""

from __future__ import annotations

import re
from typing import Any, Callable, List, Sequence, Tuple, cast

ValueOf = Callable[[Any], str]  # a slot -> the data to insert
Plan = Tuple[object, ...]  # str (literal text), _BREAK, _MARK or (slot, quoted)

_TEMPLATE_BLANKS = re.compile(r"[ \t\r\n]+")  # shlex's whitespace in POSIX mode
_DATA_BLANKS = re.compile(r"[ \t\n]+")  # what cuts inserted data: a shell's default IFS
_PLAIN = re.compile(r"[^ \t\r\n'\"\\]+")
_DOUBLE_PLAIN = re.compile(r'[^"\\]+')
_SPECIAL = re.compile(r"[\"'\\]")
_BREAK = object()  # a blank of the template: the word in progress ends here
_MARK = object()  # a quote opened: the word exists even if nothing more comes (`''`)
_PLAIN_STATE, _SINGLE, _DOUBLE = 0, 1, 2


class ArgumentsError(ValueError):
    """An `arguments` value that cannot be split into words (unbalanced quotes)."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(message)
        self.message = message
        self.column = column  # 1-based, inside the template text (a slot counts as its text)


def split_arguments(text: str) -> List[str]:
    """Split a text without slots into words by POSIX shell rules; ArgumentsError if unbalanced."""
    if not _SPECIAL.search(text):
        return [word for word in _TEMPLATE_BLANKS.split(text) if word]  # (the commonest case)
    return fill_words(compile_words((text,)), str)


def fill_text(pieces: Sequence[object], value_of: ValueOf) -> str:
    """The template as one text with each slot's value inserted verbatim (a shell line)."""
    return "".join(piece if isinstance(piece, str) else value_of(piece) for piece in pieces)


def fill_words(plan: Plan, value_of: ValueOf) -> List[str]:
    """The words of a compiled template, each slot filled with `value_of(slot)` as data."""
    words: List[str] = []
    parts: List[str] = []
    started = False  # a word is in progress (it may still be empty: `""`)
    for op in plan:
        if type(op) is str:
            parts.append(op)
            started = True
        elif op is _BREAK:
            if started:
                words.append("".join(parts))
                parts.clear()
                started = False
        elif op is _MARK:
            started = True
        else:
            slot, quoted = cast(Tuple[object, bool], op)
            value = value_of(slot)
            if quoted:
                parts.append(value)
            else:
                started = _insert_unquoted(value, words, parts, started)
    if started:
        words.append("".join(parts))
    return words


def _insert_unquoted(value: str, words: List[str], parts: List[str], started: bool) -> bool:
    """Add data outside quotes: its first piece joins the word in progress, each blank ends
    a word. Returns whether a word is in progress afterwards."""
    pieces = _DATA_BLANKS.split(value)
    if pieces[0]:
        parts.append(pieces[0])
        started = True
    for piece in pieces[1:]:
        if started:
            words.append("".join(parts))
            parts.clear()
            started = False
        if piece:
            parts.append(piece)
            started = True
    return started


class _Compiler:
    """The state of one left-to-right reading of a template's text."""

    def __init__(self) -> None:
        self.ops: List[object] = []
        self.state = _PLAIN_STATE
        self.opened = 0  # 0-based offset of the quote that opened the current quoted part
        self.offset = 0  # 0-based offset of the current piece in the template text

    def literal(self, text: str) -> None:
        if text:
            if self.ops and type(self.ops[-1]) is str:
                self.ops[-1] += text
            else:
                self.ops.append(text)

    def text(self, text: str, slot_follows: bool) -> None:
        """Read one text piece; `slot_follows` tells a backslash before a slot from one
        that ends the template."""
        i, end = 0, len(text)
        while i < end:
            if self.state == _SINGLE:
                i = self._single(text, i)
            elif self.state == _DOUBLE:
                i = self._double(text, i)
            else:
                i = self._plain(text, i, slot_follows)
        self.offset += end

    def _plain(self, text: str, i: int, slot_follows: bool) -> int:
        char = text[i]
        if char in " \t\r\n":
            self.ops.append(_BREAK)
            return _TEMPLATE_BLANKS.match(text, i).end()  # type: ignore[union-attr]
        if char in "'\"":
            self.state = _SINGLE if char == "'" else _DOUBLE
            self.opened = self.offset + i
            self.ops.append(_MARK)
            return i + 1
        if char == "\\":
            if i + 1 < len(text):
                self.literal(text[i + 1])
                return i + 2
            if not slot_follows:
                column = self.offset + i + 1
                raise ArgumentsError(f"the backslash at column {column} ends the arguments "
                                     "and escapes nothing", column)
            return i + 1  # before a slot it escapes nothing: data is plain anyway
        match = _PLAIN.match(text, i)
        self.literal(match.group())  # type: ignore[union-attr]
        return match.end()  # type: ignore[union-attr]

    def _single(self, text: str, i: int) -> int:
        close = text.find("'", i)
        if close < 0:
            self.literal(text[i:])
            return len(text)
        self.literal(text[i:close])
        self.state = _PLAIN_STATE
        return close + 1

    def _double(self, text: str, i: int) -> int:
        char = text[i]
        if char == '"':
            self.state = _PLAIN_STATE
            return i + 1
        if char == "\\":
            if i + 1 == len(text):
                self.literal("\\")  # (before a slot, or an unclosed quote reported at the end)
                return i + 1
            nxt = text[i + 1]
            self.literal(nxt if nxt in '"\\' else "\\" + nxt)
            return i + 2
        match = _DOUBLE_PLAIN.match(text, i)
        self.literal(match.group())  # type: ignore[union-attr]
        return match.end()  # type: ignore[union-attr]

    def slot(self, slot: object, text_length: int) -> None:
        self.ops.append((slot, self.state != _PLAIN_STATE))
        self.offset += text_length

    def finish(self) -> Plan:
        if self.state != _PLAIN_STATE:
            kind = "double" if self.state == _DOUBLE else "single"
            column = self.opened + 1
            raise ArgumentsError(f"unbalanced quotes: the {kind} quote at column {column} is "
                                 "never closed", column)
        return tuple(self.ops)


def compile_words(pieces: Sequence[object]) -> Plan:
    """The plan of a template (text pieces and slots); ArgumentsError when its quotes do
    not balance. In error columns a slot counts as its `text` (`@3_stdout@`), if it has one."""
    pieces = _joined(pieces)
    compiler = _Compiler()
    for index, piece in enumerate(pieces):
        if isinstance(piece, str):
            compiler.text(piece, slot_follows=index + 1 < len(pieces))
        else:
            compiler.slot(piece, len(getattr(piece, "text", "")))
    return compiler.finish()


def _joined(pieces: Sequence[object]) -> List[object]:
    """The pieces with adjacent texts joined, so that a text is always followed by a slot
    or by the end of the template."""
    out: List[object] = []
    for piece in pieces:
        if isinstance(piece, str) and out and isinstance(out[-1], str):
            out[-1] += piece
        elif not (isinstance(piece, str) and not piece):
            out.append(piece)
    return out
