"""The validation summary of the 2.0 README, implemented for real (SPEC I.3).

    ✅ Task file syntax: valid (12 tasks)
    ✅ Task dependencies: valid
    ✅ Flow control: valid
    ✅ DNS resolution: 5/5 hosts
    ✅ Connectivity: 5/5 hosts
    ✅ Execution types: pbrun (3), local (2)

On a terminal the marks are emoji; otherwise (a pipe, a log scraper, `NO_COLOR`,
`TERM=dumb`) they are the plain words `[OK]`, `[FAIL]`, `[SKIP]`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, List, Mapping, Optional, Tuple

if TYPE_CHECKING:  # only a type here: importing hosts costs start-up time
    from tasker.validate.hosts import HostCheckResult

OK, FAIL, SKIP = "ok", "fail", "skip"
_EMOJI = {OK: "✅", FAIL: "❌", SKIP: "⚠️"}
_PLAIN = {OK: "[OK]", FAIL: "[FAIL]", SKIP: "[SKIP]"}
_ALL_PASSED = ("🎉", "All validations passed - ready for execution")
_Line = Tuple[str, str]  # (state, text)


def _check(state: Optional[bool]) -> str:
    """The mark of a check; None means it was skipped."""
    return SKIP if state is None else (OK if state else FAIL)


def _count_line(label: str, ok: int, total: int) -> _Line:
    return (OK if ok == total else FAIL), f"{label}: {ok}/{total} hosts"


def _exec_types(counts: Mapping[str, int]) -> str:
    """`pbrun (3), local (2)`: most used first, then by name."""
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return ", ".join(f"{name} ({count})" for name, count in ordered) or "none"


def _host_lines(hosts: Optional[HostCheckResult], why_not: str) -> List[_Line]:
    """The DNS, connectivity and exec-type lines, or one line saying why hosts were not."""
    if hosts is None:
        return [(SKIP, f"Host validation: {why_not}")]
    lines: List[_Line] = []
    if hosts.hosts_checked:
        lines.append(_count_line("DNS resolution", hosts.dns_ok, hosts.dns_total))
        if hosts.conn_total or not hosts.dns_total:
            lines.append(_count_line("Connectivity", hosts.conn_ok, hosts.conn_total))
        else:  # (connectivity is tested on hosts that resolved)
            lines.append((SKIP, "Connectivity: not checked (no host resolved)"))
    elif hosts.exec_ok:  # stopped at hostnames with unresolved placeholders
        lines.append((FAIL, "Hostnames: unresolved placeholders, no host was checked"))
    lines.append((OK if hosts.exec_ok else FAIL,
                  f"Execution types: {_exec_types(hosts.exec_counts)}"))
    return lines


def summary_lines(*, syntax_ok: bool, task_count: int, dependency_ok: Optional[bool],
                  flow_ok: Optional[bool], hosts: Optional[HostCheckResult],
                  color: bool, hosts_not_checked: str = "skipped") -> List[str]:
    """The summary lines; `None` for a check means it was skipped, `hosts=None` likewise.

    `hosts_not_checked` says why there is no host result ("skipped" by an option,
    or not reached because the task file has errors).
    """
    checks = [
        (_check(syntax_ok), f"Task file syntax: {'valid' if syntax_ok else 'invalid'} "
                            f"({task_count} {'task' if task_count == 1 else 'tasks'})"),
        (_check(dependency_ok), "Task dependencies: " + _word(dependency_ok)),
        (_check(flow_ok), "Flow control: " + _word(flow_ok)),
    ]
    checks += _host_lines(hosts, hosts_not_checked)
    marks = _EMOJI if color else _PLAIN
    lines = [f"{marks[state]} {text}" for state, text in checks]
    if all(state == OK for state, _ in checks):
        lines.append(f"{_ALL_PASSED[0] if color else marks[OK]} {_ALL_PASSED[1]}")
    return lines


def _word(state: Optional[bool]) -> str:
    """The verdict word of a check that may have been skipped."""
    return "not checked" if state is None else ("valid" if state else "invalid")
