"""Blocks (parallel, conditional, decision): not built yet (issue 3)."""

from __future__ import annotations

from tasker.engine.context import FatalRunError, RunContext
from tasker.syntax.ast import Task


def run_block(ctx: RunContext, task: Task):
    """Run a block task; see SPEC II.5."""
    raise FatalRunError(f"Task {task.id}: type={task.type} blocks are not supported yet",
                        20, task.id)
