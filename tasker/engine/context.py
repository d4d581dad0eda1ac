"""What an engine needs to run a workflow, passed explicitly (no globals)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping, Optional

from tasker.events import Event, Reporters
from tasker.interrupt import Interrupt
from tasker.record import field, record
from tasker.results import RunRecord, TaskResult
from tasker.syntax.ast import TaskFile

if TYPE_CHECKING:
    from tasker.exec.base import Executor
    from tasker.exec.exectypes import ExecConfig

DEFAULT_TIMEOUT = 300.0
MIN_TIMEOUT, MAX_TIMEOUT = 5.0, 1000.0


@record(frozen=True)
class EngineOptions:
    """Run settings that come from the command line and the environment."""

    dry_run: bool = True
    fire_and_forget: bool = False
    cli_exec_type: Optional[str] = None  # -t/--type
    cli_timeout: Optional[float] = None  # -o/--timeout
    environ: Mapping[str, str] = field(default_factory=dict)
    start_from: Optional[int] = None


@record(frozen=True)
class Outcome:
    """How a run ended: the process exit code and the report's status."""

    exit_code: int
    status: str  # success | failed | interrupted
    error: Optional[str] = None
    task_id: Optional[int] = None


@record
class RunContext:
    """Everything the engines use; `run_state` is the one mutable state of the run."""

    taskfile: TaskFile
    options: EngineOptions
    exec_config: ExecConfig
    executor: Executor
    interrupt: Interrupt
    # Who observes the run (tasker/events.py): the log, the progress line, the records.
    events: Reporters = field(default_factory=Reporters)
    run_state: RunRecord = field(default_factory=RunRecord)
    # Where streams too large to keep with a stored result are written (None: kept).
    spool_dir: Optional[Path] = None
    # Masks the secrets in the command line an executor may show in its own messages.
    mask: Callable[[str], str] = field(default=lambda text: text)
    # The results placeholders read, when not the live ones: the sub-tasks of a parallel
    # block see the results as they were when the block started (II.5.1 step 5).
    visible: Optional[Mapping[int, TaskResult]] = None

    def emit(self, event: Event) -> None:
        """Report `event` to every subscriber of the run."""
        self.events.emit(event)

    def results(self) -> Mapping[int, TaskResult]:
        """The stored results `@N_...@` placeholders resolve against here."""
        return self.run_state.results if self.visible is None else self.visible
