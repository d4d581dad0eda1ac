"""Read a task file and lex it into lines with the Lark grammar `grammars/taskfile.lark`.

The grammar's lexer yields one token per non-blank line, in file order: its kind
(COMMENT, CLI_ARG, PAIR or STRAY), the line's text, and the line and column where
that text starts. Giving the lines their meaning (header arguments, globals, task
blocks) is `taskfile.py`'s job. Also here: reading the file as text, and the
inline-comment check and the one-scan shortcuts the loader and validator share.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator, Sequence, Set, Tuple

from tasker.syntax.diagnostics import TaskFileError, TaskFileUnreadable, error

if TYPE_CHECKING:  # (Lark is imported when the first file is lexed: --help stays cheap)
    from lark import Lark, Token

# The grammar's terminals: a token's `type` is one of these.
COMMENT, CLI_ARG, PAIR, STRAY = "COMMENT", "CLI_ARG", "PAIR", "STRAY"


@lru_cache(maxsize=None)
def _lark() -> "Lark":
    """The task-file grammar's lexer, built once per process, when the first file is lexed.

    Only the lexer is built and run (`parser=None`): the grammar is one token per
    line, and a parse with a tree would cost several times the whole of loading a
    large file. Lark still reads and checks the whole grammar, and a test parses
    files with its `start` rule too.
    """
    from lark import Lark

    from tasker.grammar_loader import load_grammar

    return Lark(load_grammar("taskfile"), parser=None, lexer="basic")


def tokens(text: str) -> Iterator["Token"]:
    """The line tokens of `text` in file order, made as they are read.

    A token's `type` is its kind, its `line` and `column` where the line's text
    starts; its value runs on through the blanks that follow (see the grammar):
    `str(token).rstrip()` is the line's text. The grammar gives every character
    a terminal, so lexing cannot fail.
    """
    return _lark().lex(text)


def position(token: "Token") -> Tuple[int, int]:
    """(line, column) of a token, both 1-based.

    Lark types them Optional because a Token can be made by hand; its lexers, with
    the line counting every grammar here uses, set both on every token they make.
    """
    line, column = token.line, token.column
    if line is None or column is None:
        raise unplaced(token)
    return line, column


def unplaced(token: "Token") -> ValueError:
    """The error for a token without a position: a bug in how the lexer was built."""
    return ValueError(f"the lexer made a {token.type} token without a line and column")


def split_pair(text: str, column: int) -> Tuple[str, str, int]:
    """Split a PAIR token's `text` (starting at `column`) at its first `=`:
    (key, value, 1-based value column), both trimmed.

    An empty value's column is right after the `=`.
    """
    key, _, rest = text.partition("=")
    value = rest.strip()
    blanks = len(rest) - len(rest.lstrip()) if value else 0
    return key.rstrip(), value, column + len(key) + 1 + blanks


_LONE_CR = re.compile(r"\r(?!\n)")


def read_text(path: str) -> str:
    """The file's text; TaskFileUnreadable or a located TaskFileError if it is not text."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise TaskFileUnreadable(f"Task file '{path}' does not exist.") from None
    except IsADirectoryError:
        raise TaskFileUnreadable(f"Task file '{path}' is a directory, not a file.") from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise TaskFileUnreadable(f"Task file '{path}' cannot be read: {reason}.") from None
    try:
        text = data.decode("utf-8").lstrip("\ufeff")  # a BOM is not content
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        diag = error("the task file is not valid UTF-8 text "
                     f"(byte 0x{data[exc.start]:02x} cannot be decoded)", line, column,
                     hint="save the file as UTF-8")
        raise TaskFileError(path, [diag]) from None
    # A lone CR ends a line too (old Mac files), as in Python's text mode, which the
    # original reads with; CRLF stays as it is, its CR is a blank that lines lose.
    return _LONE_CR.sub("\n", text) if "\r" in text else text


def owners_of_matches(text: str, positions: Iterable[int],
                      starts: Sequence[Tuple[int, int]]) -> Set[int]:
    """IDs of the tasks owning the line of each position of `text` (ascending positions).

    `starts` holds (first line, task ID) of every task, in file order; a task's
    lines run to the next task's first line. One scan of the whole text decides
    for all tasks what would otherwise be a look at every field. A position
    before the first task belongs to none.
    """
    lines = [line for line, _ in starts]
    found: Set[int] = set()
    line, last = 1, 0
    for pos in positions:
        line += text.count("\n", last, pos)
        last = pos
        i = bisect_right(lines, line) - 1
        if i >= 0:
            found.add(starts[i][1])
    return found


def comment_marks(text: str) -> Iterator[int]:
    """Positions of the `#`s that may start an inline comment: right after a blank other
    than a line break (a superset; a comment line at column 1 has none)."""
    i = text.find("#")
    while i >= 0:
        if i and text[i - 1] != "\n" and text[i - 1].isspace():
            yield i
        i = text.find("#", i + 1)  # (str.find is much faster than a regex without a literal)


_INLINE_COMMENT = re.compile(r"\s(#)\s*\S")


def inline_comment(value: str) -> int:
    """0-based offset of the `#` of an inline comment in a field value, or -1 (SPEC II.1.1).

    A `#` preceded by whitespace and followed by more text is a comment the
    author meant (`timeout=30   # two minutes`); `arguments=a#b` is data.
    """
    m = _INLINE_COMMENT.search(value) if "#" in value else None
    return m.start(1) if m else -1


def inline_comment_message(task_id: int, key: str, value: str, offset: int) -> Tuple[str, str]:
    """(message, hint) for the inline comment at `offset` of a field's value."""
    return (f"Task {task_id}: {key} contains an inline comment ('{value[offset:]}'); "
            "comments must be on a line of their own",
            "move the comment to its own line starting with '#'")
