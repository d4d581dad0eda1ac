"""The task-file AST: frozen values with source positions.

After loading, this is the only representation of the file; engines and the
validator never look at the raw text again. Field values already have the
file's global variables substituted (globals are constants written by the
author); task-result placeholders such as `@3_stdout@` stay in the text and
are bound at run time.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING, Dict, Mapping, NamedTuple, Optional, Sequence, Tuple

from tasker.record import field, record

if TYPE_CHECKING:  # (types only: the AST module stays a leaf)
    from tasker.syntax.condition_ast import Expr
    from tasker.syntax.diagnostics import Diagnostic


# Keys that are fields of a task (SPEC II.2). Before the first `task=` line a
# key in this set is not a global; inside a task any other key is unknown.
TASK_FIELDS = frozenset({
    "task", "hostname", "command", "arguments", "next", "stdout_split", "stderr_split",
    "stdout_count", "stderr_count", "sleep", "loop", "loop_break", "on_failure",
    "on_success", "success", "failure", "condition", "exec", "timeout", "return", "type",
    "max_parallel", "tasks", "retry_failed", "retry_count", "retry_delay", "if_true_tasks",
    "if_false_tasks", "hostnames", "host_success",
})
# `hostnames` is not on the original's skip list, so in the header it is a global.
NOT_GLOBAL_KEYS = TASK_FIELDS - {"hostnames", "host_success"}

CONDITION_FIELDS = ("condition", "success", "failure", "loop_break", "next", "host_success")
NEXT_WORDS = frozenset({"never", "always", "loop"})

BLOCK_TYPES = ("parallel", "conditional", "decision")

# The conditions of a task without any (one shared, read-only value).
NO_CONDITIONS: Mapping[str, Expr] = MappingProxyType({})


class Field(NamedTuple):
    """One `key=value` line of a task.

    `raw` is the value as written; `value` has the globals substituted.
    `column` is the 1-based column of the value's first character.
    A NamedTuple, not a frozen record: a 10,000-task file has 60,000 of
    them and a tuple is built three times faster.
    """

    key: str
    raw: str
    value: str
    line: int
    column: int


@record(frozen=True)
class GlobalVar:
    """A global variable from the header (or `--set`)."""

    name: str
    template: str  # as written, before `$VAR` expansion
    value: str  # after environment expansion and --set
    line: int  # 0 for --set
    column: int
    unset_env: Tuple[str, ...] = ()  # names of `$VAR`s that were not set


@record(frozen=True)
class CliArgLine:
    """A file-defined command-line argument line (SPEC II.7.6)."""

    text: str
    line: int


@record(frozen=True)
class Task:
    """One numbered task or block, with its fields and parsed conditions.

    `type` and `kind` are worked out when the task is made (the validator asks every
    task for its kind several times); they are not arguments.
    """

    id: int
    line: int
    fields: Mapping[str, Field]
    unknown: Tuple[Field, ...] = ()  # Field values with keys that are not task fields
    conditions: Mapping[str, Expr] = NO_CONDITIONS  # key -> parsed tree
    generated_by: Optional[int] = None  # block ID for `hostnames=` sub-tasks
    type: str = field(default="", init=False, compare=False)  # block type in lower case, or ""
    kind: str = field(default="normal", init=False, compare=False)  # see _kind

    def __post_init__(self) -> None:
        f = self.fields.get("type")
        block_type = f.value.strip().lower() if f is not None else ""
        own = self.__dict__  # (frozen: written once, while the task is made)
        own["type"], own["kind"] = block_type, _kind(block_type, "return" in self.fields)

    def get(self, key: str, default: Optional[str] = None) -> Optional[str]:
        """The (globals-substituted) value of `key`, or `default`."""
        f = self.fields.get(key)
        return f.value if f is not None else default

    def has(self, key: str) -> bool:
        """True when the task sets `key` (even to an empty value)."""
        return key in self.fields


def _kind(block_type: str, has_return: bool) -> str:
    """`return`, `parallel`, `conditional`, `decision` or `normal` (SPEC II.2.3)."""
    if has_return and not block_type:
        return "return"
    return block_type if block_type in BLOCK_TYPES else "normal"


@record(frozen=True)
class TaskFile:
    """A loaded task file: header arguments, globals and tasks by ID."""

    path: str
    lines: Sequence[str]  # source lines, for diagnostics
    cli_args: Tuple[CliArgLine, ...] = ()
    globals: Mapping[str, GlobalVar] = field(default_factory=lambda: MappingProxyType({}))
    # in ascending ID order
    tasks: Mapping[int, Task] = field(default_factory=lambda: MappingProxyType({}))
    warnings: Tuple[Diagnostic, ...] = ()  # found while loading
    # GlobalVar definitions replaced by a later line or --set
    shadowed_globals: Tuple[GlobalVar, ...] = ()

    @property
    def text(self) -> str:
        """The whole source text (the lines joined again)."""
        return "\n".join(self.lines)

    def source_line(self, line: int) -> Optional[str]:
        """The text of 1-based `line`, or None."""
        return self.lines[line - 1] if 0 < line <= len(self.lines) else None

    @property
    def global_values(self) -> Dict[str, str]:
        """Name -> value of every global."""
        return {name: g.value for name, g in self.globals.items()}
