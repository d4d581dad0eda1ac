"""Run-time values of `@N_field@` placeholders, read from stored task results.

Globals were substituted when the file was loaded; what is left in a field's
text are references to task results, which only exist once those tasks ran.
A reference to a task without a stored result stays in the text literally and
marks the text as unresolved (SPEC II.4.2). A value is inserted once and never
read again: `resolve` makes one pass, and `fill` gives the data for a slot of an
arguments template (tasker.exec.words), which is never re-read as syntax.
"""

from __future__ import annotations

import re
from typing import Mapping, Optional, Tuple

from tasker.results import TaskResult
from tasker.syntax.placeholders import RESULT_FIELDS, TASK_REF, ResultRef

SPILLED_SUBSTITUTION_CAP = 100 * 1024  # characters of a spilled stream put into a field


def _stream(text: str, spilled: bool) -> str:
    """A stored stream as substituted: trailing newlines removed, capped when spilled."""
    text = text.rstrip("\n")
    return text[:SPILLED_SUBSTITUTION_CAP] if spilled else text


def result_field(result: TaskResult, name: str) -> Optional[str]:
    """The text of one field of a stored result, or None when it has no such field."""
    if name == "stdout":
        return _stream(result.stdout, result.stdout_file is not None)
    if name == "stderr":
        return _stream(result.stderr, result.stderr_file is not None)
    if name in ("exit", "exit_code"):
        return str(result.exit_code)
    if name == "success":
        return "True" if result.success else "False"
    if name == "stdout_file":
        return result.stdout_file or ""
    if name == "stderr_file":
        return result.stderr_file or ""
    if name == "hostname":
        return result.hostname
    if name == "duration":
        return f"{result.duration:.3f}"
    if result.counts is not None:
        counts = {"success_count": result.counts.success, "failed_count": result.counts.failed,
                  "total_count": result.counts.total}
        if name in counts:
            return str(counts[name])
    return None


class Variables:
    """Resolves task-result placeholders against the results stored so far."""

    def __init__(self, results: Mapping[int, TaskResult]):
        self.results = results

    def lookup(self, task_id: int, name: str) -> Optional[str]:
        """Value of `@task_id_name@`, or None when unresolved."""
        result = self.results.get(task_id)
        return None if result is None else result_field(result, name)

    def fill(self, ref: ResultRef) -> str:
        """The data for slot `ref`: the stored value, else the reference's own text."""
        value = self.lookup(ref.task_id, ref.field)
        return ref.text if value is None else value

    def resolve(self, text: str) -> Tuple[str, bool]:
        """Substitute every `@N_field@`; return (text, True if all were resolved)."""
        if "@" not in text:
            return text, True
        unresolved = False

        def one(m: "re.Match[str]") -> str:
            nonlocal unresolved
            name = m.group(2).lower()
            value = self.lookup(int(m.group(1)), name) if name in RESULT_FIELDS else None
            if value is None:
                unresolved = unresolved or name in RESULT_FIELDS
                return m.group(0)
            return value

        return TASK_REF.sub(one, text), not unresolved
