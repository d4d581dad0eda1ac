"""The task-file AST: frozen values with source positions.

After loading, this is the only representation of the file; engines and the
validator never look at the raw text again. Field values already have the
file's global variables substituted (globals are constants written by the
author); task-result placeholders such as `@3_stdout@` stay in the text and
are bound at run time.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Dict, Iterator, Mapping, NamedTuple, Optional, Sequence

from tasker.record import field, record


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

EMPTY: Mapping[str, Any] = MappingProxyType({})


class Conditions(Mapping[str, Any]):
    """A task's parsed condition fields, each tree built when it is first read.

    The loader has already checked every condition: those that could fail were
    parsed (and their errors reported) while loading; the others are valid by
    recognition and wait here as (parser, text). `--validate-only` of a large
    file thus never builds trees it does not look at; a run builds each one
    when the task first evaluates it. Read-only, like the rest of the AST.
    """

    __slots__ = ("_entries",)

    def __init__(self, entries: Mapping[str, Any]):
        """`entries`: field name -> tree, or `Conditions.later(parser, text)`."""
        self._entries: Dict[str, Any] = dict(entries)

    @classmethod
    def owning(cls, entries: Dict[str, Any]) -> "Conditions":
        """Conditions over `entries` itself, not a copy: the loader hands over a new dict."""
        self = cls.__new__(cls)
        self._entries = entries
        return self

    @staticmethod
    def later(parser: Any, text: str) -> Any:
        """The entry of a condition whose tree `parser(text)` builds when first read."""
        return tuple.__new__(_Pending, (parser, text))  # (NamedTuple's own __new__ is slower)

    def __getitem__(self, key: str) -> Any:
        value = self._entries[key]
        if type(value) is _Pending:
            value = self._entries[key] = value.parser(value.text)  # (a race builds it twice)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Conditions({ {k: self[k] for k in self._entries} !r})"


class _Pending(NamedTuple):
    parser: Any
    text: str


class _memo:
    """A lazily computed attribute, stored in the instance's `__dict__` on first use.

    `functools.cached_property` does the same but, before Python 3.12, takes a
    lock on every first access, which doubles the cost for 10,000 tasks. After
    the first access the stored value shadows this (non-data) descriptor, so
    later reads are plain attribute reads.
    """

    def __init__(self, compute):
        self.compute = compute
        self.name = compute.__name__
        self.__doc__ = compute.__doc__

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        value = obj.__dict__[self.name] = self.compute(obj)
        return value


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
    unset_env: tuple = ()  # names of `$VAR`s that were not set


@record(frozen=True)
class CliArgLine:
    """A file-defined command-line argument line (SPEC II.7.6)."""

    text: str
    line: int


@record(frozen=True)
class Task:
    """One numbered task or block, with its fields and parsed conditions."""

    id: int
    line: int
    fields: Mapping[str, Field]
    unknown: tuple = ()  # Field values with keys that are not task fields
    conditions: Mapping[str, Any] = field(default_factory=lambda: EMPTY)  # field name -> parsed expression
    generated_by: Optional[int] = None  # block ID for `hostnames=` sub-tasks

    def get(self, key: str, default: Optional[str] = None) -> Optional[str]:
        """The (globals-substituted) value of `key`, or `default`."""
        f = self.fields.get(key)
        return f.value if f is not None else default

    def has(self, key: str) -> bool:
        """True when the task sets `key` (even to an empty value)."""
        return key in self.fields

    # Computed once: the validator asks every task for its kind several times. A
    # frozen record keeps a __dict__, which is where _memo stores the value.
    @_memo
    def type(self) -> str:
        """Block type in lower case, or "" for an ordinary task."""
        return (self.get("type") or "").strip().lower()

    @_memo
    def kind(self) -> str:
        """`return`, `parallel`, `conditional`, `decision` or `normal` (SPEC II.2.3)."""
        if self.has("return") and not self.type:
            return "return"
        return self.type if self.type in BLOCK_TYPES else "normal"


@record(frozen=True)
class TaskFile:
    """A loaded task file: header arguments, globals and tasks by ID."""

    path: str
    lines: Sequence[str]  # source lines, for diagnostics
    cli_args: tuple = ()
    globals: Mapping[str, GlobalVar] = field(default_factory=lambda: EMPTY)
    tasks: Mapping[int, Task] = field(default_factory=lambda: EMPTY)  # in ascending ID order
    warnings: tuple = ()  # Diagnostic values found while loading
    shadowed_globals: tuple = ()  # GlobalVar definitions replaced by a later line or --set

    @property
    def text(self) -> str:
        """The whole source text (the lines joined again)."""
        return "\n".join(self.lines)

    def source_line(self, line: int) -> Optional[str]:
        """The text of 1-based `line`, or None."""
        return self.lines[line - 1] if 0 < line <= len(self.lines) else None

    @property
    def global_values(self) -> dict:
        """Name -> value of every global."""
        return {name: g.value for name, g in self.globals.items()}
