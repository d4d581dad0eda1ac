"""The console and log file as a subscriber: each event rendered to its line of SPEC A.1.

The engine reports values (tasker/events.py); this module owns the wording of the
lines that come from typed events: `Executing [...]`, `Exit code:`, `STDOUT:`,
`Split STDOUT:`, `Timeout after`, `Completed - Success:`, the start and end of a
block. A `Note` is written as it is, at its level. Masking happens in the Log, as
for every line: secrets are masked in the whole line, and an output is masked
before it is cut to 200 characters (Log.shorten).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple

from tasker.events import (
    DEBUG,
    ERROR,
    INFO,
    WARN,
    BlockFinished,
    BlockStarted,
    CommandFinished,
    CommandLaunched,
    Event,
    Note,
    OutputSplit,
    Reporters,
    SubtaskFinished,
)
from tasker.report.logger import Log
from tasker.results import SKIPPED, TIMEOUT

_SUFFIX = {TIMEOUT: " (timeout)", SKIPPED: " (skipped)"}


def command_line(event: CommandLaunched) -> str:
    """The line that shows a command as it starts (or would, in a dry run)."""
    if event.dry_run:
        return f"Task {event.label}: [DRY RUN] Would execute: {event.command}"
    return f"Task {event.label}: Executing [{event.exec_shown}]: {event.command}"


def retry_suffix(retry: Optional[Tuple[int, float]]) -> str:
    """`, retry_failed=true (count=N, delay=Ds)` for a block that retries, else ""."""
    if retry is None:
        return ""
    count, delay = retry
    return f", retry_failed=true (count={count}, delay={delay:g}s)"


def block_start_line(event: BlockStarted) -> str:
    """A parallel block's start line, or a conditional block's choice of branch."""
    if event.kind == "parallel":
        return (f"Task {event.block_id}: Starting parallel execution of {event.total} tasks "
                f"(max_parallel={event.max_parallel}{retry_suffix(event.retry)})")
    word = "TRUE" if event.branch else "FALSE"
    return (f"Task {event.block_id}: Executing {word} branch with {event.total} tasks "
            f"(sequential{retry_suffix(event.retry)})")


class LogReporter:
    """Subscriber that writes the run's lines to the Log (console and log file): notes,
    and the events it has a renderer for (which are what it `wants`)."""

    def __init__(self, log: Log) -> None:
        self.log = log
        self._levels: Dict[str, Callable[[str], None]] = {
            ERROR: log.error, WARN: log.warn, INFO: log.info, DEBUG: log.debug}
        self._renderers: Dict[type, Callable[[Any], None]] = {
            CommandLaunched: self.command_launched, CommandFinished: self.command_finished,
            OutputSplit: self.output_split, SubtaskFinished: self.subtask_finished,
            BlockStarted: self.block_started, BlockFinished: self.block_finished,
        }
        self.wants = frozenset((Note, *self._renderers))

    def handle(self, event: Event) -> None:
        """Write the event's lines."""
        if isinstance(event, Note):  # (the most frequent event: no lookup)
            self._levels[event.level](event.text)
            return
        render = self._renderers.get(type(event))
        if render is not None:
            render(event)

    def command_launched(self, event: CommandLaunched) -> None:
        """`Executing [type]: command` or `[DRY RUN] Would execute: command`."""
        self.log.info(command_line(event))

    def command_finished(self, event: CommandFinished) -> None:
        """`Timeout after`, `Exit code:`, then the outputs that are not blank."""
        label = event.label
        if event.timed_out:
            self.log.info(f"Task {label}: Timeout after {event.timeout:g} seconds. "
                          "Process killed.")
        self.log.info(f"Task {label}: Exit code: {event.exit_code}")
        if event.stdout.strip():
            self.log.info(f"Task {label}: STDOUT: "
                          f"{self.log.shorten(event.stdout, total=event.stdout_total)}")
        if event.stderr.strip():
            self.log.info(f"Task {label}: STDERR: "
                          f"{self.log.shorten(event.stderr, total=event.stderr_total)}")

    def output_split(self, event: OutputSplit) -> None:
        """`Split STDOUT:`; as TASKER, none for an empty or blank split value."""
        if event.text.strip():
            self.log.info(f"Task {event.label}: Split {event.stream.upper()}: "
                          f"{self.log.shorten(event.text, total=event.total)}")

    def subtask_finished(self, event: SubtaskFinished) -> None:
        """The retry summary (after retries) and the `Completed` line of a sub-task."""
        k, result = event.attempts, event.result
        if event.retry and k > 1:
            label = f"{event.label}.{k}"
            if result.success:
                self.log.info(f"Task {label}: SUCCESS after {k - 1} retry attempt(s)")
            else:
                self.log.info(f"Task {label}: FAILED after {k - 1} retry attempt(s) - giving up")
        suffix = _SUFFIX.get(result.status, "")
        self.log.info(f"Task {event.label}: Completed - Success: {result.success}{suffix}")

    def block_started(self, event: BlockStarted) -> None:
        """The block's start line."""
        self.log.info(block_start_line(event))

    def block_finished(self, event: BlockFinished) -> None:
        """`Parallel execution completed in`, unless an error left the block."""
        if not event.aborted:
            word = "Parallel" if event.kind == "parallel" else "Conditional"
            self.log.info(f"Task {event.block_id}: {word} execution completed in "
                          f"{event.duration:.2f} seconds")


def log_events(log: Log) -> Reporters:
    """A fan-out with only the log writer: what a run without other records needs."""
    return Reporters(LogReporter(log))
