"""What the recap and the HTML report read: a run's executions, outputs and outcome.

The reporters never look at the engine's `RunRecord` themselves: `run_view`
turns it into these small values once, masked, at the end of the run, so that
the event stream (DESIGN: "engines emit, reporters observe") can build the same
values from its events later and the reporters stay as they are.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Set, Tuple

from tasker.record import record
from tasker.report.masking import Masker
from tasker.results import FAILED, SKIPPED, SUCCESS, TIMEOUT, RunRecord, TraceEntry

FAILURES = (FAILED, TIMEOUT)


@record(frozen=True)
class Execution:
    """One execution: a task, a loop iteration, a block, or one attempt of a sub-task."""

    task: int
    block: Optional[int]  # the parallel or conditional block of a sub-task, else None
    iteration: Optional[int]  # loop iteration from 1, None outside loops
    attempt: int  # retry attempt from 1
    host: str  # masked; "" for blocks and tasks without a host
    status: str  # success, failed, timeout or skipped
    exit_code: Optional[int]
    start: float  # epoch seconds
    end: float

    @property
    def label(self) -> str:
        """The ID as log lines show it: `N`, or `P-S` for sub-task S of block P."""
        return str(self.task) if self.block is None else f"{self.block}-{self.task}"

    @property
    def duration(self) -> float:
        """Seconds from start to end."""
        return max(0.0, self.end - self.start)

    @property
    def failed(self) -> bool:
        """True for a failure or a timeout."""
        return self.status in FAILURES


@record(frozen=True)
class TaskOutput:
    """A task's latest stored outputs and command, masked (as the JSON report has them)."""

    task: int
    command: str
    stdout: str
    stderr: str
    stdout_truncated: bool = False
    stderr_truncated: bool = False


@record(frozen=True)
class RunView:
    """The finished run as the reporters see it."""

    task_file: str
    status: str  # success, failed, validation_failed or interrupted
    exit_code: int
    dry_run: bool
    started: float
    ended: float
    executions: Tuple[Execution, ...] = ()
    outputs: Tuple[TaskOutput, ...] = ()
    error: str = ""  # why the run failed (masked), "" when it did not


def _status(entry: TraceEntry) -> str:
    """The entry's status; one written before statuses were traced is derived."""
    if entry.status:
        return entry.status
    if entry.skipped:
        return SKIPPED
    return SUCCESS if entry.success else FAILED


def execution(entry: TraceEntry, masker: Masker) -> Execution:
    """The reporters' view of one trace entry."""
    return Execution(task=entry.task, block=entry.block, iteration=entry.iteration,
                     attempt=entry.attempt, host=masker.mask(entry.hostname),
                     status=_status(entry), exit_code=entry.exit_code,
                     start=entry.start_time, end=entry.start_time + entry.duration)


def ending_execution(record_: RunRecord, executions: Sequence[Execution], status: str,
                     ended: float) -> Optional[Execution]:
    """The task that ended a failed run without any execution traced (a missing program,
    an unknown exec type: the engine stores no result for it, as the original), as one
    failed execution with no exit code at the end of the run, so the recap shows and
    counts it; None when the run's record names no such task."""
    tid = (record_.failure or {}).get("task_id")
    if status != "failed" or not isinstance(tid, int) \
            or any(e.block == tid or (e.block is None and e.task == tid) for e in executions):
        return None
    return Execution(task=tid, block=None, iteration=None, attempt=1, host="", status=FAILED,
                     exit_code=None, start=ended, end=ended)


def run_executions(record_: RunRecord, masker: Masker, status: str,
                   ended: float) -> Tuple[Execution, ...]:
    """This run's executions in trace order, masked, and the `ending_execution` last."""
    found: List[Execution] = [execution(e, masker) for e in list(record_.trace)]
    ending = ending_execution(record_, found, status, ended)
    return tuple(found + ([ending] if ending is not None else []))


def outputs(record_: RunRecord, masker: Masker, tasks: Set[int]) -> Tuple[TaskOutput, ...]:
    """The stored outputs of `tasks`, by task ID, masked before anything else sees them."""
    found = []
    for tid, result in sorted(record_.results.copy().items()):
        if tid not in tasks:  # (restored from a state file: it did not run now)
            continue
        found.append(TaskOutput(
            task=tid, command=masker.mask(result.command),
            stdout=masker.mask_stored(result.stdout, result.stdout_cut),
            stderr=masker.mask_stored(result.stderr, result.stderr_cut),
            stdout_truncated=result.stdout_cut is not None,
            stderr_truncated=result.stderr_cut is not None))
    return tuple(found)


def run_view(record_: RunRecord, masker: Masker, *, task_file: str, status: str,
             exit_code: int, dry_run: bool, started: float, ended: float) -> RunView:
    """Build the reporters' input from the run's record (this run's executions only:
    results restored from a state file did not run now and are not in the trace)."""
    failure: Dict[str, object] = record_.failure or {}
    executions = run_executions(record_, masker, status, ended)
    return RunView(task_file=task_file, status=status, exit_code=exit_code, dry_run=dry_run,
                   started=started, ended=ended, executions=executions,
                   outputs=outputs(record_, masker, {e.task for e in executions}),
                   error=masker.mask(str(failure.get("error") or "")))
