"""The RECAP at the end of a real run (issue 17, section 1): what ran, and how it ended.

One row per task ID that ran and per sub-task (block and sub-task ID), built
from its last execution, with the number of its executions in this run (loop
iterations, retry attempts and jumps back all count) and the attempts of the
last one. A block's row stays where it ran, its sub-tasks right after it; its
status says how many of them succeeded (`success`, `partial(k/n)`, `failed`).
Failed tasks and sub-tasks come last, and the closing line counts executions
of commands only (tasks and sub-tasks, never blocks). A block with more than
`SUBTASK_LIMIT` sub-tasks shows one row of counts instead of its sub-tasks,
plus a row per failed one. The lines go through the Log at INFO (masked and
timestamped like every line); scripts parse Appendix A.1 lines unanchored, so
no row may read like one: cells never contain blanks, and no cell is the word
`Task`.
"""

from __future__ import annotations

import re
from typing import Dict, List, Optional, Sequence, Set, Tuple

from tasker.record import record, replace
from tasker.report.executions import FAILURES, Execution
from tasker.report.logger import Log
from tasker.results import FAILED, SKIPPED, SUCCESS, TIMEOUT

SUBTASK_LIMIT = 50
HEADINGS = ("ID", "HOST", "STATUS", "EXIT", "RUNS", "ATTEMPTS", "DURATION")
RIGHT_ALIGNED = frozenset((3, 4, 5, 6))  # the numbers
PARTIAL = "partial"  # a block some of whose sub-tasks succeeded, not all
# SGR colours of a terminal by status; the header is bold.
COLOURS = {SUCCESS: "32", FAILED: "31", TIMEOUT: "35", SKIPPED: "33", PARTIAL: "33"}
BOLD = "1"
_BLANKS = re.compile(r"\s")
Key = Tuple[Optional[int], int]  # (block or None, task)


@record(frozen=True)
class RecapRow:
    """One row: a task or sub-task, or (with `counts`) a block's sub-tasks counted."""

    label: str  # `N`, `P-S`, or `P-*` for a counts row
    task: int
    block: Optional[int]
    host: str
    status: str
    exit_code: Optional[int]
    runs: int
    attempts: int
    duration: float
    counts: Optional[Tuple[Tuple[str, int], ...]] = None  # (status, sub-tasks) of a block
    # A block's own row: (sub-tasks that succeeded, sub-tasks that ran, skips left out).
    subtasks: Optional[Tuple[int, int]] = None

    @property
    def failed(self) -> bool:
        """A task's or sub-task's failure or timeout (a block's row never is, nor a counts
        row: their sub-tasks' failures have rows of their own)."""
        return self.counts is None and self.subtasks is None and self.status in FAILURES

    @property
    def status_text(self) -> str:
        """The STATUS cell: the status, and for a partial block how many sub-tasks
        succeeded of those that ran (`partial(2/3)`, no blank: cells have none)."""
        if self.status == PARTIAL and self.subtasks is not None:
            return f"{PARTIAL}({self.subtasks[0]}/{self.subtasks[1]})"
        return self.status


def group_executions(executions: Sequence[Execution]) -> Dict[Key, List[Execution]]:
    """Executions by (block, task), each key in the order of its first execution."""
    groups: Dict[Key, List[Execution]] = {}
    for execution in executions:
        groups.setdefault((execution.block, execution.task), []).append(execution)
    return groups


def row_of(runs: Sequence[Execution]) -> RecapRow:
    """The row of one task or sub-task: its last execution, the count and total time."""
    last = runs[-1]
    return RecapRow(label=last.label, task=last.task, block=last.block, host=last.host,
                    status=last.status, exit_code=last.exit_code, runs=len(runs),
                    attempts=last.attempt, duration=sum(e.duration for e in runs))


def block_row(own: RecapRow, subs: Sequence[RecapRow]) -> RecapRow:
    """A block's row: `success` when every sub-task that ran succeeded, `partial` when
    some did, `failed` when none did (`skipped` when every one was skipped)."""
    ran = [r for r in subs if r.status != SKIPPED]
    ok = sum(1 for r in ran if r.status == SUCCESS)
    status = (SKIPPED if not ran else SUCCESS if ok == len(ran) else PARTIAL if ok
              else FAILED)
    return replace(own, status=status, subtasks=(ok, len(ran)))


def counts_row(block: int, rows: Sequence[RecapRow]) -> RecapRow:
    """One row counting a large block's sub-tasks by status."""
    tally = tuple((status, sum(1 for r in rows if r.status == status))
                  for status in (SUCCESS, SKIPPED, FAILED, TIMEOUT))
    worst = FAILED if any(r.status in FAILURES for r in rows) else SUCCESS
    return RecapRow(label=f"{block}-*", task=block, block=block, host="", status=worst,
                    exit_code=None, runs=sum(r.runs for r in rows), attempts=0,
                    duration=0.0, counts=tally)


def _ordered(groups: Dict[Key, List[Execution]]) -> List[Key]:
    """Top-level tasks and blocks in the order they first ran, each block's sub-tasks
    right after its own row (a block's own execution is traced after its sub-tasks, and a
    sub-task when it ends: they are ordered by their first start)."""
    units: Dict[int, int] = {}
    for block, task in groups:
        units.setdefault(task if block is None else block, len(units))
    first = {key: (runs[0].start, n) for n, (key, runs) in enumerate(groups.items())}
    return sorted(groups, key=lambda key: (units[key[1] if key[0] is None else key[0]],
                                           key[0] is not None, first[key]))


def rows_by_key(groups: Dict[Key, List[Execution]]
                ) -> Tuple[Dict[Key, RecapRow], Dict[int, List[RecapRow]]]:
    """(the row of each key, blocks' own rows made by `block_row`; each block's sub-task
    rows). A block is a top-level task whose sub-tasks ran."""
    rows = {key: row_of(runs) for key, runs in groups.items()}
    per_block: Dict[int, List[RecapRow]] = {}
    for (block, _task), row in rows.items():
        if block is not None:
            per_block.setdefault(block, []).append(row)
    for block, subs in per_block.items():
        if (None, block) in rows:
            rows[(None, block)] = block_row(rows[(None, block)], subs)
    return rows, per_block


def recap_rows(executions: Sequence[Execution],
               limit: Optional[int] = SUBTASK_LIMIT) -> List[RecapRow]:
    """The rows in order, failed tasks and sub-tasks last (blocks stay where they ran);
    past `limit` sub-tasks a block is counted (None: never)."""
    groups = group_executions(executions)
    rows, per_block = rows_by_key(groups)
    large = {b for b, subs in per_block.items() if limit is not None and len(subs) > limit}
    shown: List[RecapRow] = []
    failed: List[RecapRow] = []
    counted: Set[int] = set()
    for key in _ordered(groups):
        block, task = key
        row = rows[key]
        unit = task if block is None else block
        if row.failed:
            failed.append(row)
        elif block is None or block not in large:
            shown.append(row)
        if unit in large and unit not in counted:  # after the block's row, or in its place
            counted.add(unit)
            shown.append(counts_row(unit, per_block[unit]))
    return shown + failed


def _cell(text: str) -> str:
    """A cell without blanks (host names can be task outputs), `-` when empty."""
    if not text:
        return "-"
    text = _BLANKS.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    return "'Task'" if text == "Task" else text


def duration_text(seconds: float) -> str:
    """`0.52s`, `3m07s` or `2h05m`."""
    if seconds < 60:
        return f"{seconds:.2f}s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def cells(row: RecapRow) -> Tuple[str, ...]:
    """The texts of a row's columns (a counts row has its counts in the third)."""
    if row.counts is not None:
        total = sum(n for _status, n in row.counts)
        said = ", ".join(f"{n} {status}" for status, n in row.counts if n or status != TIMEOUT)
        return (row.label, "-", f"{total} sub-tasks: {said}")
    code = "-" if row.exit_code is None or row.status == SKIPPED else str(row.exit_code)
    return (_cell(row.label), _cell(row.host), row.status_text, code, str(row.runs),
            str(row.attempts), duration_text(row.duration))


def table_lines(rows: Sequence[RecapRow]) -> List[Tuple[str, str]]:
    """(line, status) of the heading and each row, columns aligned."""
    table = [HEADINGS] + [cells(row) for row in rows]
    widths = [max(len(r[i]) for r in table if len(r) == len(HEADINGS))  # (counts rows span)
              for i in range(len(HEADINGS))]
    lines = []
    for texts, status in zip(table, [""] + [row.status for row in rows]):
        padded = [text.rjust(widths[i]) if i in RIGHT_ALIGNED and len(texts) > 3
                  else text.ljust(widths[i]) for i, text in enumerate(texts)]
        lines.append(("  " + "  ".join(padded).rstrip(), status))
    return lines


def counted_rows(executions: Sequence[Execution]) -> List[RecapRow]:
    """One row per task and sub-task that ran a command (blocks left out: their sub-tasks
    are counted), none counted or reordered: what the closing line counts."""
    rows, _per_block = rows_by_key(group_executions(executions))
    return [row for row in rows.values() if row.subtasks is None]


def closing_line(every_row: Sequence[RecapRow]) -> str:
    """The counts of every task and sub-task that ran (those of counted blocks included)."""
    statuses = [row.status for row in every_row]
    failed = sum(1 for s in statuses if s in FAILURES)
    line = (f"{statuses.count(SUCCESS)} succeeded, {statuses.count(SKIPPED)} skipped, "
            f"{failed} failed")
    timeouts = statuses.count(TIMEOUT)
    return line + (f" ({timeouts} timed out)" if timeouts else "")


def log_recap(log: Log, executions: Sequence[Execution], colour: bool) -> None:
    """Write the RECAP through `log` at INFO, all lines at once (console in colour when
    `colour`)."""
    lines = [("RECAP", BOLD)]
    if not executions:
        lines.append(("  no task ran", ""))
    else:
        lines += [(text, COLOURS.get(status, BOLD if not status else ""))
                  for text, status in table_lines(recap_rows(executions))]
        every_row = counted_rows(executions)
        failed = any(row.failed for row in every_row)
        lines.append(("  " + closing_line(every_row), COLOURS[FAILED if failed else SUCCESS]))
    log.styled_lines(lines if colour else [(text, "") for text, _sgr in lines])
