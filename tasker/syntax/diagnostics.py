"""Diagnostics: located errors and warnings about a task file, and their rendering.

Every stage that finds something wrong with the input (parser, loader,
validator) produces `Diagnostic` values; they are collected per phase and
only the CLI decides how to print them and which exit code follows.
"""

from __future__ import annotations

from typing import Iterable, Optional, Sequence, Tuple

from tasker.record import record

ERROR = "error"
WARNING = "warning"


@record(frozen=True)
class Diagnostic:
    """One finding: where it is, how bad, what it is, and how to fix it."""

    severity: str
    message: str
    line: int = 0  # 1-based; 0 when the finding is about the file as a whole
    column: int = 0  # 1-based; 0 when no column applies
    hint: Optional[str] = None
    source: Optional[str] = None  # the source line, for the caret display

    @property
    def is_error(self) -> bool:
        """True for errors, which stop the run."""
        return self.severity == ERROR

    def render(self, path: str) -> str:
        """`file:line:col: error: sentence`, the source line, a caret, a hint."""
        where = path
        if self.line:
            where += f":{self.line}"
            if self.column:
                where += f":{self.column}"
        lines = [f"{where}: {self.severity}: {self.message}"]
        if self.source is not None and self.line:
            shown = self.source.replace("\t", " ").rstrip("\r\n")
            lines.append(f"    {shown}")
            if self.column:
                lines.append("    " + " " * (self.column - 1) + "^")
        if self.hint:
            lines.append(f"    hint: {self.hint}")
        return "\n".join(lines)


def error(message: str, line: int = 0, column: int = 0, hint: Optional[str] = None,
          source: Optional[str] = None) -> Diagnostic:
    """Build an error diagnostic."""
    return Diagnostic(ERROR, message, line, column, hint, source)


def warning(message: str, line: int = 0, column: int = 0, hint: Optional[str] = None,
            source: Optional[str] = None) -> Diagnostic:
    """Build a warning diagnostic."""
    return Diagnostic(WARNING, message, line, column, hint, source)


def sort_diagnostics(items: Iterable[Diagnostic]) -> list:
    """Order by line, then column, errors before warnings on the same spot."""
    return sorted(items, key=lambda d: (d.line, d.column, d.severity != ERROR))


class TaskFileError(Exception):
    """The task file cannot be used: one or more located errors (exit 20)."""

    def __init__(self, path: str, diagnostics: Sequence[Diagnostic],
                 verdicts: Optional[Tuple[bool, bool, bool]] = None):
        self.path = path
        self.diagnostics = sort_diagnostics(diagnostics)
        # (syntax, dependencies, flow) each free of errors; None when the file did not load
        self.verdicts = verdicts
        first = self.diagnostics[0] if self.diagnostics else None
        super().__init__(first.render(path) if first else f"{path}: invalid task file")

    def render(self) -> str:
        """All diagnostics, rendered one after the other."""
        return "\n".join(d.render(self.path) for d in self.diagnostics)


class TaskFileUnreadable(Exception):
    """The task file does not exist or cannot be read (exit 1)."""
