"""The `@...@` placeholder syntax: globals and task-result references.

`@NAME@` names a global; `@N_field@` a stored result of task N (field names
are case-insensitive). Globals are substituted once, when the file is loaded;
task results are substituted at run time by `tasker.engine.variables`.
"""

from __future__ import annotations

import re
from typing import Iterator, List, Mapping, Tuple

RESULT_FIELDS = frozenset({
    "stdout", "stderr", "success", "exit", "exit_code", "stdout_file", "stderr_file",
    "hostname", "duration", "success_count", "failed_count", "total_count",
})

# The field names as a regex alternation, longest first (so `stdout_file` beats `stdout`).
RESULT_FIELD_PATTERN = "|".join(sorted(RESULT_FIELDS, key=len, reverse=True))
TASK_REF = re.compile(r"@([0-9]{1,300})_([A-Za-z_]+)@")  # (task IDs have at most 300 digits)
GLOBAL_REF = re.compile(r"@([A-Za-z_][A-Za-z0-9_]*)@")
GLOBAL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
ENV_REF = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
MAX_GLOBAL_PASSES = 10


def task_refs(text: str) -> Iterator[Tuple[int, str, int]]:
    """Yield (task_id, field lower-cased, 0-based offset) for each `@N_field@`."""
    for m in TASK_REF.finditer(text):
        fname = m.group(2).lower()
        if fname in RESULT_FIELDS:
            yield int(m.group(1)), fname, m.start()


def global_refs(text: str) -> Iterator[Tuple[str, int]]:
    """Yield (name, 0-based offset) for each `@NAME@` that is not a task reference."""
    for m in GLOBAL_REF.finditer(text):
        yield m.group(1), m.start()


# Substitution stops before a value grows past this: a global that names itself several
# times (X=@X@@X@) would otherwise grow exponentially with each pass.
MAX_SUBSTITUTED = 65536


def substitute_globals(text: str, values: Mapping[str, str]) -> str:
    """Replace `@NAME@` by the global's value, repeatedly so globals may chain.

    Undefined names stay literally (the validator reports them). A global that
    refers to itself stops expanding after MAX_GLOBAL_PASSES passes.
    """
    if "@" not in text or not values:
        return text

    def one(m: re.Match) -> str:
        return values.get(m.group(1), m.group(0))

    for _ in range(MAX_GLOBAL_PASSES):
        new = GLOBAL_REF.sub(one, text)
        if new == text or len(new) > MAX_SUBSTITUTED:
            break  # (a global naming itself twice would double the text with each pass)
        text = new
    return text


def expand_env_names(text: str, environ: Mapping[str, str]) -> Tuple[str, Tuple[str, ...]]:
    """Expand `$NAME`/`${NAME}`; unset names stay literally and are returned too."""
    if "$" not in text:
        return text, ()
    unset: List[str] = []

    def one(m: "re.Match[str]") -> str:
        name = m.group(1) or m.group(2)
        if name in environ:
            return environ[name]
        unset.append(name)
        return m.group(0)

    return ENV_REF.sub(one, text), tuple(unset)


def expand_env(text: str, environ: Mapping[str, str]) -> str:
    """`$NAME`/`${NAME}` replaced from `environ` (in globals and in `arguments`)."""
    return expand_env_names(text, environ)[0]
