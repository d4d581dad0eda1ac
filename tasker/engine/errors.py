"""The exception that ends a whole run, apart from the engine so the CLI can catch it
without loading the engine (a validation-only run never does)."""

from __future__ import annotations

from typing import Optional


class FatalRunError(Exception):
    """A condition that ends the whole run at once (missing program, unknown exec type)."""

    def __init__(self, message: str, exit_code: int = 20, task_id: Optional[int] = None):
        super().__init__(message)
        self.message, self.exit_code, self.task_id = message, exit_code, task_id
