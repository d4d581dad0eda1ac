"""Host pre-flight of ssh hosts against the real sshd: DNS of HostName, a session that
runs `true`, the run reusing the connections validation opened (issue 15, section 2)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def preflight(tmp: Path, text: str, config: Path, *args: str) -> subprocess.CompletedProcess:
    """tasker -r on `text` WITH host validation, the test's ssh_config."""
    (tmp / "tasks.txt").write_text(text)
    environ = {k: v for k, v in os.environ.items() if k != "SSH_AUTH_SOCK"}
    environ.update(HOME=str(tmp), NO_COLOR="1")
    argv = [sys.executable, str(ROOT / "tasker.py"), str(tmp / "tasks.txt"), "-r",
            "--ssh-config", str(config), "-l", str(tmp / "logs"), *args]
    return subprocess.run(argv, capture_output=True, text=True, env=environ, cwd=tmp,
                          timeout=120, stdin=subprocess.DEVNULL)


def task(tid: int, host: str) -> str:
    return f"task={tid}\nhostname={host}\nexec=ssh\ncommand=true\n\n"


def logins(sshd) -> int:
    return len(re.findall(r"Accepted publickey", sshd.log.read_text()))


def test_ssh_hosts_pass_the_preflight_and_the_run_reuses_its_connections(tmp_path, sshd):
    config = sshd.client(tmp_path, "Host web\n    HostName 127.0.0.14\n")
    before = logins(sshd)
    proc = preflight(tmp_path, task(0, "127.0.0.12") + task(1, "127.0.0.13") + task(2, "web"),
                     config)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "[OK] DNS resolution: 3/3 hosts" in proc.stdout
    assert "[OK] Connectivity: 3/3 hosts" in proc.stdout
    assert "Execution types: ssh (3)" in proc.stdout
    assert logins(sshd) - before == 3  # one connection per host, opened by validation


def test_a_refused_host_stops_the_preflight_with_exit_61(tmp_path, sshd):
    closed = sshd.free_port()
    config = sshd.client(tmp_path, f"Host shut\n    HostName 127.0.0.15\n    Port {closed}\n")
    proc = preflight(tmp_path, task(0, "127.0.0.12") + task(1, "shut"), config)
    assert proc.returncode == 61, proc.stdout + proc.stderr
    line = next(x for x in proc.stdout.splitlines() if "Host 'shut' (task 1)" in x)
    assert "ERROR: " in line and "refused" in line
    assert "Traceback" not in proc.stdout + proc.stderr


def test_an_unknown_host_key_stops_the_preflight_and_says_how_to_trust_it(tmp_path, sshd):
    config = sshd.client(tmp_path, known="")
    proc = preflight(tmp_path, task(0, "127.0.0.16"), config)
    assert proc.returncode == 61, proc.stdout + proc.stderr
    assert "ssh-keyscan" in proc.stdout and "SHA256:" in proc.stdout
    accepted = preflight(tmp_path, task(0, "127.0.0.16"), config, "--ssh-accept-new")
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr


def test_a_name_that_does_not_resolve_is_a_dns_failure(tmp_path, sshd):
    config = sshd.client(tmp_path, "Host lost\n    HostName lost.invalid\n")
    proc = preflight(tmp_path, task(0, "lost"), config)
    assert proc.returncode == 21, proc.stdout + proc.stderr
    assert "DNS lookup of lost.invalid failed" in proc.stdout
