"""What a run reports, as values: the engine emits these events, reporters observe them.

The engine never writes a log line, a state file or a report itself. At each
moment worth reporting it hands one frozen event to `RunContext.emit`, which
passes it to every subscriber of the run's `Reporters`: the console/log writer
(tasker/report/console.py renders each event to its line of SPEC Appendix A.1),
the progress line, the state file and the JSON report (tasker/session.py). A
recap or an HTML report is one more subscriber; the engine does not change.

Every moment that a record needs is a typed event. Narration that only the log
shows (the fixed sentences of A.1: conditions evaluated, routing, sleeping,
warnings about values) travels as a `Note` with its level and its text.

Threads: the sub-tasks of a parallel block emit from worker threads. `emit`
takes no lock: each subscriber guards its own state (the Log writes one line at
a time under its lock), so the events of one thread arrive in the order that
thread emitted them, and lines of different threads never mix inside a line.
This module imports nothing of the engine or of the reporters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Dict, Optional, Protocol, Tuple, Union

from tasker.record import record
from tasker.results import TIMEOUT, TaskResult

if TYPE_CHECKING:
    from tasker.exec.base import CommandResult

ERROR, WARN, INFO, DEBUG = "ERROR", "WARN", "INFO", "DEBUG"


# -- narration ----------------------------------------------------------------------

@record(frozen=True)
class Note:
    """A fixed sentence of the log at a level (ERROR, WARN, INFO, DEBUG)."""

    level: str
    text: str


def info(text: str) -> Note:
    """A Note at INFO (the log shows it without a tag)."""
    return Note(INFO, text)


def warn(text: str) -> Note:
    """A Note at WARN."""
    return Note(WARN, text)


def error(text: str) -> Note:
    """A Note at ERROR."""
    return Note(ERROR, text)


def debug(text: str) -> Note:
    """A Note at DEBUG (the log file always has it, the console only at DEBUG)."""
    return Note(DEBUG, text)


# -- the run ------------------------------------------------------------------------

@record(frozen=True)
class RunStarted:
    """The engine starts the walk at `first_task`."""

    task_file: str
    dry_run: bool
    started: float  # time.time()
    first_task: int


@record(frozen=True)
class RunFinished:
    """The run ended: the records are written now. `revised`: a second RunFinished after
    a signal ended the alert script changed the exit code (the report is written again)."""

    exit_code: int
    status: str  # success | failed | validation_failed | interrupted
    error: Optional[str]
    task_id: Optional[int]  # the task that ended the run
    ended: float  # time.time()
    revised: bool = False


# -- one execution ------------------------------------------------------------------

@record(frozen=True)
class TaskStarted:
    """One execution begins: a task, a loop iteration, a retry attempt of a sub-task.

    `label` is how the log names it: `3`, `3.2` (iteration 2), `10-102` (sub-task 102
    of block 10), `10-102.2` (its second attempt when the block retries).
    """

    task_id: int
    label: str
    block_id: Optional[int]
    host: str  # the hostname field as resolved now ("" when none)
    iteration: Optional[int]
    attempt: int


@record(frozen=True)
class CommandLaunched:
    """A command starts (or, in a dry run, would). `command` is the line as shown, not
    yet masked: the log writer masks it as it masks every line."""

    task_id: int
    label: str
    exec_shown: str  # the exec type as written or derived
    command: str
    dry_run: bool = False


@record(frozen=True)
class CommandFinished:
    """A command ended: its exit code and the beginnings of its outputs for the log.

    `stdout`/`stderr` are at most the first few thousand characters (not masked,
    not cut); `*_total` is the whole stream's length when they are only its
    beginning. The log writer masks, then cuts to 200 characters.
    """

    task_id: int
    label: str
    exit_code: int
    timed_out: bool
    timeout: float
    stdout: str
    stdout_total: Optional[int]
    stderr: str
    stderr_total: Optional[int]


@record(frozen=True)
class CommandOutputs:
    """A real command ended (never in a dry run): its whole outputs, for --output-dir.

    Emitted once per execution, right after the command and before its outputs are
    split, judged and cut. `result` is the executor's CommandResult as it is: its
    spill files (`stdout_file`, `stderr_file`) hold the whole of a long stream and are
    valid only during the emit, since they are removed after; a subscriber reads them
    in its `handle` and keeps nothing that points at them.
    """

    task_id: int
    label: str
    block_id: Optional[int]
    iteration: Optional[int]
    attempt: int
    host: str  # the hostname field as resolved for this execution ("" when none)
    result: CommandResult


@record(frozen=True)
class OutputSplit:
    """The value `stdout_split`/`stderr_split` kept (`stream` is "stdout" or "stderr")."""

    task_id: int
    label: str
    stream: str
    text: str
    total: Optional[int]


@record(frozen=True)
class AttemptFinished:
    """A result was stored: an execution, a skip, a return value, a block, a decision.

    Emitted once per entry of the run's trace, with the same placing (block,
    iteration, attempt) and the stored result.
    """

    task_id: int
    label: str
    block_id: Optional[int]
    iteration: Optional[int]
    attempt: int
    result: TaskResult
    skipped: bool = False

    @property
    def host(self) -> str:
        """The host the command ran on ("" for local work and blocks)."""
        return self.result.hostname

    @property
    def started(self) -> float:
        """When it started (time.time())."""
        return self.result.start_time

    @property
    def ended(self) -> float:
        """When it ended (time.time())."""
        return self.result.start_time + self.result.duration

    @property
    def timed_out(self) -> bool:
        """True when its command was killed at its timeout."""
        return self.result.status == TIMEOUT


@record(frozen=True)
class SubtaskFinished:
    """A sub-task of a block is done, after its last attempt (`label` without attempt)."""

    block_id: int
    task_id: int
    label: str
    attempts: int
    retry: bool  # the block retries (its attempts are labelled `label.k`)
    result: TaskResult


# -- blocks -------------------------------------------------------------------------

@record(frozen=True)
class BlockStarted:
    """A parallel block or a conditional block's branch starts its `total` sub-tasks."""

    block_id: int
    kind: str  # parallel | conditional
    total: int
    max_parallel: Optional[int] = None  # parallel blocks
    branch: Optional[bool] = None  # conditional blocks: the branch taken
    retry: Optional[Tuple[int, float]] = None  # (retry count, delay) when the block retries


@record(frozen=True)
class BlockProgress:
    """A block's counts changed: a sub-task started or finished."""

    block_id: int
    done: int
    total: int
    running: int
    failed: int


@record(frozen=True)
class BlockFinished:
    """A block's sub-tasks are done (or were stopped) after `duration` seconds; `aborted`:
    an error left the block (the log then says nothing of its completion)."""

    block_id: int
    kind: str
    duration: float
    aborted: bool = False


# -- the walk -----------------------------------------------------------------------

@record(frozen=True)
class RoutingDecided:
    """Where the walk goes after a top-level task: `next_task` (None: the run stops).
    `why`: "next" (on to `next_task`), "end" (no task has the ID routed to: the run ends
    successfully), "success" or "failed" (the task ended the run so), "interrupted"."""

    task_id: int
    next_task: Optional[int]
    why: str


@record(frozen=True)
class TaskFinished:
    """A top-level task is done; `next_task` is where a resumed run would go on (None:
    nothing is left). The state file is saved on this event."""

    task_id: int
    next_task: Optional[int]


Event = Union[Note, RunStarted, RunFinished, TaskStarted, CommandLaunched, CommandFinished,
              CommandOutputs, OutputSplit, AttemptFinished, SubtaskFinished, BlockStarted,
              BlockProgress, BlockFinished, RoutingDecided, TaskFinished]


class Reporter(Protocol):
    """Anything that observes a run's events.

    A reporter may also have a `wants` attribute, the event classes it handles; it is
    then called for those only (most events concern one or two subscribers, and a run
    emits several per task). Without it, it is called for every event.
    """

    def handle(self, event: Event) -> None:
        """Take one event; called from the thread that emitted it."""


Handler = Callable[[Event], None]


class Reporters:
    """The run's subscribers; `emit` hands each event to every one that wants it, in
    subscription order.

    Subscribers are added while the run is set up. Which handlers an event class goes
    to is worked out on its first emit and kept; the table is replaced whole, never
    changed in place, so threads that emit at once need no lock to read it.
    """

    def __init__(self, *reporters: Optional[Reporter]) -> None:
        self._reporters: Tuple[Reporter, ...] = ()
        self._routes: Dict[type, Tuple[Handler, ...]] = {}
        for reporter in reporters:
            if reporter is not None:
                self.add(reporter)

    def add(self, reporter: Reporter) -> None:
        """Subscribe `reporter` (after the ones already subscribed)."""
        self._reporters = self._reporters + (reporter,)
        self._routes = {}

    def emit(self, event: Event) -> None:
        """Hand `event` to every subscriber that wants it."""
        handlers = self._routes.get(type(event))
        if handlers is None:
            handlers = self._route(type(event))
        for handle in handlers:
            handle(event)

    def _route(self, kind: type) -> Tuple[Handler, ...]:
        """The handlers of an event class, added to the table."""
        handlers = tuple(reporter.handle for reporter in self._reporters
                         if kind in getattr(reporter, "wants", (kind,)))
        self._routes = {**self._routes, kind: handlers}
        return handlers


class AtRunFinished:
    """Subscriber: one record of the finished run, written by `write` when RunFinished
    arrives (the session's recap and reports: they read the run's record rather than
    collect events, since it also holds the results restored from a saved state, which
    this run never reports)."""

    wants = frozenset((RunFinished,))

    def __init__(self, write: Callable[[RunFinished], None]) -> None:
        self.write = write

    def handle(self, event: Event) -> None:
        """Write the record on RunFinished."""
        if isinstance(event, RunFinished):
            self.write(event)
