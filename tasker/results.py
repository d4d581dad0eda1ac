"""Result records: what one execution of a task produced, and the trace of a run.

These are plain frozen values shared by the engines (which create them), the
variable resolver (which reads them for `@N_stdout@` and friends) and the
recorders (log, JSON report, state file, project summary).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from tasker.record import field, record

# Status words used in the JSON report and the state file.
SUCCESS = "success"
FAILED = "failed"
TIMEOUT = "timeout"
SKIPPED = "skipped"

SKIPPED_STDERR = "Task skipped due to condition"


@record(frozen=True)
class BlockCounts:
    """Aggregate of a parallel or conditional block's sub-task results."""

    success: int
    failed: int

    @property
    def total(self) -> int:
        """Number of sub-task results counted."""
        return self.success + self.failed


@record(frozen=True)
class TaskResult:
    """The stored outcome of the latest execution of one task (or block).

    `stdout`/`stderr` are the captured texts after `*_split`, as stored; the
    variable resolver strips trailing newlines when it substitutes them.
    `stdout_file`/`stderr_file` name a temp file holding the full stream when
    it was larger than the in-memory limit, else they are None.
    """

    task_id: int
    exit_code: int
    stdout: str = ""
    stderr: str = ""
    success: bool = False
    status: str = FAILED
    hostname: str = ""
    exec_type: str = ""
    command: str = ""
    start_time: float = 0.0
    duration: float = 0.0
    attempts: int = 1
    iterations: int = 1
    stdout_file: Optional[str] = None
    stderr_file: Optional[str] = None
    counts: Optional[BlockCounts] = None
    # Where `stdout`/`stderr` were cut from a longer whole (None: they are whole): the
    # records mask a secret that the cut went through (Masker.mask_truncated).
    stdout_cut: Optional[int] = None
    stderr_cut: Optional[int] = None
    # Characters of the whole stream after its split (trailing newlines not counted), when
    # the stored text is not all of it; None: the stored text is whole, or the length is
    # unknown (a lost tail, a result restored from a state file).
    stdout_length: Optional[int] = None
    stderr_length: Optional[int] = None


@record(frozen=True)
class TraceEntry:
    """One execution in run order, as the JSON report's `trace` lists it."""

    task: int
    block: Optional[int] = None
    iteration: Optional[int] = None
    attempt: int = 1
    hostname: str = ""
    exit_code: Optional[int] = None
    success: bool = False
    skipped: bool = False
    start_time: float = 0.0
    duration: float = 0.0
    # success, failed, timeout or skipped, as the result's `status` (the recap and the HTML
    # report colour by it; exit_code alone cannot tell a timeout from an exit 124).
    status: str = ""


@record
class RunRecord:
    """Everything a run has produced so far; owned by the engine, read by recorders.

    This is the one mutable place of a run. Engines append to it; recorders
    only read it.
    """

    results: Dict[int, TaskResult] = field(default_factory=dict)
    trace: List[TraceEntry] = field(default_factory=list)  # in order
    execution_path: List[int] = field(default_factory=list)  # top-level IDs in order
    last_task: Optional[int] = None  # last task that ran a command or block
    failure: Optional[Dict[str, Any]] = None  # {"task_id", "exit_code", "error"}
    # The first task of this run whose failure was routed through `on_failure`: a run
    # that later ends in failure resumes there, not inside the handler path (I.4a).
    failure_origin: Optional[int] = None
    # Task IDs in the order their results were stored, so the state writer can
    # find what changed since its last save without looking at every result.
    stored_ids: List[int] = field(default_factory=list)

    def store(self, result: TaskResult) -> None:
        """Record `result` as the latest result of its task."""
        self.results[result.task_id] = result
        self.stored_ids.append(result.task_id)
