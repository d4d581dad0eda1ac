"""Give the lines of a task file their meaning: header arguments, globals, tasks.

This is the loader of SPEC II.1. It reads the line tokens of the grammar
`grammars/taskfile.lark` (tasker/syntax/lines.py) once, in order: globals
are the `NAME=value` lines before the first `task=` line (with `$VAR`
expansion and `--set` overrides), every `task=` line starts a block that runs
to the next one, and condition fields are parsed once, here, after the
globals are substituted into them.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Set, Tuple

from tasker.record import field, record
from tasker.syntax import lines as L
from tasker.syntax.ast import (
    CONDITION_FIELDS,
    NEXT_WORDS,
    NO_CONDITIONS,
    NOT_GLOBAL_KEYS,
    TASK_FIELDS,
    CliArgLine,
    Field,
    GlobalVar,
    Task,
    TaskFile,
)
from tasker.syntax.condition import parse_block_condition, parse_condition
from tasker.syntax.condition_ast import ConditionError, Expr
from tasker.syntax.diagnostics import Diagnostic, TaskFileError, error, warning
from tasker.syntax.fanout import expand_hostnames
from tasker.syntax.numbers import parse_int
from tasker.syntax.placeholders import (
    ENV_REF,
    GLOBAL_NAME,
    GLOBAL_REF,
    expand_env_names,
    substitute_globals,
)

MAX_GLOBAL_NAME = 64
MAX_GLOBAL_VALUE = 1024
BLOCK_CONDITION_FIELDS = ("success", "next")


@record(frozen=True)
class LoadOptions:
    """What the loader needs besides the file: environment and overrides."""

    environ: Mapping[str, str] = field(default_factory=dict)
    overrides: Mapping[str, str] = field(default_factory=dict)  # --set NAME=VALUE
    strict_env: bool = False  # --strict-env-validation


def header_arguments(text: str) -> List[CliArgLine]:
    """File-defined CLI arguments: `-` lines before the first other `=` line (II.7.6).

    The lexer stops at that line: the options are known before the file is loaded.
    """
    found = []
    for tok in L.tokens(text):
        if tok.type == L.CLI_ARG:
            found.append(CliArgLine(str(tok).rstrip(), L.position(tok)[0]))
        elif tok.type == L.PAIR:
            break
    return found


def parse_task_id(text: str) -> Optional[int]:
    """The task ID `text` denotes, else None.

    Task IDs are ASCII decimal integers with an optional sign, as HEAD's int() reads
    them (`task=+1` is task 1), at most 300 digits: numbers.parse_int, which also
    refuses "1_000" and "٣". A minus sign is kept so that the validator reports
    negative IDs with its range rule.
    """
    return parse_int(text)


# A pair with one of these keys inside a task is a field and nothing else. Its Field is
# built with tuple.__new__: Field's own constructor is a Python call, and a 10,000-task
# file has 60,000 fields. The key stored is this mapping's own string, not the line's
# copy: one string per key name, compared by identity when fields are looked up.
_FIELDS_AFTER_TASK = {key: key for key in TASK_FIELDS - {"task"}}


# A task as read, before globals and conditions: (ID, line of `task=`, fields, unknown fields).
RawTask = Tuple[int, int, Dict[str, Field], List[Field]]


class _Builder:
    """Walks the lines once, collecting globals, tasks and diagnostics."""

    def __init__(self, path: str, source: Sequence[str], options: LoadOptions) -> None:
        self.path, self.source, self.options = path, source, options
        self.globals: Dict[str, GlobalVar] = {}
        self.raw_tasks: List[RawTask] = []
        self.seen_ids: Dict[int, int] = {}
        self.diags: List[Diagnostic] = []
        self.shadowed: List[GlobalVar] = []  # definitions replaced by a later line or --set

    def src(self, line: int) -> Optional[str]:
        return self.source[line - 1] if 0 < line <= len(self.source) else None

    def err(self, msg: str, line: int, col: int, hint: Optional[str] = None) -> None:
        self.diags.append(error(msg, line, col, hint, self.src(line)))

    def warn(self, msg: str, line: int, col: int, hint: Optional[str] = None) -> None:
        self.diags.append(warning(msg, line, col, hint, self.src(line)))

    def feed(self, text: str) -> None:
        """One pass over the grammar's line tokens; the loop is kept flat because it runs
        once per line."""
        fields: Optional[Dict[str, Field]] = None
        unknown: List[Field] = []
        task_fields, new, after_task = TASK_FIELDS, tuple.__new__, _FIELDS_AFTER_TASK
        for tok in L.tokens(text):
            line, column = tok.line, tok.column  # (L.position, without a call per line)
            if line is None or column is None:
                raise L.unplaced(tok)
            if tok.type != L.PAIR:
                if tok.type == L.STRAY:
                    self.warn("this line is not a key=value pair and is ignored", line, column)
                continue  # comments and header arguments
            key, value, vcol = L.split_pair(tok, column)
            known = after_task.get(key)
            if known is not None and fields is not None:  # most lines of a file
                fields[known] = new(Field, (known, value, value, line, vcol))
            elif key == "task":
                fields, unknown = self.start_task(value, line, vcol)
            elif fields is None:
                self.header_pair(key, value, line, column, vcol)
            elif key in task_fields:
                fields[key] = Field(key, value, value, line, vcol)
            else:
                unknown.append(Field(key, value, value, line, vcol))

    def start_task(self, value: str, line: int, vcol: int
                   ) -> Tuple[Dict[str, Field], List[Field]]:
        """Begin the task a `task=` line names: its (fields, unknown fields) to fill; both
        are thrown away when the ID is not valid or not new."""
        tid = parse_task_id(value)
        if tid is None:
            self.err(f"Task ID '{value}' is not a valid integer", line, vcol,
                     "task IDs are whole numbers: task=0, task=1, ...")
            return ({}, [])  # keep reading so every error is reported
        if tid in self.seen_ids:
            self.err(f"Task ID {tid} is defined multiple times (first on line "
                     f"{self.seen_ids[tid]})", line, vcol, "every task needs its own ID")
            return ({}, [])
        self.seen_ids[tid] = line
        fields: Dict[str, Field] = {"task": tuple.__new__(Field, ("task", value, value, line,
                                                                 vcol))}
        unknown: List[Field] = []
        self.raw_tasks.append((tid, line, fields, unknown))
        return fields, unknown

    def header_pair(self, key: str, value: str, line: int, kcol: int, vcol: int) -> None:
        """A `key=value` line before the first task: a global, or a warned task field."""
        if key in NOT_GLOBAL_KEYS:
            self.warn(f"Key '{key}' found outside of a task definition; it is ignored",
                      line, kcol, "start the task with a task=N line first")
            return
        if not GLOBAL_NAME.match(key) or len(key) > MAX_GLOBAL_NAME:
            self.err(f"'{key}' is not a valid global variable name", line, kcol,
                     "names are letters, digits and '_', not starting with a digit, "
                     f"at most {MAX_GLOBAL_NAME} characters")
            return
        expanded, unset = expand_env_names(value, self.options.environ)
        if self.options.strict_env:
            for ref in ENV_REF.finditer(value):
                name = ref.group(1) or ref.group(2)  # `${NAME}` or `$NAME`
                if not name.startswith("TASKER_"):
                    self.err(f"global '{key}' uses ${name}; with --strict-env-validation only "
                             "TASKER_* environment variables may be used", line, vcol)
        if len(expanded) > MAX_GLOBAL_VALUE:
            self.err(f"the value of global '{key}' is {len(expanded)} characters long "
                     f"(at most {MAX_GLOBAL_VALUE})", line, vcol)
        if key in self.globals:  # the later line wins, the earlier one is still checked
            self.shadowed.append(self.globals[key])
        self.globals[key] = GlobalVar(key, value, expanded, line, vcol, unset)

    def apply_overrides(self) -> None:
        """`--set NAME=VALUE`: the limits of globals written in the file apply (II.1.3)."""
        for name, value in self.options.overrides.items():
            if len(name) > MAX_GLOBAL_NAME:
                self.err(f"--set {name[:MAX_GLOBAL_NAME]}...: a global variable name has at "
                         f"most {MAX_GLOBAL_NAME} characters", 0, 0)
            if len(value) > MAX_GLOBAL_VALUE:
                self.err(f"--set {name}: the value is {len(value)} characters long (at most "
                         f"{MAX_GLOBAL_VALUE})", 0, 0)
            old = self.globals.get(name)
            line, col = (old.line, old.column) if old else (0, 0)
            if old is not None:
                self.shadowed.append(old)
            self.globals[name] = GlobalVar(name, value, value, line, col)

    def report_cycles(self, values: Mapping[str, str]) -> None:
        """A global that refers to itself, directly or through others, is an error: its
        value could never be complete (the original left a placeholder in it)."""
        for cycle in global_cycles(values):
            g = self.globals[cycle[0]]
            where = "" if g.line else f"--set {g.name}: "
            self.err(f"{where}global '{g.name}' refers to itself: {' -> '.join(cycle)}",
                     g.line, g.column, "give one of these globals a value that does not name "
                     "the others")


def global_cycles(values: Mapping[str, str]) -> List[List[str]]:
    """Each cycle among the globals' references as a path [A, B, ..., A], in the order the
    names come in `values`: one per group of globals that refer to each other."""
    refs = {name: [m.group(1) for m in GLOBAL_REF.finditer(value) if m.group(1) in values]
            for name, value in values.items()}
    cycles, done = [], set()
    for name in values:
        if name in done:
            continue
        path = _path_back(name, refs)
        if path is not None:
            cycles.append(path)
            done.update(_reaching(name, refs) & _reached(name, refs))
    return cycles


def _reached(start: str, refs: Mapping[str, List[str]]) -> Set[str]:
    """The globals `start` refers to, directly or through others."""
    seen: Set[str] = set()
    todo = list(refs[start])
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(refs[name])
    return seen


def _reaching(start: str, refs: Mapping[str, List[str]]) -> Set[str]:
    """The globals that refer to `start`, directly or through others."""
    back: Dict[str, List[str]] = {name: [] for name in refs}
    for name, targets in refs.items():
        for target in targets:
            back[target].append(name)
    return _reached(start, back)


def _path_back(start: str, refs: Mapping[str, List[str]]) -> Optional[List[str]]:
    """The shortest path of references from `start` back to itself, or None."""
    parent: Dict[str, str] = {}
    queue, head = [start], 0
    while head < len(queue):
        name = queue[head]
        head += 1
        for target in refs[name]:
            if target == start:
                chain = [name]
                while chain[-1] != start:
                    chain.append(parent[chain[-1]])
                return list(reversed(chain)) + [start]
            if target not in parent:
                parent[target] = name
                queue.append(target)
    return None


def _tasks_naming_globals(text: str, raw_tasks: Sequence[RawTask]) -> Set[int]:
    """IDs of the tasks with an `@NAME@` somewhere in their lines (a superset is fine):
    most fields of a large file name no global, and only these tasks need substitution."""
    return L.owners_of_matches(text, (m.start() for m in GLOBAL_REF.finditer(text)),
                               [(line, tid) for tid, line, _, _ in raw_tasks])


def _with_globals(fields: Dict[str, Field], values: Mapping[str, str]) -> Dict[str, Field]:
    """Substitute globals into every field value (the raw text is kept)."""
    out = {}
    for key, f in fields.items():
        new = substitute_globals(f.raw, values) if "@" in f.raw else f.raw
        out[key] = f if new == f.raw else Field(key, f.raw, new, f.line, f.column)
    return out


def _direct_jump(text: str) -> Expr:
    """The "parser" of `next=N`: a bare number is a jump, which `next` does not do (II.8.1)."""
    n = int(text)
    raise ConditionError(f"Direct task jumping is not supported ({text} is a task ID, not a "
                         "condition)", 1, f"use on_success={n} or on_failure={n} to jump to "
                         f"task {n}")


def _condition_parser(key: str, text: str, block: bool
                      ) -> Optional[Tuple[Callable[[str], Expr], str, int]]:
    """(parser, text to parse, column offset) for one condition field; None for next=WORD."""
    if key == "next":
        low = text.lower()
        if low in NEXT_WORDS:
            return None
        if low.startswith("loop&"):  # `next=loop&COND`: keep looping while COND holds
            return parse_condition, text[5:], 5
        if parse_int(text) is not None:  # `next=5`: reported as a located error
            return _direct_jump, text, 0
    if block and key in BLOCK_CONDITION_FIELDS:
        return parse_block_condition, text, 0
    return parse_condition, text, 0


def _parse_conditions(b: _Builder, tid: int, fields: Mapping[str, Field],
                      block: bool) -> Mapping[str, Expr]:
    """Parse the condition fields of task `tid`; syntax errors become diagnostics.

    Every tree is built here, so the engines never parse a condition at run time.
    """
    present = _CONDITION_KEYS.intersection(fields)
    if not present:
        return NO_CONDITIONS
    entries: Dict[str, Expr] = {}
    for key in CONDITION_FIELDS:  # (in this order, so errors come out alike every time)
        if key not in present:
            continue
        f = fields[key]
        how = _condition_parser(key, f.value.strip(), block)
        if how is None:
            continue
        parser, text, skip = how
        try:
            entries[key] = parser(text)
        except ConditionError as exc:
            _condition_error(b, tid, f, skip, exc)
    return MappingProxyType(entries) if entries else NO_CONDITIONS


_CONDITION_KEYS = frozenset(CONDITION_FIELDS)


def _condition_error(b: _Builder, tid: int, f: Field, skip: int,
                     exc: ConditionError) -> None:
    """Report a condition that does not parse, at its column when the text is as written.

    When the value holds an inline comment, the comment is the mistake to report:
    the parser's complaint about it would point the author the wrong way.
    """
    comment = L.inline_comment(f.raw)
    if comment >= 0:
        message, hint = L.inline_comment_message(tid, f.key, f.raw, comment)
        b.err(message, f.line, f.column + comment, hint)
        return
    exact = f.value == f.raw  # columns map 1:1 only without global substitution
    col = f.column + skip + exc.column - 1 if exact else f.column
    msg = f"Task {tid}: {f.key}: {exc.message}"
    if not exact:
        msg += f" (after substituting globals: '{f.value}')"
    b.err(msg, f.line, col, exc.hint)


def build_task_file(path: str, text: str, options: LoadOptions) -> TaskFile:
    """Build the TaskFile AST of `text`; raise TaskFileError with every error found."""
    source = tuple(text.split("\n"))  # (diagnostics quote their source line)
    b = _Builder(path, source, options)
    b.feed(text)
    b.apply_overrides()
    values = {name: g.value for name, g in b.globals.items()}
    b.report_cycles(values)
    tasks = {}
    naming_globals = _tasks_naming_globals(text, b.raw_tasks) if values else set()
    for tid, line, fields, unknown in sorted(b.raw_tasks, key=lambda t: t[0]):
        if tid in naming_globals:
            fields = _with_globals(fields, values)
        block = (fields["type"].value.strip().lower() in ("parallel", "conditional")
                 if "type" in fields else False)
        conditions = _parse_conditions(b, tid, fields, block)
        tasks[tid] = Task(tid, line, MappingProxyType(fields), tuple(unknown), conditions)
    tasks = expand_hostnames(tasks)  # hostnames= blocks get their sub-tasks (II.5.4)
    errors = [d for d in b.diags if d.is_error]
    if errors:
        failure = TaskFileError(path, errors)
        failure.global_values = values  # (so the CLI can mask secrets in what it prints)
        raise failure
    return TaskFile(
        path=path,
        lines=source,
        cli_args=tuple(header_arguments(text)),
        globals=MappingProxyType(b.globals),
        shadowed_globals=tuple(b.shadowed),
        tasks=MappingProxyType(tasks),
        warnings=tuple(b.diags),
    )


def load_task_file(path: str, options: LoadOptions) -> TaskFile:
    """Read and build `path` in one go (tests and tools use this)."""
    return build_task_file(path, L.read_text(path), options)
