"""Outputs too large for memory: a spilled stream is read back in chunks, never whole.

A command's stream past the executor's memory limit lives in a spill file
(tasker.exec.output). A `Stream` names its beginning in memory and that file, and
`chunks` reads it back (both in tasker.exec.output, beside what writes the file).
The functions here give the answer the plain string operation gives on the
whole text as conditions see it (utf-8 with errors replaced, universal
newlines), reading the file a chunk at a time, so the memory a task needs is
bounded by the chunk size, not by the size of its output.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import IO, Iterable, Iterator, List, Optional, Tuple

from tasker.exec.base import lost_output_note
from tasker.exec.output import CHUNK_SIZE, Stream, chunks

LOG_PREVIEW = 8192  # characters of a stripped output kept for its log line (cut to 200 there)


def without_trailing_newlines(parts: Iterable[str], size: int = CHUNK_SIZE) -> Iterator[str]:
    """The pieces of a text with its trailing newlines removed (`rstrip("\\n")`)."""
    held = 0  # newlines not yet known to be followed by anything else
    for part in parts:
        body = part.rstrip("\n")
        if not body:
            held += len(part)
            continue
        while held:
            n = min(held, size)
            yield "\n" * n
            held -= n
        yield body
        held = len(part) - len(body)


def find(parts: Iterable[str], pattern: str) -> bool:
    """`pattern in text` over a text given in pieces; a match may straddle any border."""
    if not pattern:
        return True
    keep = len(pattern) - 1  # the overlap: a match can start this far before a border
    tail = ""
    for part in parts:
        window = tail + part
        if pattern in window:
            return True
        tail = window[-keep:] if keep else ""
    return False


def contains(stream: Stream, pattern: str, whole: bool = False) -> bool:
    """`pattern` occurs in the output as conditions see it (or, `whole`, as it is)."""
    if stream.path is None:
        return pattern in (stream.text if whole else stream.text.rstrip("\n"))
    parts = chunks(stream)
    return find(parts if whole else without_trailing_newlines(parts, stream.chunk_size), pattern)


def text_length(stream: Stream) -> int:
    """Characters of the output as conditions see it (trailing newlines not counted), for
    the report to say how much a stored beginning left out."""
    if stream.path is None:
        return len(stream.text.rstrip("\n"))
    return sum(len(part) for part in without_trailing_newlines(chunks(stream),
                                                               stream.chunk_size))


def is_blank(stream: Stream) -> bool:
    """The output is empty after stripping blanks."""
    return not any(part.strip() for part in chunks(stream))


class Stripped:
    """Measures `text.strip()` of a text fed in pieces: length, newlines, its beginning.

    The beginning keeps at least `bound` characters of the stripped text (all of
    it when shorter) and ends at a non-blank one; a run of blanks inside it is
    cut to `bound` characters, which leaves its first `bound` characters exact.
    """

    def __init__(self, bound: int = 0) -> None:
        self.bound = bound
        self.length = 0     # of the stripped text so far
        self.newlines = 0   # inside it
        self._kept: List[str] = []
        self._stored = 0
        self._follow = False  # the beginning already ends in a non-blank past `bound`
        self._gap = ""  # blanks since the last non-blank (their first `bound` only)
        self._gap_length = 0
        self._gap_newlines = 0

    def feed(self, part: str) -> None:
        """Take the next piece of the text."""
        if not self.length:
            part = part.lstrip()  # still before the first non-blank
        core = part.rstrip()
        if core:
            self._take(self._gap, self._gap_length, self._gap_newlines)
            self._take(core, len(core), core.count("\n"))
            part = part[len(core):]
            self._gap, self._gap_length, self._gap_newlines = "", 0, 0
        if part and self.length:  # blanks after some text: inside it if more text follows
            if len(self._gap) < self.bound:
                self._gap += part[:self.bound - len(self._gap)]
            self._gap_length += len(part)
            self._gap_newlines += part.count("\n")

    def _take(self, text: str, length: int, newlines: int) -> None:
        self.length += length
        self.newlines += newlines
        if self._follow:
            return
        room = self.bound - self._stored
        taken = text[:max(room, 0)]
        self._kept.append(taken)
        self._stored += len(taken)
        if self._stored >= self.bound:
            rest = text[len(taken):].lstrip()
            if rest:  # one more real character, so that stripping the beginning
                self._kept.append(rest[0])  # cannot remove blanks it ends with
                self._follow = True

    @property
    def whole(self) -> bool:
        """The beginning is the whole stripped text."""
        return self.length <= self.bound

    def beginning(self) -> str:
        """The start of the stripped text (see the class)."""
        return "".join(self._kept)


def stripped_prefix(stream: Stream, bound: int) -> Tuple[str, bool]:
    """(the beginning of the stripped output, True if it is all of it; see `Stripped`).

    Reading stops as soon as the stripped output is known to be longer than `bound`.
    """
    if stream.path is None:
        text = stream.text.strip()
        return text, True
    measure = Stripped(bound)
    for part in chunks(stream):
        measure.feed(part)
        if not measure.whole:
            break
    return measure.beginning(), measure.whole


def line_count(stream: Stream) -> int:
    """0 if blank, else the number of `\\n`-separated lines of the stripped output."""
    if stream.path is None:
        text = stream.text.strip()
        return text.count("\n") + 1 if text else 0
    measure = Stripped()
    for part in chunks(stream):
        measure.feed(part)
    return measure.newlines + 1 if measure.length else 0


def log_view(stream: Stream, read_file: bool) -> Tuple[str, Optional[int]]:
    """(text for the log line, whole length when the text is only the beginning).

    The length is that of the stripped output with each newline counted twice (it
    shows as `\\n`). Without `read_file` a spilled stream is not read: its size in
    bytes stands for the length, and its in-memory beginning for the text.
    """
    if stream.path is None:
        return stream.text, None
    if not read_file:
        try:
            return stream.text, os.path.getsize(stream.path)
        except OSError:
            return stream.text, None
    measure = Stripped(LOG_PREVIEW)
    for part in chunks(stream):
        measure.feed(part)
    if measure.whole:
        return measure.beginning(), None
    return measure.beginning(), measure.length + measure.newlines


class Spill:
    """Collects a text: its first `limit` characters in memory, all of it in a file past that.

    The file is created only when the text outgrows the limit, in `directory`, 0600.
    When it cannot be written, the rest is counted, not kept, and the note says so.
    """

    def __init__(self, directory: str, name: str, limit: int) -> None:
        self.directory = directory
        self.name = name
        self.limit = limit
        self.head: List[str] = []
        self.kept = 0  # characters in `head`
        self.size = 0  # characters fed
        self.path: Optional[str] = None
        self.failure: Optional[str] = None
        self._file: Optional[IO[str]] = None

    def feed(self, text: str) -> None:
        """Append `text`."""
        self.size += len(text)
        if self._file is not None:
            self._write(text)
            return
        room = self.limit - self.kept
        if room > 0:
            self.head.append(text[:room])
            self.kept += min(room, len(text))
        if len(text) > room and self.failure is None:
            self._start(text[max(room, 0):])

    def _start(self, rest: str) -> None:
        try:
            fd, self.path = tempfile.mkstemp(prefix=f"tasker_{self.name}_", dir=self.directory)
            self._file = os.fdopen(fd, "w", encoding="utf-8", newline="")
        except OSError as exc:
            self._fail(exc)
            return
        self._write("".join(self.head))
        self._write(rest)

    def _write(self, text: str) -> None:
        if self._file is None:
            return  # failed before: the rest is only counted
        try:
            self._file.write(text)
        except OSError as exc:
            self._fail(exc)

    def _fail(self, exc: OSError) -> None:
        self.failure = f"cannot write a spill file in {self.directory}: {exc.strerror or exc}"
        discard(self._file, self.path)
        self._file, self.path = None, None

    def finish(self, chunk_size: int = CHUNK_SIZE) -> Tuple[Stream, Optional[str]]:
        """The text collected, and the note on what was lost (None when nothing was)."""
        if self._file is not None:
            handle, self._file = self._file, None
            try:
                handle.close()
            except OSError as exc:  # e.g. no space for the last buffered block
                self._fail(exc)
        note = None
        if self.failure is not None:
            note = lost_output_note(self.name, self.kept, self.size - self.kept, "characters",
                                    self.failure)
        return Stream("".join(self.head), self.path, chunk_size), note


def save_text(directory: Path, name: str, text: str) -> str:
    """Write `text` to a new file (0600) in `directory` (made 0700 if missing): its path.

    OSError when it cannot be written whole; no partial file is left then.
    """
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, path = tempfile.mkstemp(prefix=f"tasker_{name}_", dir=directory)
    handle = os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape", newline="")
    try:
        with handle:
            handle.write(text)
    except OSError:
        discard(handle, path)
        raise
    return path


def discard(handle: Optional[IO[str]], path: Optional[str]) -> None:
    """Close and delete a file that could not be completed (it is never mistaken for whole)."""
    if handle is not None:
        try:
            handle.close()
        except OSError:
            pass  # the same failure again, while flushing
    if path is not None:
        try:
            os.unlink(path)
        except OSError:
            pass
