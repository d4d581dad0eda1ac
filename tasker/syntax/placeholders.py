"""The `@...@` placeholder syntax: globals and task-result references.

`@NAME@` names a global; `@N_field@` a stored result of task N (field names
are case-insensitive). Globals are substituted once, when the file is loaded;
task results are substituted at run time by `tasker.engine.variables`.
An `arguments` field is different: it is split into words, so it becomes a
template (`arguments_template`) in which results are slots, never text.
"""

from __future__ import annotations

import re
from typing import Iterator, List, Mapping, NamedTuple, Tuple, Union

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

    def one(m: "re.Match[str]") -> str:
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


class ResultRef(NamedTuple):
    """A `@N_field@` in an arguments template: a slot for task N's stored result."""

    text: str  # as written, which is also what stays while task N has no result
    task_id: int
    field: str  # lower case


Piece = Union[str, ResultRef]
_SIGIL = re.compile(r"[$@]")  # where a `$NAME`, `${NAME}` or `@NAME@` may start


def arguments_template(raw: str, environ: Mapping[str, str],
                       values: Mapping[str, str]) -> Tuple[Piece, ...]:
    """`arguments` as written, made a template: text pieces and result slots.

    One pass over the raw text expands `$VAR`s from `environ` and globals from
    `values`, so an environment value is never searched for `@...@` and a
    global's value (expanded when the file loaded) is never expanded again. Both
    are the author's text: their quotes count. `@N_field@` references in the
    author's text and in globals' values become ResultRef slots.
    """
    if "$" not in raw and "@" not in raw:
        return (raw,) if raw else ()
    pieces: List[Piece] = []
    scanned: List[str] = []  # text still to be searched for result references
    pos = 0
    for m in _references(raw):
        scanned.append(raw[pos:m.start()])
        pos = m.end()
        if m.re is GLOBAL_REF:  # (an undefined global stays as written)
            scanned.append(substitute_globals(m.group(0), values))
            continue
        _add_scanned(pieces, scanned)
        name = m.group(1) or m.group(2)
        _add_text(pieces, environ.get(name, m.group(0)))  # (unset: stays literally)
    scanned.append(raw[pos:])
    _add_scanned(pieces, scanned)
    return tuple(pieces)


def _references(text: str) -> Iterator["re.Match[str]"]:
    """Every `$NAME`, `${NAME}` and `@NAME@` of `text`, left to right, none inside another
    (a name holds neither `$` nor `@`, so the sigil tells which one may start there)."""
    pos = 0
    while True:
        sigil = _SIGIL.search(text, pos)
        if sigil is None:
            return
        start = sigil.start()
        m = (ENV_REF if text[start] == "$" else GLOBAL_REF).match(text, start)
        pos = start + 1 if m is None else m.end()
        if m is not None:
            yield m


def _add_scanned(pieces: List[Piece], scanned: List[str]) -> None:
    """Move the author's text collected in `scanned` to `pieces`, its results as slots."""
    text = "".join(scanned)
    scanned.clear()
    pos = 0
    for m in TASK_REF.finditer(text):
        field = m.group(2).lower()
        if field in RESULT_FIELDS:
            _add_text(pieces, text[pos:m.start()])
            pieces.append(ResultRef(m.group(0), int(m.group(1)), field))
            pos = m.end()
    _add_text(pieces, text[pos:])


def _add_text(pieces: List[Piece], text: str) -> None:
    """Append text, joined to a text piece before it."""
    if not text:
        return
    if pieces and isinstance(pieces[-1], str):
        pieces[-1] += text
    else:
        pieces.append(text)
