"""The validation summary lines (SPEC I.3) and when they may use emoji."""

from __future__ import annotations

import io
from types import MappingProxyType

import pytest

from tasker.report.logger import wants_colour
from tasker.validate.hosts import HostCheckResult
from tasker.validate.summary import summary_lines


def hosts(**changes) -> HostCheckResult:
    values = dict(exit_code=0, fqdn=MappingProxyType({}), dns_ok=5, dns_total=5, conn_ok=5,
                  conn_total=5, exec_counts=MappingProxyType({"local": 2, "pbrun": 3}),
                  errors=())
    values.update(changes)
    return HostCheckResult(**values)


def lines(color: bool = True, **changes) -> list:
    args = dict(syntax_ok=True, task_count=12, dependency_ok=True, flow_ok=True,
                hosts=hosts(), color=color)
    args.update(changes)
    return summary_lines(**args)


def test_all_passed_with_emoji():
    assert lines() == [
        "✅ Task file syntax: valid (12 tasks)",
        "✅ Task dependencies: valid",
        "✅ Flow control: valid",
        "✅ DNS resolution: 5/5 hosts",
        "✅ Connectivity: 5/5 hosts",
        "✅ Execution types: pbrun (3), local (2)",
        "🎉 All validations passed - ready for execution",
    ]


def test_plain_text_has_no_emoji_and_no_escape_codes():
    text = lines(color=False)
    assert text[0] == "[OK] Task file syntax: valid (12 tasks)"
    assert text[-1] == "[OK] All validations passed - ready for execution"
    assert all(line.isascii() and "\x1b" not in line for line in text)


def test_failures_are_marked_and_there_is_no_all_passed_line():
    text = lines(color=False, hosts=hosts(exit_code=21, dns_ok=4, conn_ok=4))
    assert "[FAIL] DNS resolution: 4/5 hosts" in text
    assert "[FAIL] Connectivity: 4/5 hosts" in text
    assert not any("All validations passed" in line for line in text)
    assert lines(color=False, syntax_ok=False)[0] == "[FAIL] Task file syntax: invalid (12 tasks)"


def test_connectivity_counts_the_hosts_that_resolved():
    """Connectivity is tested on hosts that resolved: none resolved, none tested."""
    text = lines(color=False, hosts=hosts(exit_code=21, dns_ok=4, conn_ok=4, conn_total=4))
    assert "[FAIL] DNS resolution: 4/5 hosts" in text
    assert "[OK] Connectivity: 4/4 hosts" in text
    text = lines(color=False, hosts=hosts(exit_code=21, dns_ok=0, conn_ok=0, conn_total=0))
    assert "[SKIP] Connectivity: not checked (no host resolved)" in text


def test_one_task_is_singular():
    assert lines(task_count=1)[0] == "✅ Task file syntax: valid (1 task)"


def test_skipped_checks():
    text = lines(color=False, hosts=None, dependency_ok=None, flow_ok=None)
    assert text[1:] == [
        "[SKIP] Task dependencies: not checked",
        "[SKIP] Flow control: not checked",
        "[SKIP] Host validation: skipped",
    ]


def test_stopped_before_hosts():
    unresolved = hosts(exit_code=20, hosts_checked=False, dns_ok=0, conn_ok=0)
    assert lines(color=False, hosts=unresolved)[3:] == [
        "[FAIL] Hostnames: unresolved placeholders, no host was checked",
        "[OK] Execution types: pbrun (3), local (2)",
    ]
    no_binary = hosts(exit_code=61, hosts_checked=False, exec_ok=False)
    assert lines(color=False, hosts=no_binary)[3:] == [
        "[FAIL] Execution types: pbrun (3), local (2)",
    ]


def test_no_exec_types():
    text = lines(hosts=hosts(dns_ok=0, dns_total=0, conn_ok=0, conn_total=0,
                             exec_counts=MappingProxyType({})))
    assert "✅ DNS resolution: 0/0 hosts" in text
    assert "✅ Execution types: none" in text


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("stream, environ, expected", [
    (Tty(), {"TERM": "xterm"}, True),
    (Tty(), {}, True),
    (Tty(), {"TERM": "xterm", "NO_COLOR": "1"}, False),
    (Tty(), {"TERM": "xterm", "NO_COLOR": ""}, True),  # no-color.org: empty means unset
    (Tty(), {"TERM": "dumb"}, False),
    (io.StringIO(), {"TERM": "xterm"}, False),
    (object(), {}, False),
])
def test_wants_colour(stream, environ, expected):
    assert wants_colour(stream, environ) is expected


def test_wants_colour_on_a_closed_stream():
    stream = io.StringIO()
    stream.close()  # isatty() now raises ValueError
    assert wants_colour(stream, {}) is False
