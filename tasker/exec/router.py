"""Route each command to the executor of its transport; open them lazily, close them all.

The engines see one executor. Behind it, a run may use local processes and
SSH channels at once; each executor is made the first time a command needs
it (a run without `exec=ssh` never imports paramiko) and every one that was
made is closed when the run ends, however it ends (`with ExecutorRouter(...)`).
"""

from __future__ import annotations

import threading
from typing import Callable, Dict, Mapping

from tasker.exec.base import CommandResult, CommandSpec, Executor


class ExecutorRouter:
    """One executor per transport, made by its factory on first use; thread-safe."""

    def __init__(self, factories: Mapping[str, Callable[[], Executor]]) -> None:
        self._factories = dict(factories)
        self._open: Dict[str, Executor] = {}
        self._lock = threading.Lock()
        self._closed = False

    def run(self, spec: CommandSpec, cancel: threading.Event) -> CommandResult:
        """Run `spec` with the executor of its transport."""
        return self._executor(spec.transport).run(spec, cancel)

    def _executor(self, transport: str) -> Executor:
        executor = self._open.get(transport)
        if executor is not None:
            return executor
        with self._lock:  # (sub-tasks of a block may ask for it at the same moment)
            if self._closed:
                raise RuntimeError("the run's executors are closed")
            if transport not in self._open:
                self._open[transport] = self._factories[transport]()
            return self._open[transport]

    def close(self) -> None:
        """Close every executor that was opened (each once, even if one of them fails)."""
        with self._lock:
            self._closed = True
            opened, self._open = list(self._open.values()), {}
        problem = None
        for executor in opened:
            try:
                executor.close()
            except Exception as exc:  # noqa: BLE001 - the others must close too
                problem = problem or exc
        if problem is not None:
            raise problem

    def __enter__(self) -> "ExecutorRouter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
