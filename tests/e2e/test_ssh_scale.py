"""End to end: exec=ssh at scale (issue 15, section 3), against the real sshd fixture.

A fan-out over many hosts keeps its open connections within --ssh-max-transports at
every moment (counted from tasker's own descriptors while it runs), and a host that
accepts the TCP connection but never says a word of SSH costs its own sub-task the
connect timeout, not the other hosts of the block.

Both run against a second sshd of the fixture's keys where the remote bash skips the
user's ~/.bashrc (`SetEnv SHLVL=1`: bash reads it when sshd started it and SHLVL says it
is the first shell). What such a file does (here, on a developer's machine, `pyenv init`:
tenths of a second per command, more when many run at once) is the remote host's cost,
not what these tests are about, and it would make their timing depend on it.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Dict, Iterator, List, Set, Tuple

import pytest
from conftest import Sshd
from test_ssh import ROOT, clean, results, run_tasker, script

# Distinct loopback addresses, apart from those the other SSH tests use.
FAN_OUT = [f"127.0.{3 + n // 250}.{1 + n % 250}" for n in range(200)]


@pytest.fixture(scope="module")
def quiet_sshd(sshd: Sshd) -> Iterator[Sshd]:
    """The fixture's server again, with remote commands that skip ~/.bashrc."""
    server = sshd.spawn("SetEnv SHLVL=1")
    yield server
    server.stop()


def socket_inodes(pid: int) -> Set[str]:
    """The inodes of the sockets process `pid` has open now (empty once it is gone)."""
    found = set()
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return found
    for name in names:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            found.add(target[8:-1])
    return found


def connections_to(port: int, inodes: Set[str]) -> int:
    """How many of the sockets `inodes` are TCP connections to `port` (/proc/net/tcp).

    Counted by inode: a table read while connections come and go can show one twice.
    """
    found = set()
    with open("/proc/net/tcp") as table:
        next(table)
        for line in table:
            fields = line.split()
            if int(fields[2].rsplit(":", 1)[1], 16) == port and fields[9] in inodes:
                found.add(fields[9])
    return len(found)


def peak_connections(argv: List[str], env: Dict[str, str],
                     port: int) -> Tuple[subprocess.CompletedProcess, int, int]:
    """Run argv; (its CompletedProcess-like result, the most connections to `port` it held
    at once, how many times it was looked at)."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, stdin=subprocess.DEVNULL)
    peak, looks, done = [0], [0], threading.Event()

    def watch() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], connections_to(port, socket_inodes(proc.pid)))
            looks[0] += 1

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        done.set()
        watcher.join()
    return subprocess.CompletedProcess(argv, proc.returncode, out, err), peak[0], looks[0]


def test_a_fan_out_keeps_its_connections_within_max_transports(tmp_path: Path,
                                                               quiet_sshd: Sshd) -> None:
    """200 hosts at max_parallel=40 with --ssh-max-transports 20: every host succeeds, and
    tasker never holds more than 20 connections to sshd (idle ones are closed for new
    ones, and a new one waits while all 20 are busy)."""
    server = quiet_sshd
    known = "".join(f"[{a}]:{server.port} {server.host_key_line}\n" for a in FAN_OUT)
    config = server.client(tmp_path, known=known)
    tasks = tmp_path / "tasks.txt"
    tasks.write_text(f"task=0\ntype=parallel\nhostnames={','.join(FAN_OUT)}\nexec=ssh\n"
                     "command=true\nmax_parallel=40\n")
    env = {k: v for k, v in os.environ.items() if k != "SSH_AUTH_SOCK"}
    env.update(HOME=str(tmp_path), NO_COLOR="1")
    argv = [sys.executable, str(ROOT / "tasker.py"), str(tasks), "-r", "--skip-host-validation",
            "--ssh-config", str(config), "--ssh-max-transports", "20",
            "--output-json", str(tmp_path / "r.json"), "-l", str(tmp_path / "logs")]
    proc, peak, looks = peak_connections(argv, env, server.port)
    clean(proc)
    assert proc.returncode == 0, proc.stdout[-3000:]
    subs = {tid: r for tid, r in results(tmp_path).items() if tid != "0"}
    assert len(subs) == len(FAN_OUT)
    assert all(r["exit_code"] == 0 for r in subs.values())
    assert sorted(r["hostname"] for r in subs.values()) == sorted(FAN_OUT)
    assert looks > 10 and 0 < peak <= 20, (peak, looks)


class SilentListener:
    """A TCP port that accepts connections and never answers (no SSH banner).

    It creates `accepted` when a client connects, and `released` once that client
    has closed the connection (given up).
    """

    def __init__(self, directory: Path) -> None:
        self.accepted = directory / "accepted"
        self.released = directory / "released"
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(8)
        self.port = self.server.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self.server.accept()
        except OSError:
            return  # closed before anyone came
        self.accepted.touch()
        with conn:
            while conn.recv(4096):  # the client's banner, then nothing until it gives up
                pass
        self.released.touch()

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def silent(tmp_path: Path) -> Iterator[SilentListener]:
    listener = SilentListener(tmp_path)
    yield listener
    listener.close()


def test_a_host_that_never_answers_costs_its_own_slot_not_the_run(
        tmp_path: Path, quiet_sshd: Sshd, silent: SilentListener) -> None:
    """The silent host fails after --ssh-connect-timeout 1 with 255 and one line; the other
    hosts of the block ran (and succeeded) while it was still waiting for its banner."""
    others = [f"127.0.0.{n}" for n in range(90, 100)]
    body = (f'n=0; while [ ! -e "{silent.accepted}" ] && [ $n -lt 400 ]; do '
            'sleep 0.05; n=$((n+1)); done\n'
            f'if [ -e "{silent.released}" ]; then echo after; else echo during; fi\n')
    path = script(tmp_path, "during.sh", body)
    hosts = [f"127.0.0.1:{silent.port}"] + others
    text = (f"task=0\ntype=parallel\nhostnames={','.join(hosts)}\nexec=ssh\n"
            f"command={path}\nmax_parallel={len(hosts)}\n")
    proc = run_tasker(tmp_path, text, "--ssh-connect-timeout", "1", sshd=quiet_sshd)
    clean(proc)
    assert proc.returncode == 10, proc.stdout[-3000:]  # the block failed (not all_success)
    subs = {r["hostname"]: r for tid, r in results(tmp_path).items() if tid != "0"}
    hung = subs.pop(hosts[0])
    assert hung["exit_code"] == 255
    assert re.fullmatch(rf"ssh: {quiet_sshd.user}@127\.0\.0\.1 port {silent.port}: no answer "
                        r"to the SSH handshake within 1 s \(--ssh-connect-timeout, "
                        r"ConnectTimeout in ssh_config\)", hung["stderr"]), hung["stderr"]
    assert hung["duration_seconds"] >= 1.0
    assert sorted(subs) == sorted(others)
    assert {(r["exit_code"], r["stdout"]) for r in subs.values()} == {(0, "during")}
    assert silent.released.exists()  # tasker gave the connection up
