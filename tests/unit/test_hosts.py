"""Host pre-flight (SPEC II.8.5) against real processes and real name resolution.

Loopback only: localhost, 127.0.0.x, names from a temporary hosts file, and
`.invalid` names (RFC 6761), which never reach a DNS server. Wrapper binaries
(`pbrun`) and, where a failure is needed, `ping` are small scripts put first
on the PATH handed to the check.
"""

from __future__ import annotations

import io
import os
import random
import stat
import threading
import time
from pathlib import Path
from typing import Dict, Optional

import pytest

from tasker.exec.exectypes import ExecType, ValidationTest, builtin_config, make_config
from tasker.report.logger import Log
from tasker.syntax.ast import TaskFile
from tasker.syntax.taskfile import LoadOptions, build_task_file
from tasker.validate.hosts import (
    HostCheckOptions,
    HostCheckResult,
    apply_fqdn,
    check_hosts,
)
from tasker.validate.probes import read_hosts_file, validation_timeout

LINUX = builtin_config("linux")

# A pbrun stand-in: `pbrun -n -h HOST pbtest` answers OK except for hosts listed
# in $PBRUN_DENY; every call is appended to $PBRUN_CALLS when that is set.
FAKE_PBRUN = """#!/bin/sh
[ -n "$PBRUN_CALLS" ] && echo "$*" >> "$PBRUN_CALLS"
[ -n "$PBRUN_SLEEP" ] && sleep "$PBRUN_SLEEP"
host=$3
case " $PBRUN_DENY " in *" $host "*) echo "Access denied for $host" >&2; exit 1;; esac
[ -n "$PBRUN_SAY" ] && { echo "$PBRUN_SAY"; exit 0; }
echo "pbtest connection OK"
"""

# A ping that fails for 127.0.0.9 and hands everything else to the real ping.
FAKE_PING = """#!/bin/sh
for last; do :; done
[ "$last" = 127.0.0.9 ] && { echo "1 packets transmitted, 0 received" ; exit 1; }
exec {real} "$@"
"""


def load(text: str) -> TaskFile:
    """A TaskFile from task-file text."""
    return build_task_file("t.txt", text, LoadOptions())


def task(tid: int, host: str, exec_type: Optional[str] = "pbrun", extra: str = "") -> str:
    """The lines of one ordinary task."""
    lines = [f"task={tid}", f"hostname={host}", "command=true"]
    if exec_type is not None:
        lines.append(f"exec={exec_type}")
    return "\n".join(lines) + "\n" + extra + "\n"


def write_script(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Dict[str, str]:
    """An environment whose PATH starts with a directory holding the fake pbrun.

    The check looks programs up on this PATH; the children it starts inherit
    the process environment, so the fake's PBRUN_* switches are set there.
    """
    for name in [k for k in os.environ if k.startswith("PBRUN_")]:
        monkeypatch.delenv(name)
    bin_dir = tmp_path / "bin"
    write_script(bin_dir, "pbrun", FAKE_PBRUN)
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith(("PBRUN_", "TASK_EXECUTOR_", "VALIDATION_TEST_"))}
    environ["PATH"] = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', os.defpath)}"
    return environ


@pytest.fixture
def hosts_file(tmp_path: Path) -> Path:
    path = tmp_path / "hosts"
    path.write_text("# test hosts\n127.0.0.5  web1.example.test web1   WEB-ALIAS # inline\n"
                    "127.0.0.6  db7\n::1 db7\n")
    return path


def check(tf: TaskFile, environ: Dict[str, str], config=LINUX, log: Optional[Log] = None,
          **opts) -> HostCheckResult:
    opts.setdefault("hosts_file", "/etc/hosts")
    return check_hosts(tf, config, HostCheckOptions(environ=environ, **opts),
                       log or Log(level="DEBUG", stream=io.StringIO()))


# -- DNS and ping -------------------------------------------------------------------

def test_localhost_and_loopback_address_pass(env):
    tf = load(task(0, "localhost", "shell") + task(1, "127.0.0.1", "shell"))
    result = check(tf, env)
    assert result.exit_code == 0, result.errors
    assert (result.dns_ok, result.dns_total, result.conn_ok, result.conn_total) == (2, 2, 2, 2)
    assert result.errors == ()
    assert dict(result.exec_counts) == {"shell": 2}


def test_system_resolver_is_used_when_the_hosts_file_has_no_entry(env, tmp_path):
    empty = tmp_path / "empty_hosts"
    empty.write_text("")
    result = check(load(task(0, "localhost", "shell")), env, hosts_file=str(empty))
    assert result.exit_code == 0, result.errors
    assert "localhost" not in result.fqdn  # the canonical name is the name as written


def test_name_from_hosts_file_resolves_and_gets_its_canonical_name(env, hosts_file):
    tf = load(task(0, "web1") + task(1, "WEB-ALIAS") + task(2, "db7"))
    result = check(tf, env, hosts_file=str(hosts_file))
    assert result.exit_code == 0, result.errors
    assert dict(result.fqdn) == {"web1": "web1.example.test", "WEB-ALIAS": "web1.example.test"}


def test_invalid_name_fails_dns_with_exit_21(env):
    tf = load(task(0, "localhost") + task(3, "db7.invalid") + task(9, "db7.invalid", "p7s"))
    result = check(tf, env, skip_command=True)
    assert result.exit_code == 21
    assert (result.dns_ok, result.dns_total) == (1, 2)
    assert len(result.errors) == 1
    assert result.errors[0].startswith("Host 'db7.invalid' (tasks 3, 9): DNS lookup failed")


# An `op` stand-in: `op mc_isac -f NAME` prints the FQDN for names listed in
# $OP_KNOWS ("name=fqdn ..."), else fails like the real tool does.
FAKE_OP = """#!/bin/sh
[ "$1" = mc_isac ] && [ "$2" = -f ] || exit 2
for pair in $OP_KNOWS; do [ "${pair%%=*}" = "$3" ] && { echo "${pair#*=}"; exit 0; }; done
echo "no such host: $3" >&2; exit 1
"""


def test_op_mc_isac_answers_when_dns_does_not(monkeypatch, env, tmp_path):
    write_script(tmp_path / "bin", "op", FAKE_OP)
    monkeypatch.setenv("OP_KNOWS", "legacy7.invalid=localhost")
    tf = load(task(0, "legacy7.invalid", "shell") + task(1, "gone.invalid", "shell"))
    result = check(tf, env)
    assert result.exit_code == 21
    assert (result.dns_ok, result.dns_total) == (1, 2)
    assert dict(result.fqdn) == {"legacy7.invalid": "localhost"}
    assert [e.split(":")[0] for e in result.errors] == ["Host 'gone.invalid' (task 1)"]


def test_without_op_an_unknown_name_is_a_dns_failure(env):
    result = check(load(task(0, "legacy7.invalid", "shell")), env)
    assert result.exit_code == 21 and result.fqdn == {}


def test_ping_failure_is_exit_60_and_skips_the_connectivity_test(monkeypatch, env, tmp_path):
    real = next(Path(d) / "ping" for d in os.defpath.split(os.pathsep) + ["/usr/bin", "/bin"]
                if (Path(d) / "ping").exists())
    write_script(tmp_path / "bin", "ping", FAKE_PING.replace("{real}", str(real)))
    calls = tmp_path / "calls"
    monkeypatch.setenv("PBRUN_CALLS", str(calls))
    tf = load(task(0, "127.0.0.9") + task(1, "localhost") + task(2, "nothing.invalid"))
    result = check(tf, env)
    assert result.exit_code == 60  # ping beats DNS
    assert any(e.startswith("Host '127.0.0.9' (task 0): ping 127.0.0.9 failed")
               for e in result.errors)
    assert calls.read_text().split("\n")[:-1] == ["-n -h localhost pbtest"]


# -- unresolved hostnames -----------------------------------------------------------

TWO_STEP = task(0, "localhost") + task(1, "@0_stdout@") + task(2, "@NOT_DEFINED@")


def test_unresolved_placeholder_stops_with_exit_20(env):
    result = check(load(TWO_STEP), env)
    assert result.exit_code == 20
    assert not result.hosts_checked
    assert result.errors == (
        "Task 1: hostname '@0_stdout@' contains unresolved placeholders",
        "Task 2: hostname '@NOT_DEFINED@' contains unresolved placeholders",
    )


def test_skip_unresolved_validates_the_rest(env):
    out = io.StringIO()
    result = check(load(TWO_STEP), env, log=Log(level="INFO", stream=out),
                   skip_unresolved=True)
    assert result.exit_code == 0, result.errors
    assert (result.dns_ok, result.dns_total) == (1, 1)
    assert "Task 1: hostname '@0_stdout@' contains unresolved placeholders; it is " \
           "resolved at run time" in out.getvalue()


# -- exec types ----------------------------------------------------------------------

def test_local_in_any_case_is_not_checked(env):
    tf = load(task(0, "nowhere.invalid", "LOCAL") + task(1, "nowhere.invalid", " Local "))
    result = check(tf, env)
    assert result.exit_code == 0
    assert result.dns_total == 0
    assert dict(result.exec_counts) == {"local": 2}


def test_exec_names_are_case_insensitive(env):
    tf = load(task(0, "localhost", "PBRUN") + task(1, "localhost", "Shell")
              + task(2, "localhost", "bash"))
    result = check(tf, env)
    assert result.exit_code == 0, result.errors
    assert dict(result.exec_counts) == {"pbrun": 1, "shell": 2}


def test_exec_type_precedence_cli_then_environment_then_default(env):
    tf = load(task(0, "nowhere.invalid", None))
    assert check(tf, env, cli_exec_type="local").exit_code == 0
    env["TASK_EXECUTOR_TYPE"] = "local"
    assert check(tf, env).exit_code == 0
    assert dict(check(tf, env, cli_exec_type="shell").exec_counts) == {"shell": 1}
    del env["TASK_EXECUTOR_TYPE"]
    assert dict(check(tf, env, skip_command=True).exec_counts) == {"pbrun": 1}  # config default


def test_unconfigured_exec_type_is_exit_20_unless_command_validation_is_skipped(env):
    tf = load(task(4, "localhost", "rocket") + task(5, "localhost", "rocket"))
    result = check(tf, env)
    assert result.exit_code == 20
    assert not result.exec_ok
    assert result.errors[0].startswith("Execution type 'rocket' (tasks 4, 5) is not configured")
    assert check(tf, env, skip_command=True).exit_code == 0


def test_wrapper_connectivity_test_passes(monkeypatch, env, tmp_path):
    calls = tmp_path / "calls"
    monkeypatch.setenv("PBRUN_CALLS", str(calls))
    tf = load(task(0, "localhost") + task(1, "localhost") + task(2, "127.0.0.1"))
    result = check(tf, env)
    assert result.exit_code == 0, result.errors
    # Each host once, through the template: pbrun -n -h HOST pbtest.
    assert sorted(calls.read_text().splitlines()) == ["-n -h 127.0.0.1 pbtest",
                                                      "-n -h localhost pbtest"]


def test_wrapper_connectivity_test_fails_with_exit_61(monkeypatch, env):
    monkeypatch.setenv("PBRUN_DENY", "127.0.0.1")
    result = check(load(task(0, "localhost") + task(7, "127.0.0.1")), env)
    assert result.exit_code == 61
    assert (result.conn_ok, result.conn_total) == (1, 2)
    assert result.errors == ("Host '127.0.0.1' (task 7): pbrun connectivity test "
                             "`pbrun -n -h 127.0.0.1 pbtest` failed: exit code 1 "
                             "(Access denied for 127.0.0.1), expected 0",)


def test_connectivity_output_must_contain_the_expected_text(monkeypatch, env):
    monkeypatch.setenv("PBRUN_SAY", "all fine")
    result = check(load(task(0, "localhost")), env)
    assert result.exit_code == 61
    assert "does not contain 'OK'" in result.errors[0]


def test_connectivity_test_timeout_from_environment(monkeypatch, env):
    monkeypatch.setenv("PBRUN_SLEEP", "5")
    env["VALIDATION_TEST_TIMEOUT"] = "1"
    started = time.monotonic()
    result = check(load(task(0, "localhost")), env)
    assert time.monotonic() - started < 4
    assert result.exit_code == 61
    assert "no answer within 1 seconds" in result.errors[0]


def test_validation_timeout_precedence():
    slow = ExecType("slow", "slow", ("{binary}",), validation=ValidationTest("t", timeout=15))
    config = make_config((slow,), {}, "slow", None, 7.0, None)
    assert validation_timeout(config, "slow", {"VALIDATION_TEST_TIMEOUT": "3"}) == 3
    assert validation_timeout(config, "slow", {"VALIDATION_TEST_TIMEOUT": "x"}) == 15
    assert validation_timeout(config, "local", {}) == 7


def test_missing_wrapper_binary_is_exit_61(env):
    env["PATH"] = os.defpath
    result = check(load(task(2, "localhost", "p7s") + task(3, "localhost", "p7s")), env)
    assert result.exit_code == 61
    assert result.errors == ("Execution type 'p7s' (tasks 2, 3): program 'p7s' not found "
                             "on PATH",)
    assert not result.exec_ok and not result.hosts_checked


def test_skip_command_still_runs_the_connectivity_test(env):
    env["PATH"] = os.defpath
    result = check(load(task(2, "localhost", "p7s")), env, skip_command=True)
    assert result.exit_code == 61
    assert result.errors[0].endswith("failed: Command not found: p7s")  # no "expected 0"


def test_a_name_the_idna_codec_refuses_fails_dns_with_a_sentence(env):
    from tasker.validate.probes import Lookups, resolve

    found, why = resolve("a" * 70 + ".example.com", {}, Lookups(1))
    assert found is None
    assert why == ("not a valid host name (a dot-separated part is empty or longer than 63 "
                   "characters)")


class FakeSsh:
    """What host validation asks of the run's SSH connections: where a host leads, and
    whether a session there runs `true`."""

    def __init__(self, endpoints, refuse=()):
        self.endpoints, self.refuse, self.checked = endpoints, set(refuse), []

    def endpoint(self, spec):
        from tasker.exec.ssh.errors import SshError

        if spec not in self.endpoints:
            raise SshError(f"'{spec}' is not a host this test knows")
        hostname, jump = self.endpoints[spec]
        return type("Endpoint", (), {"hostname": hostname, "proxy_jump": jump})()

    def check(self, spec, timeout, cancel=None):
        self.checked.append((spec, timeout))
        return f"connection to {spec} refused" if spec in self.refuse else ""


def test_ssh_hosts_resolve_their_host_name_and_keep_the_name_as_written(env, hosts_file):
    ssh = FakeSsh({"admin@web1:2222": ("web1", ()), "alias": ("127.0.0.6", ()),
                   "inner": ("inner.invalid", ("admin@web1:2222",))})
    tf = load(task(0, "admin@web1:2222", "ssh") + task(1, "alias", "SSH")
              + task(2, "inner", "ssh"))
    result = check(tf, env, hosts_file=str(hosts_file), ssh=lambda: ssh)
    assert result.exit_code == 0, result.errors
    assert dict(result.fqdn) == {}  # ssh_config's Host patterns and known_hosts know the name
    assert sorted(spec for spec, _ in ssh.checked) == ["admin@web1:2222", "alias", "inner"]
    assert (result.dns_ok, result.conn_ok) == (3, 3)  # (inner: behind a jump host, no DNS)


def test_ssh_host_failures_have_their_exit_codes(env):
    ssh = FakeSsh({"gone": ("gone.invalid", ()), "shut": ("127.0.0.1", ())}, refuse={"shut"})
    assert check(load(task(0, "gone", "ssh")), env, ssh=lambda: ssh).exit_code == 21
    result = check(load(task(0, "shut", "ssh")), env, ssh=lambda: ssh)
    assert result.exit_code == 61
    assert result.errors == ("Host 'shut' (task 0): connection to shut refused",)
    bad = check(load(task(0, "weird", "ssh")), env, ssh=lambda: ssh)
    assert bad.exit_code == 20 and "is not a host this test knows" in bad.errors[0]


def test_generated_subtasks_are_checked_and_named_by_block(env):
    tf = load("task=2\ntype=parallel\nhostnames=localhost,gone.invalid\ncommand=true\n"
              "exec=pbrun\n")
    result = check(tf, env)
    assert result.exit_code == 21
    assert result.errors[0].startswith("Host 'gone.invalid' (task 2-120001)")


# -- many hosts ----------------------------------------------------------------------

def many_hosts(tmp_path: Path, count: int) -> Path:
    path = tmp_path / "many_hosts"
    path.write_text("".join(f"127.0.0.{i + 1} node{i}.lab.test node{i}\n" for i in range(count)))
    return path


def test_two_hundred_hosts_take_seconds(env, tmp_path):
    hosts = many_hosts(tmp_path, 200)
    tf = load("".join(task(i, f"node{i}", "shell") for i in range(200)))
    started = time.monotonic()
    result = check(tf, env, hosts_file=str(hosts))
    elapsed = time.monotonic() - started
    assert result.exit_code == 0, result.errors[:3]
    assert (result.dns_ok, result.conn_ok) == (200, 200)
    assert result.fqdn["node199"] == "node199.lab.test"
    assert elapsed < 15, elapsed


def test_hosts_are_checked_concurrently_with_a_bound(monkeypatch, env, tmp_path):
    # 64 hosts whose test takes 0.5 s: about 1 s at 32 at a time, 32 s one by one.
    hosts = many_hosts(tmp_path, 64)
    monkeypatch.setenv("PBRUN_SLEEP", "0.5")
    tf = load("".join(task(i, f"node{i}") for i in range(64)))
    started = time.monotonic()
    result = check(tf, env, hosts_file=str(hosts), concurrency=32)
    assert result.exit_code == 0, result.errors[:3]
    assert time.monotonic() - started < 8


# -- FQDN replacement and the hosts file ---------------------------------------------

def test_apply_fqdn_replaces_exactly_the_validated_names(env, hosts_file):
    tf = load(task(0, "web1") + task(1, "web1", "local") + task(2, "localhost")
              + task(3, "web10", "local"))
    result = check(tf, env, hosts_file=str(hosts_file))
    new = apply_fqdn(tf, result.fqdn)
    assert [new.tasks[i].get("hostname") for i in range(4)] == [
        "web1.example.test", "web1.example.test", "localhost", "web10"]
    assert new.tasks[0].fields["hostname"].raw == "web1"  # as written, for diagnostics
    assert tf.tasks[0].get("hostname") == "web1"  # the input is unchanged
    assert apply_fqdn(tf, {}) is tf


def test_read_hosts_file(hosts_file, tmp_path):
    table = read_hosts_file(str(hosts_file))
    assert table["web1"] == ("web1.example.test", ("127.0.0.5",))
    assert table["web-alias"] == ("web1.example.test", ("127.0.0.5",))
    assert table["db7"] == ("db7", ("127.0.0.6", "::1"))
    assert "inline" not in table and "#" not in table
    assert read_hosts_file(str(tmp_path / "missing")) == {}


# -- stopping the pre-flight ------------------------------------------------------------

def test_cancel_ends_the_running_tests_and_starts_no_more(monkeypatch, env, tmp_path):
    """A signal sets the cancel event: the probes' process groups die, no host is started."""
    seconds = str(random.SystemRandom().randrange(300_000, 900_000))  # this test's own
    calls = tmp_path / "calls"
    monkeypatch.setenv("PBRUN_CALLS", str(calls))
    monkeypatch.setenv("PBRUN_SLEEP", seconds)
    hosts = many_hosts(tmp_path, 6)
    tf = load("".join(task(i, f"node{i}") for i in range(6)))
    cancel = threading.Event()

    def operator() -> None:
        end = time.monotonic() + 20
        while len(sleeping(seconds)) < 2 and time.monotonic() < end:
            time.sleep(0.02)
        cancel.set()

    threading.Thread(target=operator).start()
    result = check_hosts(tf, LINUX, HostCheckOptions(environ=env, hosts_file=str(hosts),
                                                     concurrency=2),
                         Log(stream=io.StringIO()), cancel=cancel)
    assert result.exit_code != 0
    assert len(calls.read_text().splitlines()) == 2  # the two running; none started later
    end = time.monotonic() + 5
    while sleeping(seconds) and time.monotonic() < end:
        time.sleep(0.02)
    assert not sleeping(seconds)


def sleeping(seconds: str) -> list:
    """PIDs of running `sleep SECONDS` processes."""
    wanted = f"sleep\0{seconds}\0".encode()
    found = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and Path(f"/proc/{entry}/cmdline").read_bytes() == wanted:
                found.append(int(entry))
        except OSError:
            pass
    return found
