"""The executor interface: what the engines hand over (a CommandSpec) and get back.

Engines never know how a command is run; they build a `CommandSpec` (argv,
timeout, the display line for logs) and call `Executor.run`. Every executor
(local processes, SSH) returns the same `CommandResult` and never raises for
a failure of the command itself.
"""

from __future__ import annotations

import threading
from typing import Optional, Protocol, Tuple

from tasker.record import record

# Exit codes with a fixed meaning. A program that cannot be started (missing, not
# executable, ...) gets exit 1 with the reason on stderr, as TASKER reports it (SPEC
# II.3.3 step 7, II.5.1.3), not the shell's 126/127: wrapper scripts test for these codes.
TIMEOUT_EXIT = 124
START_ERROR_EXIT = 1

# Bytes of each stream kept in memory; beyond this the whole stream is spilled.
MEMORY_LIMIT = 1024 * 1024


# Transports: how a command reaches where it runs (an exec type names one).
PROCESS = "process"  # a local child process (local, shell, and wrappers such as pbrun)
SSH = "ssh"          # a channel of an SSH connection to `host`


@record(frozen=True)
class CommandSpec:
    """One command to run: what, where, for how long, and how it is shown.

    For the process transport `argv` is the local program's argument vector; for
    ssh it is the remote command's words, run on `host` (which the executor quotes
    for the remote POSIX shell, so remote word boundaries equal local ones).
    """

    argv: Tuple[str, ...]
    timeout: float  # seconds; the caller already clamped it
    display: str    # the command line as logged (secrets already masked)
    transport: str = PROCESS
    host: str = ""  # where an ssh command runs, as the task names it ([user@]host[:port])


@record(frozen=True)
class CommandResult:
    """What running a command produced; failures are values, never exceptions."""

    exit_code: int        # 124 on timeout; -N when killed by signal N
    stdout: str           # decoded text, at most the first MEMORY_LIMIT bytes
    stderr: str
    duration: float       # wall time in seconds
    timed_out: bool = False
    not_found: bool = False  # the program does not exist (ENOENT)
    stdout_file: Optional[str] = None  # whole stream, when it exceeded MEMORY_LIMIT
    stderr_file: Optional[str] = None
    # Bytes past MEMORY_LIMIT that could not be kept (no spill file): then `stdout` is
    # all there is of the stream, and its stderr has a note saying so.
    stdout_lost: int = 0
    stderr_lost: int = 0


class Executor(Protocol):
    """Anything that can run a CommandSpec (local processes, SSH channels, fakes).

    `run` is thread-safe: the sub-tasks of a parallel block (up to `max_parallel`,
    at most 1000) call it at once. It never raises for a failure of the command or
    of the way to it: those are results. `close` frees what the executor holds.
    """

    def run(self, spec: CommandSpec, cancel: threading.Event) -> CommandResult:
        """Run `spec` to completion, timeout, or cancellation."""
        ...

    def close(self) -> None:
        """Free what the executor holds (connections, caches); later runs may not come."""
        ...


def format_seconds(seconds: float) -> str:
    """Format a duration for messages: `5` for whole numbers, else `2.5`."""
    if float(seconds).is_integer():
        return str(int(seconds))
    return f"{seconds:g}"


def timeout_message(seconds: float) -> str:
    """The stderr line appended when a command is killed by its timeout."""
    return f"Process killed after timeout of {format_seconds(seconds)} seconds"


def append_line(text: str, line: str) -> str:
    """Append `line` to `text` as a line of its own."""
    if text and not text.endswith("\n"):
        text += "\n"
    return text + line


def lost_output_note(stream: str, kept: int, lost: int, unit: str, reason: str) -> str:
    """The stderr line telling the operator that the tail of an output could not be kept."""
    return (f"tasker: {stream}: only the first {kept} {unit} were kept; {lost} more were lost "
            f"({reason})")
