"""Read a task file and classify its lines with the Lark grammar `taskfile.lark`.

The result is a flat list of `Line` values in file order; giving them meaning
(header arguments, globals, task blocks) is `taskfile.py`'s job.
"""

from __future__ import annotations

import os
import re
from bisect import bisect_right
from functools import lru_cache
from itertools import chain
from pathlib import Path
from typing import Iterable, Iterator, List, NamedTuple, Optional, Sequence, Set, Tuple

from tasker.syntax.diagnostics import TaskFileError, TaskFileUnreadable, error

COMMENT, CLI_ARG, PAIR, STRAY = "comment", "cli_arg", "pair", "stray"


class Line(NamedTuple):
    """One meaningful line: its kind, its text (trimmed) and position.

    A NamedTuple: a 10,000-task file has 60,000 of them.
    """

    kind: str
    text: str
    line: int
    column: int  # 1-based column of the first non-blank character


KINDS = {"COMMENT": COMMENT, "CLI_ARG": CLI_ARG, "PAIR": PAIR, "STRAY": STRAY}


@lru_cache(maxsize=None)
def _scanner() -> Tuple["re.Pattern[str]", Tuple[str, ...]]:
    """Compile the grammar's line terminals into one scanner, once per process.

    The grammar is the definition of what a line is; Lark reads it and gives
    us its terminals. Running Lark's generic lexer and parser over the file
    would cost about 7 microseconds a line, too slow for 10,000-task files,
    so the terminals (in the grammar's priority order) become one regular
    expression applied to each trimmed line. Like Lark's own `cache=True`,
    the compiled terminals are cached (in the user's cache directory, keyed
    by the grammar's hash), so a run need not import Lark at all.
    """
    from tasker.grammar_loader import load_grammar

    grammar = load_grammar("taskfile")
    cache = _cache_file(grammar)
    terms = _read_cache(cache) if cache else None
    if terms is None:
        terms = _terminals(grammar)
        if cache:
            _write_cache(cache, terms)
    pattern = "|".join(f"(?P<{name}>{regexp})" for name, regexp in terms)
    return re.compile(pattern), tuple(KINDS[name] for name, _ in terms)


def _terminals(grammar: str) -> List[Tuple[str, str]]:
    """(name, regexp) of the line terminals, highest priority first, from Lark."""
    from lark import Lark

    lark = Lark(grammar, parser="lalr", lexer="basic")
    terms = sorted((t for t in lark.terminals if t.name in KINDS), key=lambda t: -t.priority)
    return [(t.name, t.pattern.to_regexp()) for t in terms]


def _cache_file(grammar: str) -> Optional[Path]:
    """`$XDG_CACHE_HOME/tasker/taskfile-<hash>.json`, or None without a home."""
    base = os.environ.get("XDG_CACHE_HOME") or (
        os.path.join(os.environ["HOME"], ".cache") if os.environ.get("HOME") else "")
    if not base:
        return None
    import hashlib  # (only files with a line the fast scan does not split get here)

    digest = hashlib.sha256(grammar.encode("utf-8")).hexdigest()[:16]
    return Path(base) / "tasker" / f"taskfile-{digest}.json"


def _read_cache(path: Path) -> Optional[List[Tuple[str, str]]]:
    """The cached terminals, or None when absent or not what we wrote."""
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        terms = [(str(name), str(regexp)) for name, regexp in data]
        if sorted(name for name, _ in terms) != sorted(KINDS):
            return None
        re.compile("|".join(regexp for _, regexp in terms))
        return terms
    except (OSError, ValueError, TypeError, re.error):
        return None


def _write_cache(path: Path, terms: List[Tuple[str, str]]) -> None:
    """Best effort: a cache that cannot be written only costs the next run time."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        import json

        tmp.write_text(json.dumps(terms), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass


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


# A clean pair line: `key=value` starting at column 1, with no blank around the `=` or at
# the end (a CRLF line's CR aside). Most lines of real files are like that, and one
# `findall` over the whole text splits them all in C. Every other line (blank, comment,
# header argument, indented or spaced pair, stray text) matches the last alternative,
# whose group holds the line as written, and is classified by the grammar's scanner.
_CLEAN_PAIR = re.compile(
    r"^(?:([^\s#=\-](?:[^=\n]*[^\s=])?)=(\S(?:[^\n]*\S)?|)\r?|([^\n]*))$", re.MULTILINE)


# A block of lines, to skip through a text without building a string per line.
_LINE_BLOCK_SIZE = 1024
_LINE_BLOCK = re.compile(r"(?:[^\n]*\n){%d}" % _LINE_BLOCK_SIZE)


class SourceLines(Sequence[str]):
    """A file's lines, split from its text when first read.

    Diagnostics show source lines, but a file that validates shows none, and a
    large file that validates with a warning or two shows only those lines:
    keeping the text, fetching a few single lines straight from it and
    splitting it only when many are read saves a list of every line (for a
    10,000-task file, 60,000 strings the validator would never look at).
    Compares equal to any sequence of the same lines.
    """

    __slots__ = ("text", "_lines", "_fetched")

    SINGLE_FETCHES = 16  # single lines fetched from the text before it is split

    def __init__(self, text: str):
        self.text = text
        self._lines: Optional[Tuple[str, ...]] = None
        self._fetched = 0

    def _split(self) -> Tuple[str, ...]:
        if self._lines is None:
            self._lines = tuple(self.text.split("\n"))
        return self._lines

    def __getitem__(self, index):  # type: ignore[override]
        if self._lines is None and type(index) is int and index >= 0 \
                and self._fetched < self.SINGLE_FETCHES:
            self._fetched += 1
            return self._one(index)
        return self._split()[index]

    def _one(self, index: int, block_size: int = _LINE_BLOCK_SIZE,
             block: "re.Pattern[str]" = _LINE_BLOCK) -> str:
        """Line `index` (0-based) cut from the text: `block` skips `block_size` lines in C."""
        text, pos = self.text, 0
        for _ in range(index // block_size):
            m = block.match(text, pos)
            if m is None:
                raise IndexError("line index out of range")
            pos = m.end()
        for _ in range(index % block_size):
            pos = text.find("\n", pos) + 1
            if pos == 0:
                raise IndexError("line index out of range")
        end = text.find("\n", pos)
        return text[pos:] if end < 0 else text[pos:end]

    def __len__(self) -> int:
        return len(self._lines) if self._lines is not None else self.text.count("\n") + 1

    def __iter__(self) -> Iterator[str]:
        return iter(self._split())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SourceLines):
            return self.text == other.text
        return isinstance(other, (tuple, list)) and tuple(other) == self._split()

    def __hash__(self) -> int:
        return hash(self._split())  # (equal to a tuple of the lines, so hashed alike)

    def __repr__(self) -> str:
        return f"SourceLines({len(self)} lines)"


class Lines(Sequence[Line]):
    """The lines of a task file: the clean pairs pre-split, every other line as written.

    `pairs[i]` is (key, value, "") when line i + 1 is a clean pair, else ("", "", the
    line); `line(i + 1)` classifies any line. Iterating gives the `Line` of every
    meaningful line in file order, built only as far as it is read.

    The loader reads the pairs once, in order, with `stream_pairs`: they are split a
    block of lines at a time, and each block is freed once read. For a 10,000-task
    file the whole list would be some 10 MB alive at once; a block at a time, the
    memory of one block is reused by the next and by the tasks built from them,
    instead of being asked of the kernel page by page. `pairs` builds the whole list,
    for whoever needs lines by number.
    """

    BLOCK_CHARS = 1 << 16  # characters split at once (then up to the end of the line)
    FIRST_BLOCK_CHARS = 1 << 12

    def __init__(self, text: str):
        self.source = SourceLines(text)
        self._pairs: Optional[List[Tuple[str, str, str]]] = None
        self._all: Optional[List[Line]] = None

    @property
    def pairs(self) -> List[Tuple[str, str, str]]:
        """(key, value, "") or ("", "", line as written) for every line, in order."""
        if self._pairs is None:
            self._pairs = list(self.stream_pairs())
        return self._pairs

    def stream_pairs(self) -> Iterator[Tuple[str, str, str]]:
        """The pairs of every line, in order (see the class docstring)."""
        if self._pairs is not None:
            return iter(self._pairs)
        return chain.from_iterable(self._pair_blocks())

    def _pair_blocks(self) -> Iterator[List[Tuple[str, str, str]]]:
        text, pos, size = self.source.text, 0, len(self.source.text)
        chars = self.FIRST_BLOCK_CHARS  # (the header arguments are read from the first)
        while True:
            end = text.find("\n", pos + chars) if pos + chars < size else -1
            chars = self.BLOCK_CHARS
            if end < 0:  # the last block runs to the end of the text
                yield _split_block(text, pos, size)
                return
            yield _split_block(text, pos, end)  # (lines up to the newline at `end`)
            pos = end + 1

    def line(self, number: int) -> Optional[Line]:
        """The `Line` of 1-based line `number`, or None when it is blank."""
        return _line_of(*self.pairs[number - 1], number)

    def __iter__(self) -> Iterator[Line]:
        return self._meaningful()

    def _meaningful(self) -> Iterator[Line]:
        for number, (key, value, other) in enumerate(self.stream_pairs(), 1):
            ln = _line_of(key, value, other, number)
            if ln is not None:
                yield ln

    def _list(self) -> List[Line]:
        if self._all is None:
            self._all = list(self._meaningful())  # (list(self) would ask len(self) first)
        return self._all

    def __len__(self) -> int:
        return len(self._list())

    def __getitem__(self, index):  # type: ignore[override]
        return self._list()[index]


def _split_block(text: str, pos: int, end: int) -> List[Tuple[str, str, str]]:
    """The pairs of the lines of text[pos:end] (pos starts a line, end ends one)."""
    pairs = _CLEAN_PAIR.findall(text, pos, end)
    # One match per line by construction; should that ever not hold, every line
    # takes the grammar's path, which is always right.
    if len(pairs) == text.count("\n", pos, end) + 1:
        return pairs
    return [("", "", raw) for raw in text[pos:end].split("\n")]


def _line_of(key: str, value: str, other: str, number: int) -> Optional[Line]:
    if key:
        return Line(PAIR, f"{key}={value}", number, 1)
    return classify_line(other, number) if other else None


def classify(text: str) -> Lines:
    """The lines of `text`, each classified when first read (lines are split at "\\n"
    only)."""
    return Lines(text)


def classify_line(raw: str, number: int) -> Optional[Line]:
    """The `Line` of one raw line by the grammar's terminals; None for a blank line."""
    body = raw.strip()
    if not body:
        return None
    scanner, kinds = _scanner()
    m = scanner.fullmatch(body)
    kind = kinds[m.lastindex - 1] if m else STRAY
    # strip() returns the very same string when there was nothing to strip
    column = 1 if body is raw else len(raw) - len(raw.lstrip()) + 1
    return Line(kind, body, number, column)


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


def split_pair(line: Line) -> Tuple[str, str, int]:
    """Split a pair line at its first `=`: (key, value, 1-based value column)."""
    key, _, rest = line.text.partition("=")
    value = rest.lstrip()
    offset = len(key) + 1 + len(rest) - len(value)
    return key.strip(), value.rstrip(), line.column + offset
