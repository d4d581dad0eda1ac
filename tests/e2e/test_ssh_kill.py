"""End to end: remote commands die with their timeout and with a stop signal, a killed sshd
is a clear exit 255, and a lost connection is opened again for the next task.

Each remote command starts a member of its process group that ignores SIGTERM and holds
no stream (`sh -c 'trap "" TERM; exec sleep A' >/dev/null 2>&1 &`), and then `sleep B`;
only a SIGKILL to the remote group ends both. Each test uses its own numbers A and B.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import List

from test_ssh import ROOT, clean, connection_of, results, run_tasker, script, ssh_task

CONNECTION = "#!/bin/sh\necho \"$SSH_CONNECTION\"\n"
# The sleep numbers of this test run: distinct from those of another run of the suite on the
# same machine (the sleepers are counted machine-wide), and from test to test (A = N + 1 ...).
RUN = 100_000 + 10 * (os.getpid() % 100_000)


def sleepers(*numbers: int) -> List[int]:
    """PIDs of live processes whose command line is exactly `sleep N`, N in numbers."""
    wanted = {f"sleep\0{n}\0".encode() for n in numbers}
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if Path(f"/proc/{entry}/cmdline").read_bytes() in wanted:  # (a zombie's: b"")
                    found.append(int(entry))
            except OSError:
                pass
    return found


def gone(*numbers: int) -> bool:
    """Whether every `sleep N` has ended (a moment is allowed for the kernel)."""
    end = time.monotonic() + 10
    while sleepers(*numbers) and time.monotonic() < end:
        time.sleep(0.05)
    return not sleepers(*numbers)


def group_script(tmp: Path, inner: int, outer: int, started: Path) -> Path:
    return script(tmp, f"group_{inner}.sh",
                  f"sh -c 'trap \"\" TERM; exec sleep {inner}' </dev/null >/dev/null 2>&1 &\n"
                  f"touch {started}\nexec sleep {outer}\n")


def wait_for(path: Path) -> None:
    end = time.monotonic() + 30
    while not path.exists():
        assert time.monotonic() < end, f"{path} never appeared"
        time.sleep(0.02)


def start_tasker(tmp: Path, text: str, config: Path) -> subprocess.Popen:
    tasks = tmp / "tasks.txt"
    tasks.write_text(text)
    environ = {k: v for k, v in os.environ.items() if k != "SSH_AUTH_SOCK"}
    environ.update(HOME=str(tmp), NO_COLOR="1")
    return subprocess.Popen(
        [sys.executable, str(ROOT / "tasker.py"), str(tasks), "-r", "--skip-host-validation",
         "--ssh-config", str(config), "--output-json", str(tmp / "r.json"),
         "-l", str(tmp / "logs")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environ,
        stdin=subprocess.DEVNULL)


def test_a_timeout_kills_the_remote_group(tmp_path: Path, sshd) -> None:
    path = group_script(tmp_path, RUN + 1, RUN + 2, tmp_path / "started")
    proc = run_tasker(tmp_path, ssh_task(0, "127.0.0.2", str(path), extra="timeout=5"),
                      sshd=sshd)
    clean(proc)
    assert proc.returncode == 124
    assert results(tmp_path)["0"]["stderr"].endswith("Process killed after timeout of 5 seconds")
    assert gone(RUN + 1, RUN + 2)


def test_sigterm_stops_the_remote_group_term_then_kill(tmp_path: Path, sshd) -> None:
    started = tmp_path / "started"
    path = group_script(tmp_path, RUN + 3, RUN + 4, started)
    proc = start_tasker(tmp_path, ssh_task(0, "127.0.0.2", str(path)), sshd.client(tmp_path))
    try:
        wait_for(started)
        assert len(sleepers(RUN + 3, RUN + 4)) == 2
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 143, out + err
        assert "Traceback" not in out + err
        assert gone(RUN + 3, RUN + 4)
    finally:
        proc.kill()
        for pid in sleepers(RUN + 3, RUN + 4):  # (left behind only when the test failed)
            os.kill(pid, signal.SIGKILL)


def test_a_killed_sshd_ends_the_task_with_255_and_a_clear_line(tmp_path: Path, sshd) -> None:
    server = sshd.spawn()
    started = tmp_path / "started"
    path = group_script(tmp_path, RUN + 5, RUN + 6, started)
    proc = start_tasker(tmp_path, ssh_task(0, "127.0.0.2", str(path)), server.client(tmp_path))
    try:
        wait_for(started)
        sshds = [server.proc.pid] + [pid for pid in server.descendants()
                                      if Path(f"/proc/{pid}/comm").read_text().strip() == "sshd"]
        for pid in sshds:  # the server and its connections, not the command
            os.kill(pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        for pid in sleepers(RUN + 5, RUN + 6):  # (orphans of the dead server)
            os.kill(pid, signal.SIGKILL)
        server.stop()
    assert proc.returncode == 255, out + err
    assert "Traceback" not in out + err
    assert results(tmp_path)["0"]["stderr"] == (
        f"ssh: {sshd.user}@127.0.0.2 port {server.port}: the connection was lost while the "
        "command ran")


def test_a_lost_connection_is_opened_again_for_the_next_task(tmp_path: Path, sshd) -> None:
    server = sshd.spawn()
    try:
        where = script(tmp_path, "where.sh", CONNECTION)
        children = f"/proc/{server.proc.pid}/task/{server.proc.pid}/children"
        text = (ssh_task(0, "127.0.0.2", str(where))
                + f"task=1\nhostname=localhost\nexec=local\ncommand=sh\n"
                  f"arguments=-c 'kill -9 $(cat {children})'\n\n"
                + ssh_task(2, "127.0.0.2", str(where)))
        proc = run_tasker(tmp_path, text, config=server.client(tmp_path))
    finally:
        server.stop()
    clean(proc)
    assert proc.returncode == 0, proc.stdout[-3000:]
    res = results(tmp_path)
    assert connection_of(res["0"]["stdout"])[1] != connection_of(res["2"]["stdout"])[1]
