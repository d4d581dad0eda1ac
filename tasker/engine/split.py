"""Output splitting: `stdout_split=DELIM,INDEX` keeps one field of a stream (SPEC II.4.5).

A stream in memory is split as a string (`apply_split`). A spilled one is split
as it is read, a chunk at a time (`split_stream`): the field is kept in memory
when it is small and written to a spill file of its own when it is not.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from itertools import chain
from typing import Iterable, Iterator, List, Optional, Tuple, Union

from tasker.engine.streams import Spill
from tasker.exec.output import Stream, chunks

# Keyword delimiters; runs for the whitespace-like ones, single characters otherwise.
DELIMITERS = {
    "space": r" +",
    "whitespace": r"\s+",
    "tab": r"\t+",
    "newline": r"\n+",
    "comma": r",",
    "colon": r":",
    "semicolon": r";",
    "semi": r";",
    "pipe": r"\|",
}
_RUNS = frozenset(("space", "whitespace", "tab", "newline"))

# A regular-expression delimiter is searched for in a window reaching this far past the
# text handed on: a match no longer than this, and looking no further around it, is found
# exactly as in the whole text; a longer one may be missed or cut at a chunk border.
OVERLAP = 4096
# The characters of a field kept in memory; a longer field goes to a spill file of its own.
FIELD_IN_MEMORY = 1024 * 1024


@lru_cache(maxsize=256)
def delimiter_pattern(delim: str) -> "re.Pattern[str]":
    """The pattern a delimiter keyword (or, failing that, a regular expression) means."""
    try:
        return re.compile(DELIMITERS.get(delim.lower(), delim))
    except re.error:
        return re.compile(re.escape(delim))


def parse_split_spec(spec: str) -> Optional[Tuple[str, int]]:
    """(delimiter, index) for `DELIM,INDEX`, or None when the spec is not of that form."""
    delim, sep, index = spec.strip().rpartition(",")
    if not sep or not delim:
        return None
    try:
        return delim, int(index.strip())
    except ValueError:
        return None


def split_fields(text: str, delim: str) -> List[str]:
    """The pieces of `text` separated by `delim`."""
    return delimiter_pattern(delim).split(text)


def apply_split(text: str, spec: str) -> str:
    """Apply a split spec; every no-op case of II.4.5 returns `text` unchanged."""
    parsed = parse_split_spec(spec)
    if parsed is None or not text:
        return text
    delim, index = parsed
    pieces = split_fields(text, delim)
    if index < 0 or index >= len(pieces):
        return text
    return pieces[index] or ""  # (None: a group of the pattern that took no part)


# ---- a stream read in chunks ------------------------------------------------------------
Groups = Tuple[Optional[str], ...]
# A piece of the text (a str), or a delimiter (the tuple of its pattern's groups).
Piece = Union[str, Groups]


def split_stream(stream: Stream, spec: str, name: str, *, overlap: int = OVERLAP,
                 keep: int = FIELD_IN_MEMORY,
                 directory: Optional[str] = None) -> Tuple[Stream, Optional[str]]:
    """`apply_split` for a stream that may be in a file, and a note when a part was lost.

    A field longer than `keep` characters is written to a new spill file in `directory`
    (default: beside the stream's); when that cannot be written, the field keeps its
    first `keep` characters and the note says what was lost. Every no-op case of II.4.5
    returns `stream` itself.
    """
    if stream.path is None:
        return Stream(apply_split(stream.text, spec), None, stream.chunk_size), None
    parsed = parse_split_spec(spec)
    if parsed is None or parsed[1] < 0:
        return stream, None
    delim, index = parsed
    pattern = delimiter_pattern(delim)
    piece, group = divmod(index, pattern.groups + 1)  # re.split lists the groups too
    if index == 0 and _skip(_pieces(stream, delim, overlap), 1) is None:
        return stream, None  # field 0 of a text without a delimiter: all of it
    pieces = _pieces(stream, delim, overlap)
    groups = _skip(pieces, piece + 1 if group else piece)
    if groups is None:
        return stream, None  # fewer fields than INDEX + 1
    if group:
        return Stream(groups[group - 1] or "", None, stream.chunk_size), None
    spill = Spill(directory or os.path.dirname(stream.path), name, keep)
    for text in pieces:
        if isinstance(text, tuple):  # the delimiter after the field
            break
        spill.feed(text)
    return spill.finish(stream.chunk_size)


def _skip(pieces: Iterator[Piece], delimiters: int) -> Optional[Groups]:
    """Read past `delimiters` delimiters: the last one's groups, None if the text ends first."""
    if delimiters == 0:
        return ()
    for piece in pieces:
        if isinstance(piece, tuple):
            delimiters -= 1
            if not delimiters:
                return piece
    return None


def _pieces(stream: Stream, delim: str, overlap: int) -> Iterator[Piece]:
    """The stream's text as pieces of text and delimiters, in order."""
    pattern = delimiter_pattern(delim)
    if delim.lower() in DELIMITERS:
        return _keyword_pieces(chunks(stream), pattern, delim.lower() in _RUNS)
    return _regex_pieces(chunks(stream), pattern, overlap)


def _keyword_pieces(parts: Iterable[str], pattern: "re.Pattern[str]",
                    runs: bool) -> Iterator[Piece]:
    """Pieces of a keyword delimiter: one character, or a run of one class of them.

    Such a delimiter never reaches past the chunk it is found in, except a run that
    goes on in the next chunk: that is the same delimiter, given once.
    """
    open_run = False  # the last chunk ended inside a delimiter run
    for part in parts:
        pos = 0
        for match in pattern.finditer(part):
            start, end = match.span()
            if start > pos:
                yield part[pos:start]
            if not (open_run and start == 0):
                yield ()
            pos, open_run = end, False
        if pos < len(part):
            yield part[pos:]
        open_run = runs and pos == len(part) > 0


def _regex_pieces(parts: Iterable[str], pattern: "re.Pattern[str]",
                  overlap: int) -> Iterator[Piece]:
    """Pieces of a regular-expression delimiter, searched for in a sliding window.

    A match is taken once the window reaches `overlap` characters past its end (or
    the text ended, or it is that long itself); text is handed on up to `overlap`
    characters before the window's end, and as much is kept before the search
    position, for look-behinds. A search restarted at an empty match finds it again,
    where the whole-text search moves on: that one is dropped.
    """
    window, pos, empty_at = "", 0, -1
    for part in chain(parts, (None,)):
        final = part is None
        window += part or ""
        limit = len(window) if final else len(window) - overlap
        for match in pattern.finditer(window, pos):
            start, end = match.span()
            if start == end == empty_at:
                continue
            if not final and end + overlap > len(window) and end - start < overlap:
                limit = min(limit, start)  # may still grow or move: wait for more text
                break
            if start > pos:
                yield window[pos:start]
            yield match.groups()
            pos, empty_at = end, (end if start == end else -1)
        if limit > pos:
            yield window[pos:limit]
            pos, empty_at = limit, -1
        cut = max(0, pos - overlap)
        window, pos = window[cut:], pos - cut
        empty_at = empty_at - cut if empty_at >= 0 else -1
