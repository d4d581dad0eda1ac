"""Security rules for hostname, command, arguments and globals (SPEC II.8.3, II.1.5).

The exec type gives the context: `local` (and the remote wrappers) start the
program without a shell, so shell syntax in a command or arguments is either a
mistake or an attack and is an error, with a hint to use `exec=shell`; shell
types (`shell`, `bash`, `sh`, `/bin/bash`, `/bin/sh`, `cmd`) may use it.
Path traversal, length limits and NUL bytes are errors for every type;
suspicious or dangerous patterns, format strings, escapes and long runs of one
character are warnings, and so is a task result in a shell line (a shell reads
it as syntax, by design; I.4a). Globals are checked like `local` arguments, always,
even with `--skip-security-validation` (they are constants pasted everywhere);
the rules on their use (unused, unset `$VAR` in a used one) are here too.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from types import MappingProxyType
from typing import Iterator, List, Mapping, Optional, Pattern, Set, Tuple

from tasker.exec.words import fill_text
from tasker.report.masking import MASK, is_secret_name, split_secret_vars
from tasker.syntax.ast import Field, GlobalVar, Task, TaskFile
from tasker.syntax.diagnostics import ERROR, WARNING, Diagnostic
from tasker.syntax.placeholders import (
    RESULT_FIELDS,
    TASK_REF,
    arguments_template,
    global_refs,
    substitute_globals,
)
from tasker.validate.structure import is_explicitly_local

SHELL_TYPES = frozenset({"shell", "bash", "sh", "/bin/bash", "/bin/sh", "cmd"})
LIMITS = {"hostname": 253, "command": 4096, "arguments": 2000}
MAX_ARGUMENTS = 8192  # II.1.5's general limit: a rule of its own, kept without security checks
CHECKED_FIELDS = ("hostname", "command", "arguments")
EMPTY: Mapping[str, str] = MappingProxyType({})
SHELL_HINT = "use exec=shell if you need a pipe or redirection"
_METACHARS = re.compile(r"[;&|$`()<>\\'\"\n\r]")
_C_FORM = re.compile(r"-c\s+[\"']")  # `bash -c "..."` style arguments carry a script
_HOST_OK = re.compile(r"[A-Za-z0-9.-]+\Z")  # not empty: an empty name is an error
_PLACEHOLDER = re.compile(r"@[A-Za-z0-9_]+@")  # left after globals: resolved at run time
_SSH_HOST_OK = re.compile(r"(?:[A-Za-z0-9._-]+@)?(?:[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])"
                          r"(?::[0-9]+)?\Z")  # [user@]host[:port], [IPv6]:port


def _rx(pattern: str) -> Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


INJECTION: Tuple[Tuple[Pattern[str], str], ...] = (
    (_rx(r";\s*(?:rm|curl|wget|cat)\s"), "a ';' followed by another command"),
    (_rx(r"\|\s*nc\s"), "a pipe into nc"),
    (_rx(r"\$\("), "command substitution $(...)"),
    (_rx(r"`[^`]*`"), "command substitution `...`"),
    (_rx(r"&&\s*rm\s"), "'&& rm'"),
    (_rx(r"\|\|\s*curl\s"), "'|| curl'"),
    (_rx(r"[<>]\s*/dev/"), "a redirection to or from /dev/"),
)
TRAVERSAL = _rx(r"\.\./|\.\.\\|%2e%2e%2f|%2e%2e%5c|\.\.%2f|\.\.%5c|%252e%252e%252f"
                r"|/etc/passwd|/etc/shadow|/proc/version|c:\\windows\\")
WARNINGS: Tuple[Tuple[Pattern[str], str, Tuple[str, ...]], ...] = (
    (_rx(r"/bin/(?:bash|sh|zsh|csh|tcsh)\b|\b(?:python|perl|ruby|php)\s|\bsystem\(\""
         r"|\bchmod\s+[0-7]+\b|\bchown\s|\bsudo\s|\bsu\s"),
     "a suspicious pattern (shell, interpreter or privilege change)", ("arguments",)),
    (_rx(r"rm\s+-rf\s+/(?![\w.])|chmod\s+777|/etc/passwd|/etc/shadow|\beval\(|\bexec\(|sudo\s+rm"
         r"|mkfs\.|\bdd\b.{0,256}?\bof=/dev/"), "a dangerous operation", CHECKED_FIELDS),
    (_rx(r"%(?:[0-9]+\$)?[sxdn]\b"), "a format-string pattern (%s, %x, %d, %n)",
     CHECKED_FIELDS),
    (_rx(r"%[0-9a-f]{2}|\\x[0-9a-f]{2}|\\u[0-9a-f]{4}"), "an encoded character "
     "(URL, hex or unicode escape)", CHECKED_FIELDS),
)


# Every pattern above needs one of these characters or (lower-cased) substrings. Most
# values hold none, and testing for them is far cheaper than running the patterns.
_TRIGGER_CHARS = frozenset(";&|$`()<>\\'\"\n\r%\x00")
_TRIGGER_WORDS = ("..", "/etc/", "/proc/", "/bin/", "c:\\", "python", "perl", "ruby", "php",
                  "chmod", "chown", "sudo", "mkfs", "dd")
_TRIGGER_WORD = re.compile("|".join(re.escape(word) for word in _TRIGGER_WORDS) + r"|su\s|rm\s")


@lru_cache(maxsize=None)  # host names and commands repeat; a plain dict is the cheapest cache
def suspect(text: str) -> bool:
    """False when no security pattern can match `text` (a fast pre-check).

    Only ASCII text is pre-checked: case-insensitive matching of other text has
    equivalences that lower() does not give (the long s matches `s`), so such
    text always goes to the patterns themselves.
    """
    if not text.isascii() or not _TRIGGER_CHARS.isdisjoint(text):
        return True
    return _TRIGGER_WORD.search(text.lower()) is not None


def exec_type(task: Task) -> str:
    """The task's exec type for these checks: lower-cased, aliases folded, default local."""
    text = (task.get("exec") or "").strip().lower()
    if not text or "@" in text:
        return "local"
    return "shell" if text in SHELL_TYPES else text


def is_shell(task: Task) -> bool:
    """True when the task runs through a shell (`exec=shell` or an alias)."""
    return exec_type(task) == "shell"


def masked_global(tf: TaskFile, g: GlobalVar) -> Tuple[str, Optional[str]]:
    """`NAME=value` and the source line, with the value masked for secret globals."""
    listed = split_secret_vars(tf.globals["SECRET_VARS"].value) \
        if "SECRET_VARS" in tf.globals else ()
    source = tf.source_line(g.line)
    if not is_secret_name(g.name, listed):
        return f"{g.name}={g.value}", source
    if source is not None and g.column:
        source = source[:g.column - 1] + MASK  # the value runs to the end of its line
    return f"{g.name}={MASK}", source


def _first(pattern: Pattern[str], text: str) -> int:
    """0-based offset of the first match, or -1."""
    m = pattern.search(text)
    return m.start() if m else -1


def _injection(text: str) -> Tuple[int, str]:
    """The earliest injection pattern in `text`: (offset, description) or (-1, "")."""
    hits = [(m.start(), why) for rx, why in INJECTION for m in [rx.search(text)] if m]
    return min(hits) if hits else (-1, "")


def value_findings(key: str, text: str, shell: bool, limit: Optional[int],
                   ) -> Iterator[Tuple[str, int, str, Optional[str]]]:
    """(severity, offset, what, hint) for every rule `text` breaks as field `key`."""
    if limit is not None and len(text) > limit and not (
            key == "hostname" and _PLACEHOLDER.search(text)) and not (
            key == "arguments" and len(text) > MAX_ARGUMENTS):  # that limit is reported instead
        yield ERROR, limit, f"is {len(text)} characters long (at most {limit})", None
    if "\x00" in text:
        yield ERROR, text.index("\x00"), "contains a NUL byte", None
    if key == "hostname" or (key == "command" and not shell):
        pos = _first(_METACHARS, text)
        if pos >= 0:
            ch = text[pos]
            what = "newline" if ch in "\r\n" else (f'"{ch}"' if ch == "'" else f"'{ch}'")
            hint = SHELL_HINT if key == "command" else "a host name is letters, digits, " \
                "'.' and '-'"
            yield ERROR, pos, f"contains the shell metacharacter {what}", hint
    elif key == "arguments" and not shell and not _C_FORM.match(text):
        pos, why = _injection(text)
        if pos >= 0:
            yield ERROR, pos, f"contains {why}, which looks like command injection", \
                SHELL_HINT
    if key == "arguments":
        pos = _first(TRAVERSAL, text)
        if pos >= 0:
            yield ERROR, pos, "contains a path-traversal or sensitive-file pattern", \
                "use an absolute path inside the intended directory"
    yield from _warnings(key, text)


def _warnings(key: str, text: str) -> Iterator[Tuple[str, int, str, Optional[str]]]:
    for rx, what, keys in WARNINGS:
        if key in keys:
            pos = _first(rx, text)
            if pos >= 0:
                yield WARNING, pos, f"contains {what}", None
    if len(text) > 100:
        ch, count = Counter(text).most_common(1)[0]
        if count > 0.8 * len(text):
            yield WARNING, text.index(ch), "consists mostly of one repeated character", None


def _host_warning(kind: str, text: str) -> Optional[int]:
    """Offset of the first unusual host-name character (a warning), or None."""
    if _HOST_OK.match(text):
        return None
    if kind != "ssh" and _PLACEHOLDER.search(text):
        return None  # placeholders are checked once resolved, by host validation
    if kind == "ssh" and _SSH_HOST_OK.match(text):
        return None
    return next(i for i, ch in enumerate(text) if not (ch.isascii() and (ch.isalnum() or
                                                                        ch in ".-")))


def field_diagnostics(tf: TaskFile, task: Task, f: Field, kind: str) -> Iterator[Diagnostic]:
    """The security findings of one hostname/command/arguments field of exec type `kind`."""
    if f.key == "hostname" and not f.value:
        if is_explicitly_local(task):  # else the required-field rule reports it
            yield Diagnostic(ERROR, f"Task {task.id}: hostname is empty", f.line, f.column,
                             "exec=local does not use the name, but it must be set: "
                             "hostname=localhost", tf.source_line(f.line))
        return
    if len(f.value) <= 100 and not suspect(f.value):
        if f.key == "hostname" and f.value and not _HOST_OK.match(f.value):
            yield from _host_diagnostic(tf, task, f, kind)
        return
    exact = f.value == f.raw  # offsets only map into the line without substitution
    where = "" if exact else " (after substituting globals)"
    errors = False
    # (the hostname limit applies to a name written out, not to one built from @VAR@s, §1.5)
    limit = None if f.key == "hostname" and _PLACEHOLDER.search(f.raw) else LIMITS[f.key]
    for severity, offset, what, hint in value_findings(f.key, f.value, kind == "shell", limit):
        errors |= severity == ERROR
        col = f.column + offset if exact else f.column
        yield Diagnostic(severity, f"Task {task.id}: {f.key} {what}{where}", f.line, col, hint,
                         tf.source_line(f.line))
    if f.key == "hostname" and not errors and f.value:
        yield from _host_diagnostic(tf, task, f, kind)


def _host_diagnostic(tf: TaskFile, task: Task, f: Field, kind: str) -> Iterator[Diagnostic]:
    pos = _host_warning(kind, f.value)
    if pos is not None:
        yield Diagnostic(WARNING, f"Task {task.id}: hostname '{f.value}' has characters other "
                         "than letters, digits, '.' and '-'", f.line,
                         f.column + pos if f.value == f.raw else f.column, None,
                         tf.source_line(f.line))


def security_diagnostics(tf: TaskFile, environ: Mapping[str, str] = EMPTY) -> List[Diagnostic]:
    """II.8.3 for every task's hostname, command and arguments (skippable).

    `arguments` are checked as the run will pass them too: with `$VAR` expanded from
    `environ`, so a variable cannot smuggle in what the file could not say. A task
    result in a shell line draws a warning (I.4a).
    """
    found: List[Diagnostic] = []
    for task in tf.tasks.values():
        if task.generated_by is not None:
            continue  # generated from its block, whose fields are checked
        kind = None  # (worked out only for a task with a field worth a closer look)
        placeholder = False  # in command or arguments: a task result in a shell line?
        for key in CHECKED_FIELDS:
            f = task.fields.get(key)
            if f is None:
                continue
            placeholder = placeholder or (key != "hostname" and "@" in f.value)
            if key == "arguments" and "$" in f.raw:
                kind = kind or exec_type(task)
                found.extend(_expanded_arguments(tf, task, f, kind, environ))
            if len(f.value) <= 100 and not suspect(f.value) and (
                    key != "hostname" or _HOST_OK.match(f.value)):
                continue  # the common case, decided without building anything (speed)
            kind = kind or exec_type(task)
            found.extend(field_diagnostics(tf, task, f, kind))
        if placeholder and (kind or exec_type(task)) == "shell":
            found.extend(_result_in_shell_line(tf, task))
    return found


def _expanded_arguments(tf: TaskFile, task: Task, f: Field, kind: str,
                        environ: Mapping[str, str]) -> Iterator[Diagnostic]:
    """The errors that only the environment's values bring into `arguments`."""
    template = arguments_template(f.raw, environ, tf.global_values if "@" in f.raw else EMPTY)
    expanded = fill_text(template, lambda ref: ref.text)  # (results as written: not known yet)
    if expanded == f.value:
        return
    written = {(what, severity) for severity, _, what, _ in
               value_findings("arguments", f.value, kind == "shell", LIMITS["arguments"])}
    for severity, _, what, hint in value_findings("arguments", expanded, kind == "shell",
                                                  LIMITS["arguments"]):
        if severity == ERROR and (what, severity) not in written:
            yield Diagnostic(ERROR, f"Task {task.id}: arguments {what} (after expanding "
                             "environment variables)", f.line, f.column, hint,
                             tf.source_line(f.line))


SHELL_RESULT_HINT = ("to keep a result data, run the shell without exec=shell: exec=local, "
                     "command=sh, arguments=-c 'your script, using \"$1\"' sh \"@N_stdout@\"")


def _result_in_shell_line(tf: TaskFile, task: Task) -> Iterator[Diagnostic]:
    """One warning for a shell task whose command or arguments take a task result: the
    shell reads the result as shell syntax, which is by design there (I.4a)."""
    for key in ("command", "arguments"):
        f = task.fields.get(key)
        ref = None if f is None else next(_result_refs(f.value), None)
        if f is not None and ref is not None:
            written = (task.get("exec") or "").strip()
            yield Diagnostic(WARNING, f"Task {task.id}: {key} puts the task result {ref} into "
                             f"a shell command line (exec={written}) as it is: the shell reads "
                             "quotes, '$', ';' and backquotes in it as shell syntax", f.line,
                             f.column + _offset_of_result(tf, f), SHELL_RESULT_HINT,
                             tf.source_line(f.line))
            return


def _result_refs(text: str) -> Iterator[str]:
    """The result references of `text` (`@3_stdout@`), as written."""
    return (m.group(0) for m in TASK_REF.finditer(text) if m.group(2).lower() in RESULT_FIELDS)


def _offset_of_result(tf: TaskFile, f: Field) -> int:
    """0-based offset in the text as written of the first result reference of `f`, or of
    the first global that brings one in (0 when neither is found)."""
    values = tf.global_values
    offsets = [m.start() for m in TASK_REF.finditer(f.raw) if m.group(2).lower() in RESULT_FIELDS]
    offsets.extend(pos for name, pos in global_refs(f.raw)
                   if next(_result_refs(substitute_globals(f"@{name}@", values)), None))
    return min(offsets, default=0)


def global_diagnostics(tf: TaskFile, g: GlobalVar) -> Iterator[Diagnostic]:
    """A global's value checked like `local` arguments, value masked for secrets."""
    _, source = masked_global(tf, g)
    exact = g.value == g.template
    origin = "" if g.line else " (from --set)"
    for severity, offset, what, hint in value_findings("arguments", g.value, False, None):
        col = g.column + offset if exact and g.line else g.column
        if hint == SHELL_HINT:
            hint = "a global is pasted into fields as text; put shell syntax in a task " \
                "with exec=shell"
        yield Diagnostic(severity, f"Global variable {g.name}{origin} {what}", g.line, col,
                         hint, source)


def global_security_diagnostics(tf: TaskFile) -> List[Diagnostic]:
    """The security findings of every global value (applied even with skip flags).

    A definition replaced by a later line or by `--set` is checked too: a failing
    global stops the run wherever it is written (II.1.3).
    """
    found: List[Diagnostic] = []
    for g in tf.shadowed_globals + tuple(tf.globals.values()):
        found.extend(global_diagnostics(tf, g))
    return found


# ---- usage of globals (II.1.3, II.8.1) -------------------------------------------------
def used_globals(tf: TaskFile) -> Set[str]:
    """Globals that some task field refers to, directly or through other globals."""
    used: Set[str] = set()
    # One search over all values at once: a name never spans a line break (speed).
    text = "\n".join(f.raw for t in tf.tasks.values() for f in t.fields.values() if "@" in f.raw)
    todo = [name for name, _ in global_refs(text)]
    while todo:
        name = todo.pop()
        if name in used or name not in tf.globals:
            continue
        used.add(name)
        todo.extend(n for n, _ in global_refs(tf.globals[name].value))
    return used


def globals_rules(tf: TaskFile) -> Iterator[Diagnostic]:
    """Unused globals (warning), unset `$VAR`s in used ones (error), undefined chains."""
    used = used_globals(tf)
    for name, g in tf.globals.items():
        if not g.line:
            continue  # --set values have no place in the file
        shown, source = masked_global(tf, g)
        if name not in used:
            if name != "SECRET_VARS":
                unset = f" (it also uses unset ${', $'.join(g.unset_env)})" \
                    if g.unset_env else ""
                yield Diagnostic(WARNING, f"Global variable {shown} is defined but never "
                                 f"used{unset}", g.line, g.column, None, source)
            continue
        for var in g.unset_env:
            pos = g.template.find("$" + var)
            pos = pos if pos >= 0 else g.template.find("${" + var)
            yield Diagnostic(ERROR, f"Environment variable expansion failed for used global "
                             f"variable {name}: ${var} is not set", g.line,
                             g.column + max(pos, 0), f"export {var} before running tasker",
                             source)
        for ref, pos in global_refs(g.value):
            if ref not in tf.globals:
                col = g.column + pos if g.value == g.template else g.column
                yield Diagnostic(WARNING, f"Global variable {name} refers to @{ref}@, which "
                                 "is not defined; it stays as literal text", g.line, col,
                                 None, source)
