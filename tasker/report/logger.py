"""Console and log file: the same timestamped lines in both (SPEC I.8, II.7.5).

Lines look like `[05Oct25 14:03:11] WARN: text` (no tag for INFO). The
console shows levels up to the chosen one; the file always gets everything,
DEBUG included. Lines logged before the log file is known are kept and
written when it opens, so the file holds the whole run.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any, Callable, List, Mapping, Optional, Sequence, TextIO, Tuple

from tasker.report.masking import NO_SECRETS, Masker
from tasker.report.private import make_private_dirs, open_private

LEVELS = {"ERROR": 0, "WARN": 1, "INFO": 2, "DEBUG": 3}
_ALIASES = {"WARNING": "WARN"}
_TAGS = ("ERROR: ", "WARN: ", "", "DEBUG: ")
# English month names on purpose: %b follows the locale, log scrapers expect "Oct".
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun",
           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Lines kept while no log file is open (a dry run never opens one); beyond
# this the oldest are dropped so memory stays bounded on endless loops.
MAX_BUFFERED_LINES = 100_000
# Terminal control characters (C0 but tab and newline, DEL, C1): an output that carries
# them must not move the operator's cursor, retitle the terminal or hide log lines.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def level_rank(level: str) -> int:
    """Rank of a level name (ERROR=0 … DEBUG=3); raises ValueError for unknown names."""
    name = level.upper()
    name = _ALIASES.get(name, name)
    try:
        return LEVELS[name]
    except KeyError:
        raise ValueError(f"unknown log level {level!r}") from None


def escape_controls(text: str) -> str:
    """`text` with terminal control characters shown as `\\x1b` (tab and newline kept)."""
    if _CONTROLS.search(text) is None:
        return text
    return _CONTROLS.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def shorten(text: str, limit: int = 200, total: Optional[int] = None) -> str:
    """Output as log lines show it: stripped, newlines as `\\n`, cut at `limit` chars.

    `total` is the whole output's length when `text` is only its beginning. Text
    that may hold a secret must be masked before it is cut (see Log.shorten).
    """
    flat = text.strip().replace("\n", "\\n")
    if len(flat) <= limit and total is None:
        return flat
    return f"{flat[:limit]}... ({total if total is not None else len(flat)} chars total)"


class Log:
    """Console + log file, same lines; file also gets DEBUG. Thread-safe, one lock per line."""

    def __init__(
        self,
        level: str = "INFO",
        masker: Optional[Masker] = None,
        stream: Optional[TextIO] = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._rank = level_rank(level)
        self._masker = masker or NO_SECRETS
        # Looked up at construction, not import, so redirected stdout (pytest) is honoured.
        self._stream: Optional[TextIO] = sys.stdout if stream is None else stream
        self._clock = clock
        self._lock = threading.Lock()
        self._file: Optional[IO[str]] = None
        # (prefix, message) pairs kept until a file opens; None once one opened or closed.
        self._pending: Optional[List[Tuple[str, str]]] = []
        self._dropped = 0
        self._stamp_second = -1
        self._stamp = ""
        self.path: Optional[Path] = None
        self._status: Optional[Any] = None  # a live progress line, see set_status
        # Why the log file could not be written (None while it can): the run then
        # starts nothing more and ends with exit 26 (see on_write_error).
        self.write_error: Optional[str] = None
        self._on_write_error: Optional[Callable[[str], None]] = None
        self._error_untold = False

    # -- configuration -------------------------------------------------------------

    @property
    def level(self) -> str:
        """The console level name."""
        return next(name for name, rank in LEVELS.items() if rank == self._rank)

    def set_level(self, level: str) -> None:
        """Change the console level (e.g. once file-defined arguments are known)."""
        self._rank = level_rank(level)

    def set_status(self, status: Optional[Any]) -> None:
        """A live status line (with `clear_for_log()`) to blank before console lines."""
        with self._lock:
            self._status = status

    def set_masker(self, masker: Masker) -> None:
        """Mask with `masker` from now on (globals are parsed after logging has started)."""
        self._masker = masker

    def mask(self, text: str) -> str:
        """`text` with the known secrets masked, as every line of this log is."""
        return self._masker.mask(text)

    def shorten(self, text: str, limit: int = 200, total: Optional[int] = None) -> str:
        """An output as a log line shows it: masked first, then cut (so no piece of a
        secret survives the cut); the count of `... (<n> chars total)` is of the masked text."""
        return shorten(self._masker.mask(text), limit, total)

    def on_write_error(self, callback: Callable[[str], None]) -> None:
        """Call `callback(reason)` once the log file cannot be written (at once if it already
        could not): the run uses it to start nothing more."""
        self._on_write_error = callback
        if self.write_error is not None:
            callback(self.write_error)

    def open_file(self, path: Path) -> None:
        """Start writing the log file; lines logged so far are written to it first."""
        path = Path(path)
        make_private_dirs(path.parent)
        fd = open_private(path, os.O_WRONLY | os.O_APPEND)
        # Line buffering: one write per line reaches the OS, so a kill -9 loses
        # nothing, without the cost of an fsync per line.
        handle = open(fd, "a", encoding="utf-8", errors="replace", buffering=1)
        with self._lock:
            if self._file is not None:
                self._file.close()
            pending, self._pending = self._pending or [], None
            if self._dropped:
                handle.write(f"[{self._timestamp()}] DEBUG: "
                             f"{self._dropped} earlier log line(s) were not kept\n")
            mask = self._masker.mask
            self._file = handle
            self.path = path
            # Re-mask: the masker may have learned the secrets after these were logged.
            self._to_file("".join(prefix + escape_controls(mask(msg)) for prefix, msg in pending))
        self._tell_write_error()

    def close(self) -> None:
        """Close the log file; later lines go to the console only."""
        with self._lock:
            self._pending = None
            if self._file is not None:
                try:
                    self._file.close()
                except OSError as exc:  # the last flush failed: say so, never raise
                    self._file = None
                    self._lose_file(exc)
                self._file = None
        self._tell_write_error()

    # -- writing -------------------------------------------------------------------

    def error(self, msg: str) -> None:
        """Log at ERROR."""
        self._emit(0, msg)

    def warn(self, msg: str) -> None:
        """Log at WARN."""
        self._emit(1, msg)

    def info(self, msg: str) -> None:
        """Log at INFO (no level tag)."""
        self._emit(2, msg)

    def debug(self, msg: str) -> None:
        """Log at DEBUG (file always; console only at level DEBUG)."""
        self._emit(3, msg)

    def log(self, level: str, msg: str) -> None:
        """Log at the named level."""
        self._emit(level_rank(level), msg)

    def file_only(self, level: str, msg: str) -> None:
        """Log at the named level to the log file only: the console shows the same
        finding in another form (a located diagnostic on stderr)."""
        self._emit(level_rank(level), msg, to_console=False)

    def styled_lines(self, lines: Sequence[Tuple[str, str]]) -> None:
        """INFO lines `(message, sgr)` written together, one write to each place, so nothing
        else comes between them; the console's copy of a line with an `sgr` (a terminal
        colour such as "31") is wrapped in it, the file's stays plain. The caller decides
        whether colour fits the console."""
        texts = [(escape_controls(self._masker.mask(msg)), sgr) for msg, sgr in lines]
        with self._lock:
            prefix = f"[{self._timestamp()}] "
            plain = "".join(f"{prefix}{text}\n" for text, _sgr in texts)
            shown = self._rank >= LEVELS["INFO"]
            if shown and self._stream is not None and any(sgr for _text, sgr in texts):
                self._console("".join(f"{prefix}\x1b[{sgr}m{text}\x1b[0m\n" if sgr
                                      else f"{prefix}{text}\n" for text, sgr in texts))
                shown = False
            self._write("", plain, shown)
        if self._error_untold:
            self._tell_write_error()

    def plain(self, msg: str) -> None:
        """A line without timestamp or tag, on the console and in the file."""
        text = escape_controls(self._masker.mask(msg)) + "\n"
        with self._lock:
            self._write("", text, True)
        if self._error_untold:
            self._tell_write_error()

    def _emit(self, rank: int, msg: str, to_console: bool = True) -> None:
        """Format, mask and write one line whole."""
        # Mask the message only: a short secret must not eat the timestamp. Controls are
        # escaped after masking, so a secret is found as it was written.
        text = self._masker.mask(msg)
        if _CONTROLS.search(text) is not None:  # (rare: a search is cheaper than a call)
            text = escape_controls(text)
        with self._lock:
            self._write(f"[{self._timestamp()}] {_TAGS[rank]}", text + "\n",
                        to_console and rank <= self._rank)
        if self._error_untold:
            self._tell_write_error()

    def _write(self, prefix: str, text: str, to_console: bool) -> None:
        """Write one line (prefix + masked text) to console and file or buffer; lock held."""
        if to_console and self._stream is not None:
            self._console(prefix + text)
        if self._file is not None:
            try:  # (inline: this runs for every line)
                self._file.write(prefix + text)
            except OSError as exc:
                self._drop_file(exc)
        elif self._pending is not None:
            self._pending.append((prefix, text))
            if len(self._pending) > MAX_BUFFERED_LINES:
                del self._pending[: MAX_BUFFERED_LINES // 10]
                self._dropped += MAX_BUFFERED_LINES // 10

    def _to_file(self, text: str) -> None:
        """Write to the log file; a failed write (full disk, I/O error) closes it; lock held."""
        try:
            self._file.write(text)  # type: ignore[union-attr]
        except OSError as exc:
            self._drop_file(exc)

    def _drop_file(self, exc: OSError) -> None:
        """Close the log file after a failed write and say why; lock held."""
        handle, self._file = self._file, None
        try:
            handle.close()  # type: ignore[union-attr]
        except OSError:
            pass  # (its buffer cannot be flushed either)
        self._lose_file(exc)

    def _lose_file(self, exc: OSError) -> None:
        """Remember why the log file cannot be written and say so on the console; lock held."""
        if self.write_error is not None:
            return
        self.write_error = (f"cannot write the log file '{self.path}': "
                            f"{exc.strerror or exc}")
        self._pending = None
        line = f"[{self._timestamp()}] ERROR: {self.write_error}\n"
        if self._stream is not None:
            self._console(line)
        if self._stream is None:  # no console, or it is on the same full disk
            try:
                sys.stderr.write(line)
                sys.stderr.flush()
            except (OSError, ValueError):
                pass
        self._error_untold = True

    def _tell_write_error(self) -> None:
        """Hand a new write error to the run (outside the lock: the callback may log)."""
        if self._error_untold and self._on_write_error is not None:
            self._error_untold = False
            self._on_write_error(self.write_error or "")

    def _console(self, line: str) -> None:
        """Write to the console; a closed pipe (`| head`) silences it instead of failing the run."""
        stream = self._stream
        if stream is None:
            return
        if self._status is not None:
            self._status.clear_for_log()
        try:
            try:
                stream.write(line)
            except UnicodeEncodeError:
                encoding = getattr(stream, "encoding", None) or "ascii"
                stream.write(line.encode(encoding, "replace").decode(encoding))
            stream.flush()  # the console is live: show each line as it happens
        except (OSError, ValueError):  # ValueError: the stream was closed
            self._stream = None

    def _timestamp(self) -> str:
        """`DDMonYY HH:MM:SS` of now, formatted once per second; lock held."""
        now = self._clock()
        second = int(now)
        if second != self._stamp_second:
            t = time.localtime(second)
            self._stamp = (f"{t.tm_mday:02d}{_MONTHS[t.tm_mon - 1]}{t.tm_year % 100:02d} "
                           f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}")
            self._stamp_second = second
        return self._stamp


def print_out(text: str) -> None:
    """Print to stdout; a reader that went away (`| head`) or a terminal that hung up
    (EIO after SIGHUP) must not stop the run.

    After such a failure, stdout points at /dev/null so later output (and the
    interpreter's final flush) is dropped quietly instead of raising.
    """
    try:
        print(text, flush=True)
    except OSError:  # BrokenPipeError, EIO, ...
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except (OSError, ValueError):  # no stdout descriptor to replace: stay quiet
            pass


def wants_colour(stream: Optional[TextIO], environ: Mapping[str, str]) -> bool:
    """Colour (or emoji) on the console only when `stream` is a terminal and neither
    NO_COLOR (https://no-color.org: set to anything but the empty string) nor TERM=dumb
    asks for plain text: the validation summary and the recap decide alike."""
    if stream is None or environ.get("NO_COLOR") or environ.get("TERM") == "dumb":
        return False
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream
        return False
