"""Diagnostics: located errors and warnings about a task file, and their rendering.

Every stage that finds something wrong with the input (parser, loader,
validator) produces `Diagnostic` values; they are collected per phase and
only the CLI decides how to print them and which exit code follows.
"""

from __future__ import annotations

import re
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from tasker.record import record

ERROR = "error"
WARNING = "warning"

# A quoted source line or message longer than this is cut (with …): a 100 MB line must
# not be printed, and logged, whole.
MAX_SHOWN = 160
MAX_MESSAGE = 480
# Findings of one kind listed before the rest are only counted.
MAX_OF_A_KIND = 20
_PARTICULARS = re.compile(r"'[^']*'|\"[^\"]*\"|[0-9]+")


def _verbatim(text: str) -> str:
    return text


def cut_middle(text: str, limit: int = MAX_MESSAGE) -> str:
    """`text`, or its start and end around a `…` when it is longer than `limit`."""
    if len(text) <= limit:
        return text
    half = (limit - 3) // 2
    return f"{text[:half]} … {text[-half:]}"


def _window(line: str, column: int) -> Tuple[str, int]:
    """(the part of a long `line` around `column`, the column inside that part)."""
    if len(line) <= MAX_SHOWN:
        return line, column
    start = max(0, min(column - 1 - MAX_SHOWN // 2, len(line) - MAX_SHOWN))
    end = start + MAX_SHOWN
    shown = ("…" if start else "") + line[start:end] + ("…" if end < len(line) else "")
    return shown, column - start + (1 if start else 0)


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

    def render(self, path: str, mask: Callable[[str], str] = _verbatim) -> str:
        """`file:line:col: error: sentence`, the source line, a caret, a hint.

        Every text is masked with `mask` first and cut after (so no piece of a secret
        survives a cut): a long message keeps its start and end, a long source line
        the part around the column.
        """
        where = path
        if self.line:
            where += f":{self.line}"
            if self.column:
                where += f":{self.column}"
        lines = [f"{where}: {self.severity}: {cut_middle(mask(self.message))}"]
        if self.source is not None and self.line:
            shown = self.source.replace("\t", " ").rstrip("\r\n")
            shown, caret = _window(mask(shown), self.column)
            lines.append(f"    {shown}")
            if self.column:
                lines.append("    " + " " * (caret - 1) + "^")
        if self.hint:
            lines.append(f"    hint: {cut_middle(mask(self.hint))}")
        return "\n".join(lines)

    @property
    def kind(self) -> str:
        """What the finding says with its particulars left out (quoted values, numbers),
        so that repeats of one mistake can be counted instead of listed."""
        return self.severity + ":" + _PARTICULARS.sub("#", self.message)


def error(message: str, line: int = 0, column: int = 0, hint: Optional[str] = None,
          source: Optional[str] = None) -> Diagnostic:
    """Build an error diagnostic."""
    return Diagnostic(ERROR, message, line, column, hint, source)


def warning(message: str, line: int = 0, column: int = 0, hint: Optional[str] = None,
            source: Optional[str] = None) -> Diagnostic:
    """Build a warning diagnostic."""
    return Diagnostic(WARNING, message, line, column, hint, source)


def limit_repeats(items: Iterable[Diagnostic], per_kind: int = MAX_OF_A_KIND
                  ) -> Tuple[List[Diagnostic], Dict[str, Tuple[Diagnostic, int]]]:
    """(the findings to show, {kind: (first finding, how many more)}): past `per_kind`
    findings of one kind, the rest are counted, not shown, but for warnings with a
    "did you mean" hint."""
    seen: Dict[str, int] = {}
    shown: List[Diagnostic] = []
    more: Dict[str, Tuple[Diagnostic, int]] = {}
    kinds: Dict[Tuple[str, str], str] = {}  # (a junk file repeats one message a million times)
    for d in items:
        kind = kinds.get((d.severity, d.message))
        if kind is None:
            kind = kinds[(d.severity, d.message)] = d.kind
        count = seen[kind] = seen.get(kind, 0) + 1
        if count <= per_kind or (not d.is_error and "did you mean" in (d.hint or "")):
            shown.append(d)  # (a did-you-mean warning is never counted away: fix it now)
        else:
            first, extra = more.get(kind, (d, 0))
            more[kind] = (first, extra + 1)
    return shown, more


def more_line(first: Diagnostic, count: int, mask: Callable[[str], str] = _verbatim) -> str:
    """The line that stands for `count` findings of the same kind as `first`."""
    noun = "errors" if first.is_error else "warnings"
    return (f"... and {count} more {noun} like \"{cut_middle(mask(first.message), 100)}\" "
            f"(first on line {first.line})")


def render_all(path: str, items: Iterable[Diagnostic],
               mask: Callable[[str], str] = _verbatim) -> List[str]:
    """Each finding rendered (masked, cut), at most MAX_OF_A_KIND of a kind, then a count."""
    shown, more = limit_repeats(items)
    out = [d.render(path, mask) for d in shown]
    out.extend(more_line(first, count, mask) for first, count in more.values())
    return out


def sort_diagnostics(items: Iterable[Diagnostic]) -> List[Diagnostic]:
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
        # The globals loaded so far (name -> value), so the CLI can mask secrets in the
        # diagnostics of a file that did not load; empty when not known.
        self.global_values: Dict[str, str] = {}

    def render(self, mask: Callable[[str], str] = _verbatim) -> str:
        """All diagnostics, rendered one after the other (masked, repeats counted)."""
        return "\n".join(render_all(self.path, self.diagnostics, mask))


class TaskFileUnreadable(Exception):
    """The task file does not exist or cannot be read (exit 1)."""
