"""End to end: exec=ssh against a real OpenSSH sshd (the `sshd` fixture, tests/conftest.py).

tasker runs as a subprocess with `-r --skip-host-validation` (host validation of ssh
hosts is not part of these tests), HOME in the test's temp dir and no ssh-agent unless
a test starts one. The remote commands run on this machine, so a test can hand them
scripts and read what they leave behind.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional

ROOT = Path(__file__).resolve().parents[2]


def run_tasker(tmp: Path, text: str, *args: object, config: Optional[Path] = None,
               env: Optional[Dict[str, str]] = None, sshd=None,
               **kw) -> subprocess.CompletedProcess:
    """Run tasker -r on `text` with the test's ssh_config (`config`, else the sshd's)."""
    tasks = tmp / "tasks.txt"
    tasks.write_text(text)
    if config is None:
        config = sshd.client(tmp)
    environ = {k: v for k, v in os.environ.items() if k != "SSH_AUTH_SOCK"}
    environ.update(HOME=str(tmp), NO_COLOR="1", **(env or {}))
    argv = [sys.executable, str(ROOT / "tasker.py"), str(tasks), "-r", "--skip-host-validation",
            "--ssh-config", str(config), "--output-json", str(tmp / "r.json"),
            "-l", str(tmp / "logs"), *map(str, args)]
    return subprocess.run(argv, capture_output=True, text=True, env=environ, cwd=tmp,
                          timeout=kw.pop("timeout", 120), stdin=subprocess.DEVNULL, **kw)


def report(tmp: Path) -> dict:
    return json.loads((tmp / "r.json").read_text())


def results(tmp: Path) -> Dict[str, dict]:
    return report(tmp)["task_results"]


def log_text(tmp: Path) -> str:
    return "".join(p.read_text() for p in (tmp / "logs" / "log").glob("*.log"))


def clean(proc: subprocess.CompletedProcess, debug: bool = False) -> None:
    """No traceback; no paramiko line on the console unless --log-level DEBUG."""
    text = proc.stdout + proc.stderr
    assert "Traceback" not in text, text
    assert ("paramiko" in text.lower()) == debug, text


def ssh_task(tid: int, host: str, command: str, arguments: str = "", extra: str = "") -> str:
    lines = [f"task={tid}", f"hostname={host}", "exec=ssh", f"command={command}"]
    if arguments:
        lines.append(f"arguments={arguments}")
    if extra:
        lines.append(extra)
    return "\n".join(lines) + "\n\n"


def script(tmp: Path, name: str, body: str) -> Path:
    """An executable sh script the remote side (this machine) runs."""
    path = tmp / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


CONNECTION = "#!/bin/sh\necho \"$SSH_CONNECTION\"\n"


def connection_of(stdout: str) -> List[str]:
    """SSH_CONNECTION's fields: client address, client port, server address, server port."""
    return stdout.split()


# -- success, words, exit codes -----------------------------------------------------------

def test_words_outputs_and_exit_codes(tmp_path: Path, sshd) -> None:
    text = (ssh_task(0, "127.0.0.2", "printf", "'[%s]\\n' 'two words' \"it's\" a\\ b '$x;y'")
            + ssh_task(1, "127.0.0.2", "sh", "-c 'echo out; echo err >&2; exit 3'",
                       "on_failure=2")
            + ssh_task(2, "127.0.0.2", "no-such-program-here", "", "on_failure=3")
            + ssh_task(3, "127.0.0.3", "sh", "-c 'kill -9 $$'", "on_failure=4")
            + ssh_task(4, "127.0.0.3", "true"))
    proc = run_tasker(tmp_path, text, sshd=sshd)
    clean(proc)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    res = results(tmp_path)
    assert res["0"]["stdout"] == "[two words]\n[it's]\n[a b]\n[$x;y]"
    assert (res["1"]["exit_code"], res["1"]["stdout"], res["1"]["stderr"]) == (3, "out", "err")
    assert res["2"]["exit_code"] == 127 and "no-such-program-here" in res["2"]["stderr"]
    assert "tasker-pgid" not in res["2"]["stderr"]
    assert res["3"]["exit_code"] == 137
    assert res["4"]["exit_code"] == 0 and res["4"]["stderr"] == ""
    assert res["0"]["command"] == "ssh 127.0.0.2 printf '[%s]\\n' 'two words' 'it'\"'\"'s' " \
        "'a b' '$x;y'"
    assert "Task 0: Executing [ssh]: ssh 127.0.0.2 printf" in proc.stdout
    assert "Task 2: FATAL" not in proc.stdout


def test_a_missing_remote_program_does_not_stop_the_run(tmp_path: Path, sshd) -> None:
    """Exit 127 is an ordinary failure: unrouted, the run ends with 127 (not 20)."""
    proc = run_tasker(tmp_path, ssh_task(0, "127.0.0.2", "no-such-program-here"), sshd=sshd)
    clean(proc)
    assert proc.returncode == 127
    assert report(tmp_path)["task_results"]["0"]["exit_code"] == 127


def test_large_outputs_spill_like_local_ones(tmp_path: Path, sshd) -> None:
    text = (ssh_task(0, "127.0.0.2", "sh",
                     "-c 'head -c 3000000 /dev/zero | tr \"\\000\" x; "
                     "head -c 1500000 /dev/zero | tr \"\\000\" y >&2'")
            + "task=1\nhostname=localhost\nexec=local\ncommand=wc\n"
              "arguments=-c @0_stdout_file@ @0_stderr_file@\n")
    proc = run_tasker(tmp_path, text, sshd=sshd)
    clean(proc)
    assert proc.returncode == 0, proc.stdout[-3000:]
    res = results(tmp_path)
    counts = [line.split()[0] for line in res["1"]["stdout"].splitlines()]
    assert counts[:2] == ["3000000", "1500000"]
    assert res["0"]["stdout"] == "x" * 102400 and res["0"]["stderr"] == "y" * 102400
    assert "(3000000 chars total)" in proc.stdout


def test_stdin_of_a_remote_command_is_empty(tmp_path: Path, sshd) -> None:
    proc = run_tasker(tmp_path, ssh_task(0, "127.0.0.2", "wc", "-c"), sshd=sshd, timeout=60)
    clean(proc)
    assert proc.returncode == 0
    assert results(tmp_path)["0"]["stdout"].strip() == "0"


# -- connections: sharing, fan-out, aliases, jump hosts --------------------------------------

def test_more_than_eight_tasks_at_once_on_one_host_open_a_second_connection(
        tmp_path: Path, sshd) -> None:
    """Twelve sub-tasks that each wait until all twelve are running: they run at once,
    on at least two connections (at most 8 sessions each)."""
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    body = (f'touch "{barrier}/$1"; n=0\n'
            f'while [ "$(ls "{barrier}" | wc -l)" -lt 12 ] && [ $n -lt 600 ]; do '
            'sleep 0.05; n=$((n+1)); done\n'
            'echo "$SSH_CONNECTION"; [ $n -lt 600 ]\n')
    path = script(tmp_path, "barrier.sh", body)
    subs = "".join(ssh_task(10 + i, "127.0.0.4", str(path), str(i)) for i in range(12))
    text = ("task=0\ntype=parallel\nmax_parallel=12\n"
            f"tasks={','.join(str(10 + i) for i in range(12))}\nnext=all_success\n\n" + subs)
    proc = run_tasker(tmp_path, text, sshd=sshd)
    clean(proc)
    assert proc.returncode == 0, proc.stdout[-3000:]
    res = results(tmp_path)
    ports = {connection_of(res[str(10 + i)]["stdout"])[1] for i in range(12)}
    assert len(ports) >= 2


def test_fan_out_over_fifty_addresses(tmp_path: Path, sshd) -> None:
    path = script(tmp_path, "where.sh", CONNECTION)
    hosts = [f"127.0.0.{n}" for n in range(2, 52)]
    text = (f"task=0\ntype=parallel\nhostnames={','.join(hosts)}\nexec=ssh\n"
            f"command={path}\nmax_parallel=50\n")
    proc = run_tasker(tmp_path, text, sshd=sshd)
    clean(proc)
    assert proc.returncode == 0, proc.stdout[-3000:]
    subs = {tid: r for tid, r in results(tmp_path).items() if tid != "0"}
    assert len(subs) == 50
    assert sorted(connection_of(r["stdout"])[2] for r in subs.values()) == sorted(hosts)
    assert all(r["hostname"] == connection_of(r["stdout"])[2] for r in subs.values())


def test_ssh_config_aliases_user_port_and_proxy_jump(tmp_path: Path, sshd) -> None:
    path = script(tmp_path, "where.sh", 'echo "$SSH_CONNECTION $(id -un)"\n')
    extra = ("Host web\n    HostName 127.0.0.60\n\nHost inner\n    HostName 127.0.0.61\n"
             "    ProxyJump jump\n\nHost jump\n    HostName 127.0.0.62\n"
             "Host 127.0.0.63\n    Port 1\n")
    config = sshd.client(tmp_path, extra)
    text = (ssh_task(0, "web", str(path)) + ssh_task(1, "inner", str(path))
            + ssh_task(2, f"{sshd.user}@127.0.0.63:{sshd.port}", str(path)))
    before = sshd.log.read_text()
    proc = run_tasker(tmp_path, text, config=config)
    clean(proc)
    assert proc.returncode == 0, proc.stdout[-3000:]
    res = results(tmp_path)
    assert connection_of(res["0"]["stdout"])[2:] == ["127.0.0.60", str(sshd.port), sshd.user]
    assert connection_of(res["1"]["stdout"])[2] == "127.0.0.61"
    assert connection_of(res["2"]["stdout"])[2] == "127.0.0.63"
    tunnelled = sshd.log.read_text()[len(before):]
    assert f"target 127.0.0.61 port {sshd.port}" in tunnelled
    assert "target 127.0.0.60" not in tunnelled
    assert res["1"]["hostname"] == "inner"


def test_the_user_s_own_ssh_config_is_read_without_the_option(tmp_path: Path, sshd) -> None:
    sshd.client(tmp_path, "Host myalias\n    HostName 127.0.0.64\n")
    path = script(tmp_path, "where.sh", CONNECTION)
    tasks = tmp_path / "tasks.txt"
    tasks.write_text(ssh_task(0, "myalias", str(path)))
    environ = {k: v for k, v in os.environ.items() if k != "SSH_AUTH_SOCK"}
    environ.update(HOME=str(tmp_path), NO_COLOR="1")
    proc = subprocess.run([sys.executable, str(ROOT / "tasker.py"), str(tasks), "-r",
                           "--skip-host-validation", "-l", str(tmp_path / "logs")],
                          capture_output=True, text=True, env=environ, timeout=60,
                          stdin=subprocess.DEVNULL)
    clean(proc)
    assert proc.returncode == 0, proc.stdout
    assert re.search(r"STDOUT: 127\.0\.0\.1 \d+ 127\.0\.0\.64 ", proc.stdout)
