"""A command's output as every transport keeps it: bounded in memory, spilled past that.

A local child's pipes and an SSH channel's two streams feed the same
`OutputBuffer`: the first MEMORY_LIMIT bytes stay in memory, and once a stream
grows past that the whole of it goes to a file in the run's spool directory.
`collect_result` turns two buffers and the watch's verdict into the one
`CommandResult` every executor returns. A `Stream` names such an output (its
beginning in memory, the spill file holding all of it) and `chunks` reads it back a
piece at a time, for the engine's conditions and the files of --output-dir.
"""

from __future__ import annotations

import codecs
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator, Optional

from tasker.exec.base import (
    MEMORY_LIMIT,
    TIMEOUT_EXIT,
    CommandResult,
    append_line,
    lost_output_note,
    timeout_message,
)
from tasker.record import record


class OutputBuffer:
    """One output stream: first MEMORY_LIMIT bytes in memory, whole stream spilled past it.

    When the spill file cannot be written (a full TMPDIR), what is in memory stays,
    the rest of the stream is still read (and counted) so the command never blocks,
    and the incomplete file is deleted: it must never be taken for the whole output.
    """

    def __init__(self, name: str, spool_dir: Optional[Path]) -> None:
        self.name = name
        self.spool_dir = spool_dir
        self.head = bytearray()
        self.size = 0
        self.file: Optional[IO[bytes]] = None
        self.path: Optional[str] = None
        self.failure: Optional[str] = None  # why the spill file could not be written

    def feed(self, data: bytes) -> None:
        """Account for `data` read from the stream."""
        self.size += len(data)
        if self.file is not None:
            self._write(data)
            return
        room = MEMORY_LIMIT - len(self.head)
        if room > 0:
            self.head += data[:room]
        if len(data) > room and self.spool_dir is not None and self.failure is None:
            self._start_spill(data[max(room, 0):])

    def _start_spill(self, rest: bytes) -> None:
        try:
            # (called only with a spool directory, see write)
            self.spool_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # type: ignore[union-attr]
            fd, self.path = tempfile.mkstemp(prefix=f"tasker_{self.name}_", dir=self.spool_dir)
            self.file = os.fdopen(fd, "wb")
        except OSError as exc:
            self._fail(exc)
            return
        self._write(bytes(self.head))
        self._write(rest)

    def _write(self, data: bytes) -> None:
        if self.file is None:
            return  # the spill failed before: the rest is only counted
        try:
            self.file.write(data)
        except OSError as exc:
            self._fail(exc)

    def _fail(self, exc: OSError) -> None:
        self.failure = (f"cannot write the spill file in {self.spool_dir}: "
                        f"{exc.strerror or exc}")
        file, self.file = self.file, None
        if file is not None:
            try:
                file.close()
            except OSError:
                pass  # the same failure again, while flushing
        if self.path is not None:
            try:
                os.unlink(self.path)
            except OSError:
                pass
            self.path = None

    def close(self) -> None:
        """Close the spill file, if any."""
        if self.file is not None:
            try:
                self.file.close()
                self.file = None
            except OSError as exc:  # e.g. ENOSPC on the final flush
                self._fail(exc)

    @property
    def lost(self) -> int:
        """Bytes read from the stream that are neither in memory nor in a spill file."""
        return self.size - len(self.head) if self.failure is not None else 0

    @property
    def error(self) -> Optional[str]:
        """The stderr note on a lost tail, or None."""
        if self.failure is None:
            return None
        return lost_output_note(self.name, len(self.head), self.lost, "bytes", self.failure)

    def text(self) -> str:
        """The in-memory part as text: utf-8 (errors replaced), universal newlines."""
        if self.size <= MEMORY_LIMIT:
            text = self.head.decode("utf-8", "replace")
        else:
            # Cut mid-stream: hold back a partial character and a possible CR of a CRLF.
            text = codecs.getincrementaldecoder("utf-8")("replace").decode(self.head, False)
            if text.endswith("\r"):
                text = text[:-1]
        # Decoding the whole buffer at once means a CRLF split across reads is still whole.
        return text.replace("\r\n", "\n").replace("\r", "\n")


def collect_result(code: int, out: OutputBuffer, err: OutputBuffer, timed_out: bool,
                   timeout: float, duration: float) -> CommandResult:
    """The CommandResult of a command that ran: its code (124 after a timeout), its output."""
    stderr = err.text()
    for problem in (out.error, err.error):
        if problem:
            stderr = append_line(stderr, problem)
    if timed_out:
        code = TIMEOUT_EXIT
        stderr = append_line(stderr, timeout_message(timeout))
    return CommandResult(
        exit_code=code,
        stdout=out.text(),
        stderr=stderr,
        duration=duration,
        timed_out=timed_out,
        stdout_file=out.path,
        stderr_file=err.path,
        stdout_lost=out.lost,
        stderr_lost=err.lost,
    )


# ---- reading an output back -------------------------------------------------------------
CHUNK_SIZE = 256 * 1024  # characters (or bytes, in a file) handled at a time


@record(frozen=True)
class Stream:
    """One output: `text` is all of it, or only its beginning when file `path` holds it whole."""

    text: str
    path: Optional[str] = None
    chunk_size: int = CHUNK_SIZE  # tests make it tiny, so that chunk borders are exercised


def chunks(stream: Stream) -> Iterator[str]:
    """The whole text of `stream`, a piece at a time (one piece when it is in memory)."""
    if stream.path is None:
        yield stream.text
        return
    try:
        handle = open(stream.path, "rb")
    except OSError:
        yield stream.text  # the file is gone: its beginning is all there is
        return
    with handle:
        yield from _decoded(handle, stream.chunk_size)


def _decoded(handle: IO[bytes], size: int) -> Iterator[str]:
    """Bytes read in blocks, as text: utf-8 with errors replaced, universal newlines.

    A character or a CRLF cut by a block border is completed from the next block,
    so the pieces join up to exactly what decoding the whole file at once gives.
    """
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    held_cr = ""
    while True:
        try:
            data = handle.read(size)
        except OSError:
            data = b""  # an unreadable rest ends the text here
        text = held_cr + decoder.decode(data, final=not data)
        held_cr = "\r" if data and text.endswith("\r") else ""
        if held_cr:
            text = text[:-1]
        if text:
            yield text.replace("\r\n", "\n").replace("\r", "\n")
        if not data:
            return
