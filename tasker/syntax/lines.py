"""Read a task file and classify its lines with the Lark grammar `taskfile.lark`.

The result is a flat list of `Line` values in file order; giving them meaning
(header arguments, globals, task blocks) is `taskfile.py`'s job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import List, Tuple

from tasker.syntax.diagnostics import TaskFileError, TaskFileUnreadable, error

COMMENT, CLI_ARG, PAIR, STRAY = "comment", "cli_arg", "pair", "stray"


@dataclass(frozen=True)
class Line:
    """One meaningful line: its kind, its text (trimmed) and position."""

    kind: str
    text: str
    line: int
    column: int  # 1-based column of the first non-blank character


@lru_cache(maxsize=None)
def _scanner() -> Tuple["re.Pattern[str]", Tuple[str, ...]]:
    """Compile the grammar's line terminals into one scanner, once per process.

    The grammar is the definition of what a line is; Lark reads it and gives
    us its terminals. Running Lark's generic lexer and parser over the file
    would cost about 7 microseconds a line, too slow for 10,000-task files,
    so the terminals (in the grammar's priority order) become one regular
    expression applied to each trimmed line.
    """
    from lark import Lark

    from tasker.grammar_loader import load_grammar

    lark = Lark(load_grammar("taskfile"), parser="lalr", lexer="basic", cache=True)
    kinds = {"COMMENT": COMMENT, "CLI_ARG": CLI_ARG, "PAIR": PAIR, "STRAY": STRAY}
    terms = sorted((t for t in lark.terminals if t.name in kinds), key=lambda t: -t.priority)
    pattern = "|".join(f"(?P<{t.name}>{t.pattern.to_regexp()})" for t in terms)
    return re.compile(pattern), tuple(kinds[t.name] for t in terms)


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
        return data.decode("utf-8").lstrip("\ufeff")  # a BOM is not content
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        diag = error("the task file is not valid UTF-8 text "
                     f"(byte 0x{data[exc.start]:02x} cannot be decoded)", line, column,
                     hint="save the file as UTF-8")
        raise TaskFileError(path, [diag]) from None


def classify(text: str) -> List[Line]:
    """Classify every non-blank line of `text` (lines are split at "\\n" only)."""
    scanner, kinds = _scanner()
    match = scanner.fullmatch
    lines = []
    for number, raw in enumerate(text.split("\n"), 1):
        body = raw.strip()
        if not body:
            continue
        m = match(body)
        kind = kinds[m.lastindex - 1] if m else STRAY
        column = len(raw) - len(raw.lstrip()) + 1
        lines.append(Line(kind, body, number, column))
    return lines


def split_pair(line: Line) -> Tuple[str, str, int]:
    """Split a pair line at its first `=`: (key, value, 1-based value column)."""
    key, _, rest = line.text.partition("=")
    value = rest.strip()
    offset = len(key) + 1 + (len(rest) - len(rest.lstrip()))
    return key.strip(), value, line.column + offset
