"""Validation: a local program that is not there (issue 17, section 3).

A task with `exec=local` whose command names a program that is neither on PATH nor
an existing file stops the run with exit 20 when it gets there. An earlier task may
create the program, so validation only warns, at the command, before anything runs.
Commands with a placeholder are left alone: their program is known at run time only.
"""

from __future__ import annotations

import os
import shutil
from typing import Dict, Iterator, Mapping

from tasker.syntax.ast import TaskFile
from tasker.syntax.diagnostics import WARNING, Diagnostic
from tasker.validate.fields import at


def missing_program_warnings(tf: TaskFile, environ: Mapping[str, str]) -> Iterator[Diagnostic]:
    """One warning per `exec=local` task whose program cannot be found now."""
    search = environ.get("PATH", os.defpath)
    found: Dict[str, bool] = {}  # (a large file names the same few programs many times)
    for task in tf.tasks.values():
        f = task.fields.get("command")
        if f is None or task.generated_by is not None \
                or (task.get("exec") or "").strip().lower() != "local":
            continue
        program = f.value.strip()
        if not program or "@" in f.raw or "$" in f.raw or " " in program:
            continue  # (a space is a warning of its own: it is run as one program name)
        if program not in found:
            found[program] = _exists(program, search)
        if not found[program]:
            yield at(tf, f, f"Task {task.id}: program '{program}' is neither on PATH nor an "
                     "existing file; a run stops at this task with exit 20 unless an earlier "
                     "task creates it", f.value.find(program) if f.value == f.raw else 0,
                     hint="give its full path, or check its name", severity=WARNING)


def _exists(program: str, search: str) -> bool:
    """True when `program` is a path to an existing file, or a name found on `search`."""
    if "/" in program:
        return os.path.isfile(program)
    return shutil.which(program, path=search) is not None
