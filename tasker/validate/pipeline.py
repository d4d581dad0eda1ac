"""The task-file validator as one call: every check of SPEC II.8.1-8.3 and I.4, in line order.

The phases are independent and each collects all it finds (nothing stops at
the first error): structure (required fields, references), blocks, field
rules, security (skippable), global security (never skipped) and flow
analysis. `check_task_file` is what the CLI calls: it logs the warnings and
raises TaskFileError when there are errors.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Iterable, List, Mapping, NamedTuple, Optional, Sequence

from tasker.syntax.ast import TaskFile
from tasker.syntax.diagnostics import (
    Diagnostic,
    TaskFileError,
    cut_middle,
    limit_repeats,
    more_line,
    sort_diagnostics,
)
from tasker.validate.blocks import block_errors
from tasker.validate.flow import flow_findings
from tasker.validate.programs import missing_program_warnings
from tasker.validate.rules import KNOWN_EXEC, RuleOptions, rule_diagnostics
from tasker.validate.security import global_security_diagnostics, security_diagnostics
from tasker.validate.structure import structural_errors

EMPTY_ENV: Mapping[str, str] = MappingProxyType({})


class Verdicts(NamedTuple):
    """Which groups of checks found no error, for the validation summary (SPEC I.3)."""

    syntax_ok: bool      # fields, blocks, rules, security
    dependency_ok: bool  # routing targets, block task lists, @N_...@ and @NAME@ references
    flow_ok: bool        # static flow analysis (I.4)


class Findings(NamedTuple):
    """Every error and warning of the file, sorted by line, and the verdicts per group."""

    diagnostics: List[Diagnostic]
    verdicts: Verdicts
    notes: Sequence[str] = ()  # informational dependency notes (II.8.4), for the log


def validate_task_file(tf: TaskFile, *, skip_security: bool = False,
                       skip_subtask_range: bool = False, configured_exec: Iterable[str] = (),
                       environ: Mapping[str, str] = EMPTY_ENV) -> List[Diagnostic]:
    """Every error and warning of the file (loader warnings excluded), sorted by line."""
    return find_all(tf, skip_security=skip_security, skip_subtask_range=skip_subtask_range,
                    configured_exec=configured_exec, environ=environ).diagnostics


def find_all(tf: TaskFile, *, skip_security: bool = False, skip_subtask_range: bool = False,
             configured_exec: Iterable[str] = (),
             environ: Mapping[str, str] = EMPTY_ENV) -> Findings:
    """Run every check; the findings with a verdict per group of checks.

    `configured_exec` names the exec types (and aliases) of execution_types.yaml,
    which are known besides the built-in ones; `environ` expands `$VAR` in arguments
    for the security rules, as the run will.
    """
    rule_options = RuleOptions(skip_subtask_range=skip_subtask_range, known_exec=frozenset(
        KNOWN_EXEC + tuple(name.lower() for name in configured_exec)))
    return _validate(tf, skip_security, rule_options, environ)


def _has_error(found: List[Diagnostic]) -> bool:
    return any(d.is_error for d in found)


def _validate(tf: TaskFile, skip_security: bool, rule_options: RuleOptions,
              environ: Mapping[str, str]) -> Findings:
    syntax, dependencies = structural_errors(tf)
    syntax.extend(rule_diagnostics(tf, rule_options))
    if not skip_security:
        syntax.extend(security_diagnostics(tf, environ))
    syntax.extend(global_security_diagnostics(tf))
    syntax.extend(missing_program_warnings(tf, environ))
    syntax.extend(block_errors(tf))
    flow, notes = flow_findings(tf)
    verdicts = Verdicts(not _has_error(syntax), not _has_error(dependencies),
                        not _has_error(flow))
    found = sort_diagnostics(dict.fromkeys(syntax + dependencies + flow))  # duplicates once
    return Findings(found, verdicts, notes)


def log_warnings(warnings: List[Diagnostic], log: Any) -> None:
    """Warnings go to the DEBUG log only; they never fail a run (II.8). Each is masked
    before it is cut; past MAX_OF_A_KIND of one kind, one line counts the rest."""
    shown, more = limit_repeats(warnings)
    for d in shown:
        where = f"Line {d.line}: " if d.line else ""
        hint = f" (hint: {log.mask(d.hint)})" if d.hint else ""
        log.debug(f"# WARNING: {where}{cut_middle(log.mask(d.message))}{hint}")
    for first, count in more.values():
        log.debug(f"# WARNING: {more_line(first, count, log.mask)}")


def check_task_file(tf: TaskFile, log: Any, *, skip_security: bool = False,
                    skip_subtask_range: bool = False, configured_exec: Iterable[str] = (),
                    environ: Mapping[str, str] = EMPTY_ENV,
                    notes: Optional[List[str]] = None) -> List[Diagnostic]:
    """Validate, log the warnings (and the dependency notes); raise TaskFileError on errors;
    return the warnings.

    The TaskFileError carries the warnings too, so the report of a failed
    validation shows every finding of the phase in line order. Given a `notes`
    list, the dependency notes go there instead of the log, for the caller to log
    at their place in the pre-flight (II.7.2, step 8).
    """
    found, verdicts, found_notes = find_all(tf, skip_security=skip_security,
                                      skip_subtask_range=skip_subtask_range,
                                      configured_exec=configured_exec, environ=environ)
    # (each finding once: the loader and the validator may both find one)
    warnings = sort_diagnostics(dict.fromkeys([*tf.warnings, *(d for d in found
                                                              if not d.is_error)]))
    log_warnings(warnings, log)
    errors = [d for d in found if d.is_error]
    if errors:
        raise TaskFileError(tf.path, errors + warnings, verdicts)
    if notes is not None:
        notes.extend(found_notes)
        return warnings
    for note in found_notes:  # informational, never fatal
        log.info(note)
    return warnings
