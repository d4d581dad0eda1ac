"""End to end: what goes wrong on the way to a remote command is a result (exit 255, one
line naming the host and the cause), never a traceback; host keys; keys and the agent."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest
from conftest import Sshd
from test_ssh import clean, log_text, report, results, run_tasker, ssh_task

_free_port, _keypair = Sshd.free_port, Sshd.keypair


def only_failure(tmp_path: Path, proc: subprocess.CompletedProcess) -> str:
    """The stderr of task 0, which failed with 255 and stopped the run."""
    clean(proc)
    assert proc.returncode == 255, proc.stdout[-3000:]
    stderr = results(tmp_path)["0"]["stderr"]
    assert stderr.count("\n") == 0, stderr  # one line
    return stderr


def test_refused_connection(tmp_path: Path, sshd) -> None:
    port = _free_port()
    proc = run_tasker(tmp_path, ssh_task(0, f"127.0.0.2:{port}", "true"), sshd=sshd)
    line = only_failure(tmp_path, proc)
    assert line == (f"ssh: {sshd.user}@127.0.0.2 port {port}: connection refused (no SSH "
                    "server listens on that port; is the port right?)")
    assert f"Task 0: STDERR: {line[:60]}" in proc.stdout


def test_unknown_host_name(tmp_path: Path, sshd) -> None:
    proc = run_tasker(tmp_path, ssh_task(0, "no-such-host.invalid", "true"), sshd=sshd)
    line = only_failure(tmp_path, proc)
    assert line.startswith(f"ssh: {sshd.user}@no-such-host.invalid port {sshd.port}: cannot "
                           "resolve the host name no-such-host.invalid: ")


def test_failures_are_retried_like_any_failed_sub_task(tmp_path: Path, sshd) -> None:
    port = _free_port()
    text = ("task=0\ntype=parallel\ntasks=1\nretry_failed=true\nretry_count=2\n"
            "retry_delay=1\n\n" + ssh_task(1, f"127.0.0.2:{port}", "true"))
    proc = run_tasker(tmp_path, text, sshd=sshd)
    clean(proc)
    assert proc.returncode != 0
    assert results(tmp_path)["1"]["attempts"] == 3


def test_a_key_the_server_does_not_know(tmp_path: Path, sshd) -> None:
    other = _keypair(tmp_path, "other_key")
    config = sshd.client(tmp_path, key=other)
    line = only_failure(tmp_path, run_tasker(tmp_path, ssh_task(0, "127.0.0.2", "true"),
                                             config=config))
    assert line.startswith(f"ssh: {sshd.user}@127.0.0.2 port {sshd.port}: authentication "
                           f"failed for user {sshd.user}: the server accepted none of {other}")
    assert "authorized_keys" in line


def test_an_encrypted_key_is_an_error_never_a_prompt(tmp_path: Path, sshd) -> None:
    locked = _keypair(tmp_path, "locked_key", b"passphrase")
    config = sshd.client(tmp_path, key=locked)
    line = only_failure(tmp_path, run_tasker(tmp_path, ssh_task(0, "127.0.0.2", "true"),
                                             config=config, timeout=60))
    assert f"the key {locked} is protected by a passphrase: add it to ssh-agent " \
        f"(ssh-add {locked})" in line


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[str]:
    """An ssh-agent of the test's own (its socket path); stopped at the end."""
    if shutil.which("ssh-agent") is None or shutil.which("ssh-add") is None:
        pytest.skip("ssh-agent is not installed")
    sock = tmp_path / "agent.sock"
    proc = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        end = time.monotonic() + 10
        while not sock.exists() and proc.poll() is None and time.monotonic() < end:
            time.sleep(0.02)
        yield str(sock)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait()


def test_the_agent_is_used_first(tmp_path: Path, sshd, agent: str) -> None:
    env = {"SSH_AUTH_SOCK": agent}
    added = subprocess.run(["ssh-add", str(sshd.user_key)], env=dict(os.environ, **env),
                           capture_output=True)
    assert added.returncode == 0, added.stderr
    config = sshd.client(tmp_path, key=tmp_path / "no-such-key")
    proc = run_tasker(tmp_path, ssh_task(0, "127.0.0.2", "true"), config=config, env=env)
    clean(proc)
    assert proc.returncode == 0, proc.stdout[-2000:]


def test_no_key_at_all(tmp_path: Path, sshd) -> None:
    config = sshd.client(tmp_path, key=tmp_path / "no-such-key")
    line = only_failure(tmp_path, run_tasker(tmp_path, ssh_task(0, "127.0.0.2", "true"),
                                             config=config))
    assert "no key to log in with: no ssh-agent (SSH_AUTH_SOCK is not set)" in line


# -- host keys --------------------------------------------------------------------------

def test_an_unknown_host_is_refused_and_told_how_to_trust_it(tmp_path: Path, sshd) -> None:
    config = sshd.client(tmp_path, known="")
    line = only_failure(tmp_path, run_tasker(tmp_path, ssh_task(0, "127.0.0.2", "true"),
                                             config=config))
    known = tmp_path / ".ssh" / "known_hosts"
    assert "the host key is not known (ssh-ed25519 SHA256:" in line
    assert f"ssh-keyscan -p {sshd.port} 127.0.0.2 >> {known}" in line
    assert "--ssh-accept-new" in line
    assert known.read_text() == ""


def test_accept_new_records_every_new_host_of_a_fan_out_once(tmp_path: Path, sshd) -> None:
    config = sshd.client(tmp_path, known="")
    hosts = [f"127.0.0.{n}" for n in range(70, 90)]
    text = (f"task=0\ntype=parallel\nhostnames={','.join(hosts)}\nexec=ssh\ncommand=true\n"
            "max_parallel=20\n\n" + ssh_task(1, "127.0.0.70", "true"))
    proc = run_tasker(tmp_path, text, "--ssh-accept-new", config=config)
    clean(proc)
    assert proc.returncode == 0, proc.stdout[-3000:]
    lines = (tmp_path / ".ssh" / "known_hosts").read_text().splitlines()
    assert sorted(lines) == sorted(f"[{h}]:{sshd.port} {sshd.host_key_line}" for h in hosts)
    assert proc.stdout.count("SSH: added the host key of") == 20
    again = run_tasker(tmp_path, text, config=config)  # known now: no option needed
    clean(again)
    assert again.returncode == 0


def test_strict_host_key_checking_no_is_accept_new_with_one_warning(tmp_path: Path,
                                                                     sshd) -> None:
    config = sshd.client(tmp_path, "Host *\n    StrictHostKeyChecking no\n", known="")
    text = ssh_task(0, "127.0.0.2", "true") + ssh_task(1, "127.0.0.3", "true")
    proc = run_tasker(tmp_path, text, config=config)
    clean(proc)
    assert proc.returncode == 0
    assert proc.stdout.count("StrictHostKeyChecking no: tasker treats it as accept-new") == 1
    assert len((tmp_path / ".ssh" / "known_hosts").read_text().splitlines()) == 2


def test_a_changed_host_key_is_always_refused(tmp_path: Path, sshd) -> None:
    other = _keypair(tmp_path, "impostor")
    old_line = f"[127.0.0.2]:{sshd.port} " + " ".join(
        other.with_suffix(".pub").read_text().split()[:2])
    config = sshd.client(tmp_path, known=old_line + "\n")
    proc = run_tasker(tmp_path, ssh_task(0, "127.0.0.2", "true"), "--ssh-accept-new",
                      config=config)
    line = only_failure(tmp_path, proc)
    known = tmp_path / ".ssh" / "known_hosts"
    assert "HOST KEY CHANGED" in line
    assert re.search(rf"{re.escape(str(known))}:1 holds ssh-ed25519 SHA256:\S+ for "
                     rf"\[127\.0\.0\.2\]:{sshd.port}, the host now presents ssh-ed25519 "
                     r"SHA256:\S+;", line)
    assert f"ssh-keygen -R '[127.0.0.2]:{sshd.port}' -f {known}" in line
    assert known.read_text() == old_line + "\n"


# -- secrets, host specs, configuration --------------------------------------------------

def test_secrets_are_masked_in_connection_errors(tmp_path: Path, sshd) -> None:
    port = _free_port()
    text = ("DB_PASSWORD=hunter2secret\n\n"
            + ssh_task(0, f"hunter2secret@127.0.0.2:{port}", "true", extra="on_failure=1")
            + ssh_task(1, "@DB_PASSWORD@@127.0.0.3", "true"))
    proc = run_tasker(tmp_path, text, "--log-level", "DEBUG", sshd=sshd)
    clean(proc, debug=True)  # (paramiko's lines are in the log at DEBUG, masked too)
    assert proc.returncode == 255
    assert "****@127.0.0.2" in results(tmp_path)["0"]["stderr"] or \
        "****@127.0.0.2" in report(tmp_path)["task_results"]["0"]["stderr"]
    everything = proc.stdout + proc.stderr + log_text(tmp_path) + (tmp_path / "r.json").read_text()
    assert "hunter2secret" not in everything
    assert "authentication failed for user ****" in everything


def test_a_bad_host_is_a_sentence(tmp_path: Path, sshd) -> None:
    proc = run_tasker(tmp_path, ssh_task(0, "127.0.0.2:99999", "true"), sshd=sshd,
                      timeout=60)
    line = only_failure(tmp_path, proc)
    assert line.startswith("ssh: '127.0.0.2:99999' is not a valid host: the port '99999' is "
                           "not a number from 1 to 65535")


def test_proxy_command_is_refused_with_a_sentence(tmp_path: Path, sshd) -> None:
    config = sshd.client(tmp_path, "Host 127.0.0.2\n    ProxyCommand nc %h %p\n")
    line = only_failure(tmp_path, run_tasker(tmp_path, ssh_task(0, "127.0.0.2", "true"),
                                             config=config))
    assert "ProxyCommand, which tasker does not run; use ProxyJump instead" in line


def test_a_jump_host_that_refuses(tmp_path: Path, sshd) -> None:
    port = _free_port()
    config = sshd.client(tmp_path, f"Host inner\n    HostName 127.0.0.61\n"
                                   f"    ProxyJump 127.0.0.62:{port}\n")
    line = only_failure(tmp_path, run_tasker(tmp_path, ssh_task(0, "inner", "true"),
                                             config=config))
    assert line == (f"ssh: {sshd.user}@inner (127.0.0.61) port {sshd.port} via "
                    f"127.0.0.62:{port}: cannot reach the jump host: {sshd.user}@127.0.0.62 "
                    f"port {port}: connection refused (no SSH server listens on that port; "
                    "is the port right?)")


def test_a_missing_ssh_config_file(tmp_path: Path, sshd) -> None:
    line = only_failure(tmp_path, run_tasker(tmp_path, ssh_task(0, "127.0.0.2", "true"),
                                             config=tmp_path / "nope"))
    assert line == f"ssh: cannot read --ssh-config {tmp_path / 'nope'}: no such file"
