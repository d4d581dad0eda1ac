#!/usr/bin/env python3
"""SSH benchmark: exec=ssh against OpenSSH's own client, on one host and on many.

It starts its own sshd on this machine (throw-away host and user keys in a temp dir,
listening on 0.0.0.0 so that 127.0.0.2, 127.0.0.3, ... are distinct hosts) and times,
best of R runs each, the two sides in turns so that a busy moment hits both:

(1) sequential: N tasks `command=true` on one host, one after the other, against
    (a) `ssh HOST true` run N times (same key, BatchMode=yes, a new connection each) and
    (b) the same over ControlMaster (one connection: the practical floor).
    Targets: tasker / (a) <= 0.33 (3x faster), tasker / (b) <= 1.2.
(2) fan-out: one `hostnames=` block over H addresses (100 at max_parallel=32, 1000 at
    max_parallel=100) against `xargs -P 32` running `ssh ADDRESS true` once per address.
    Target: tasker / xargs <= 1.0. tasker's peak RSS (os.wait4) and peak number of open
    file descriptors (/proc/PID/fd, sampled while it runs) are printed beside; over
    1000 hosts the RSS target is 400 MiB.

A `cpu:` line follows each part: the CPU seconds of each side and of the whole machine
meanwhile (sshd and the remote commands). By default the remote bash skips the user's
~/.bashrc (sshd's `SetEnv SHLVL=1`), whose cost is the remote host's, not a client's;
--keep-rc keeps it. tasker runs as `tasker.py FILE -r --skip-host-validation
--no-task-backup`, the whole process timed. It never asserts: a benchmark reports, the
reader judges. See bench/README.md.

    python bench/bench_ssh.py [--repeat R] [--tasks N] [--hosts H ...] [--max-parallel P]
                              [--parts sequential fan-out] [--keep-rc]
"""

from __future__ import annotations

import argparse
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

REPO = Path(__file__).resolve().parents[1]
SSHD = "/usr/sbin/sshd"
XARGS_PARALLEL = 32


class Server:
    """A throw-away sshd on a free port and the client files both sides use."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.user = pwd.getpwuid(os.getuid()).pw_name
        self.port = 0
        self.proc: Optional[subprocess.Popen] = None
        self.host_key = keypair(directory, "host_ed25519")
        self.user_key = keypair(directory, "user_ed25519")
        (directory / "authorized_keys").write_text(self.user_key.with_suffix(".pub").read_text())
        self.ssh_config = directory / "ssh_config"
        self.known_hosts = directory / "known_hosts"

    def start(self, skip_rc: bool) -> None:
        """Start sshd; exits with its log when it does not come up."""
        if os.geteuid() == 0:
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # privilege separation
        log = self.dir / "sshd.log"
        for _ in range(5):
            self.port = free_port()
            config = self.dir / "sshd_config"
            config.write_text(self.sshd_config(skip_rc))
            self.proc = subprocess.Popen([SSHD, "-D", "-E", str(log), "-f", str(config)],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
            if listening(self.port, self.proc):
                return
            self.stop()
        sys.exit(f"sshd did not start: {log.read_text()[-2000:] if log.exists() else ''}")

    def sshd_config(self, skip_rc: bool) -> str:
        """Room for every connection the benchmark makes at once; little logging.

        With `skip_rc`, a remote bash does not read ~/.bashrc: bash reads it when sshd
        started it (SSH_CLIENT is set) and SHLVL says it is the first shell.
        """
        return "\n".join((
            f"ListenAddress 0.0.0.0:{self.port}", f"HostKey {self.host_key}",
            f"AuthorizedKeysFile {self.dir}/authorized_keys", "PidFile none",
            "StrictModes no", "UsePAM no", "PermitRootLogin prohibit-password",
            "PasswordAuthentication no", "KbdInteractiveAuthentication no",
            "MaxStartups 4000", "MaxSessions 10", "UseDNS no", "PrintMotd no",
            "AllowUsers *@127.0.0.0/8", "LogLevel ERROR", "SetEnv SHLVL=1" if skip_rc else "",
            ""))

    def write_client(self, addresses: Sequence[str]) -> None:
        """ssh_config (Port, User, key, known_hosts) and a known_hosts for `addresses`."""
        key = " ".join(self.host_key.with_suffix(".pub").read_text().split()[:2])
        self.known_hosts.write_text("".join(f"[{a}]:{self.port} {key}\n" for a in addresses))
        self.ssh_config.write_text(
            f"Host *\n    Port {self.port}\n    User {self.user}\n"
            f"    IdentityFile {self.user_key}\n    IdentitiesOnly yes\n"
            f"    UserKnownHostsFile {self.known_hosts}\n    GlobalKnownHostsFile /dev/null\n"
            "    StrictHostKeyChecking yes\n    BatchMode yes\n    LogLevel ERROR\n")

    def stop(self) -> None:
        """Stop sshd (its connections end with their clients)."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


def keypair(directory: Path, name: str) -> Path:
    """A new ed25519 key without passphrase (ssh-keygen); the private key's path."""
    path = directory / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bench", "-f",
                    str(path)], check=True, stdin=subprocess.DEVNULL)
    return path


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("0.0.0.0", 0))
        return probe.getsockname()[1]


def listening(port: int, proc: subprocess.Popen) -> bool:
    """Whether sshd answers with its banner within 10 s."""
    end = time.monotonic() + 10
    while time.monotonic() < end and proc.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                if conn.recv(4) == b"SSH-":
                    return True
        except OSError:
            time.sleep(0.05)
    return False


def loopback_addresses(count: int) -> List[str]:
    """`count` distinct loopback addresses from 127.0.0.2 (no .0 or .255 last byte)."""
    found: List[str] = []
    number = 2
    while len(found) < count:
        if number % 256 not in (0, 255):
            found.append(f"127.0.{number // 256}.{number % 256}")
        number += 1
    return found


# -- running and measuring -------------------------------------------------------------------

class Sample:
    """One measured process: wall time, peak RSS (KiB), peak open descriptors, CPU seconds
    of the process (with the children it waited for: ssh under xargs) and of the whole
    machine meanwhile (sshd and the remote commands included)."""

    def __init__(self, seconds: float, rss_kib: int, fds: int, cpu: float,
                 machine_cpu: float) -> None:
        self.seconds, self.rss_kib, self.fds = seconds, rss_kib, fds
        self.cpu, self.machine_cpu = cpu, machine_cpu


def machine_busy() -> float:
    """CPU seconds the machine has spent busy since boot (every CPU; /proc/stat)."""
    with open("/proc/stat") as stat:
        ticks = [int(n) for n in stat.readline().split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # not idle, iowait


def count_fds(pid: int) -> int:
    """Open file descriptors of `pid` now (0 once it is gone)."""
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def run(argv: Sequence[str], env: Dict[str, str], scratch: Path,
        stdin: Optional[bytes] = None) -> Sample:
    """Run argv to its end, sampling its open descriptors; exits when it fails."""
    errors_path = scratch / "stderr.txt"
    with open(errors_path, "wb") as errors:
        busy = machine_busy()
        start = time.perf_counter()
        proc = subprocess.Popen(list(argv), cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                                stderr=errors, stdin=subprocess.PIPE if stdin else
                                subprocess.DEVNULL)
        done = threading.Event()
        peak = [0]
        watcher = threading.Thread(target=_watch_fds, args=(proc.pid, done, peak), daemon=True)
        watcher.start()
        if stdin:
            assert proc.stdin is not None
            proc.stdin.write(stdin)
            proc.stdin.close()
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        busy = machine_busy() - busy
        proc.returncode = os.waitstatus_to_exitcode(status)
        done.set()
        watcher.join()
    if proc.returncode != 0:
        sys.stderr.write(errors_path.read_text(errors="replace")[-4000:])
        sys.exit(f"benchmark command failed with exit code {proc.returncode}: "
                 f"{' '.join(argv)[:300]}")
    return Sample(elapsed, usage.ru_maxrss, peak[0], usage.ru_utime + usage.ru_stime, busy)


def _watch_fds(pid: int, done: threading.Event, peak: List[int]) -> None:
    """Keep the highest number of open descriptors of `pid` in peak[0] until `done`."""
    while not done.wait(0.01):
        peak[0] = max(peak[0], count_fds(pid))


class Bench:
    """The server, the client files and the command lines of both sides."""

    def __init__(self, tmp: Path, server: Server) -> None:
        self.tmp = tmp
        self.server = server
        home = tmp / "home"
        home.mkdir()
        # No agent and a home of our own: both clients log in with the throw-away key only.
        self.env = {k: v for k, v in os.environ.items() if k != "SSH_AUTH_SOCK"}
        self.env.update(HOME=str(home), NO_COLOR="1")

    def tasker(self, task_file: Path) -> List[str]:
        """A real run of `task_file` (no host pre-flight, as issue 15 sets the benchmark)."""
        return [sys.executable, str(REPO / "tasker.py"), str(task_file), "-r",
                "--skip-host-validation", "--no-task-backup", "-l", str(self.tmp / "logs"),
                "--ssh-config", str(self.server.ssh_config)]

    def ssh(self, *options: str) -> List[str]:
        """OpenSSH's client with the benchmark's ssh_config (BatchMode=yes in it)."""
        return ["ssh", "-F", str(self.server.ssh_config), *options]

    def measure(self, argv: Sequence[str], stdin: Optional[bytes] = None) -> Sample:
        """One run of argv."""
        return run(argv, self.env, self.tmp, stdin)


def best(samples: List[Sample]) -> Sample:
    """The fastest run; RSS and descriptors are the highest seen over all runs."""
    fastest = min(samples, key=lambda s: s.seconds)
    return Sample(fastest.seconds, max(s.rss_kib for s in samples),
                  max(s.fds for s in samples), fastest.cpu, fastest.machine_cpu)


def cpu_line(sides: Dict[str, Sample]) -> str:
    """The CPU seconds of each side's fastest run, own and the machine's."""
    return "  cpu: " + "; ".join(f"{name} {s.cpu:.1f} s (machine {s.machine_cpu:.1f} s)"
                                  for name, s in sides.items())


def sequential(bench: Bench, tasks: int, repeat: int) -> None:
    """Part (1): N tasks on one host against ssh per task and ssh over ControlMaster."""
    host = "127.0.0.2"
    task_file = bench.tmp / "sequential.txt"
    task_file.write_text("".join(f"task={n}\nhostname={host}\nexec=ssh\ncommand=true\n\n"
                                 for n in range(tasks)))
    control = ["-o", "ControlMaster=auto", "-o", f"ControlPath={bench.tmp}/cm-%C",
               "-o", "ControlPersist=60"]
    loop = "i=0; while [ $i -lt {n} ]; do {ssh} || exit 1; i=$((i+1)); done"
    plain = ["sh", "-c", loop.format(n=tasks, ssh=shlex.join(bench.ssh(host, "true")))]
    muxed = ["sh", "-c", loop.format(n=tasks, ssh=shlex.join(bench.ssh(*control, host, "true")))]
    stop_master = bench.ssh(*control, "-O", "exit", host)
    runs: Dict[str, List[Sample]] = {"tasker": [], "ssh": [], "mux": []}
    for _ in range(repeat):
        runs["tasker"].append(bench.measure(bench.tasker(task_file)))
        runs["ssh"].append(bench.measure(plain))
        runs["mux"].append(bench.measure(muxed))
        subprocess.run(stop_master, env=bench.env, capture_output=True)
    ours, ssh, mux = (best(runs[k]) for k in ("tasker", "ssh", "mux"))
    print(f"ssh sequential {tasks} x true on one host: tasker {ours.seconds:.2f} s, "
          f"ssh per task {ssh.seconds:.2f} s, ssh over ControlMaster {mux.seconds:.2f} s; "
          f"ratio to ssh {ours.seconds / ssh.seconds:.2f} (target <= 0.33, i.e. "
          f"{ssh.seconds / ours.seconds:.1f}x faster), ratio to ControlMaster "
          f"{ours.seconds / mux.seconds:.2f} (target <= 1.2); peak RSS "
          f"{ours.rss_kib / 1024:.0f} MiB")
    print(cpu_line({"tasker": ours, "ssh per task": ssh, "ControlMaster": mux}))


def fan_out(bench: Bench, hosts: int, max_parallel: int, repeat: int) -> None:
    """Part (2): one hostnames= block against xargs -P 32 running ssh once per host."""
    addresses = loopback_addresses(hosts)
    task_file = bench.tmp / f"fanout{hosts}.txt"
    task_file.write_text(f"task=0\ntype=parallel\nmax_parallel={max_parallel}\n"
                         f"hostnames={','.join(addresses)}\nexec=ssh\ncommand=true\n")
    xargs = ["xargs", "-P", str(XARGS_PARALLEL), "-I", "{}", *bench.ssh("{}", "true")]
    names = "".join(f"{a}\n" for a in addresses).encode()
    ours: List[Sample] = []
    theirs: List[Sample] = []
    for _ in range(repeat):
        ours.append(bench.measure(bench.tasker(task_file)))
        theirs.append(bench.measure(xargs, names))
    mine, other = best(ours), best(theirs)
    rss_target = " (target < 400 MiB)" if hosts >= 1000 else ""
    print(f"ssh fan-out over {hosts} hosts: tasker at max_parallel={max_parallel} "
          f"{mine.seconds:.2f} s, xargs -P {XARGS_PARALLEL} ssh {other.seconds:.2f} s, "
          f"ratio {mine.seconds / other.seconds:.2f} (target <= 1.0); tasker peak RSS "
          f"{mine.rss_kib / 1024:.0f} MiB{rss_target}, peak open descriptors {mine.fds}")
    print(cpu_line({"tasker": mine, "xargs and its ssh": other}))


def parse_args(argv: List[str]) -> argparse.Namespace:
    """Command-line options of the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per side, best kept (3)")
    parser.add_argument("--tasks", type=int, default=100, help="sequential tasks (100)")
    parser.add_argument("--hosts", type=int, nargs="+", default=[100, 1000],
                        help="fan-out sizes (100 1000)")
    parser.add_argument("--max-parallel", type=int, default=0,
                        help="tasker's max_parallel in every fan-out (32 up to 100 hosts, "
                             "100 above)")
    parser.add_argument("--parts", nargs="+", choices=("sequential", "fan-out"),
                        default=["sequential", "fan-out"], help="what to run (both)")
    parser.add_argument("--keep-rc", action="store_true",
                        help="let the remote bash read the user's ~/.bashrc (by default "
                             "it does not)")
    return parser.parse_args(argv)


def main(argv: List[str]) -> int:
    """Start sshd, run the parts, print one line each."""
    args = parse_args(argv)
    for tool in ("ssh", "ssh-keygen", "xargs", SSHD):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is needed (install openssh-client, openssh-server)")
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "tasker")],
                   check=True)  # (as pip install does: no module is compiled per run)
    with tempfile.TemporaryDirectory(prefix="tasker-bench-ssh-") as name:
        tmp = Path(name)
        tmp.chmod(0o755)
        server = Server(tmp)
        server.start(skip_rc=not args.keep_rc)
        server.write_client(loopback_addresses(max(args.hosts + [1])))
        print(f"sshd {server.port}: the remote bash "
              f"{'reads' if args.keep_rc else 'skips'} the user's ~/.bashrc")
        try:
            bench = Bench(tmp, server)
            if "sequential" in args.parts:
                sequential(bench, args.tasks, args.repeat)
            if "fan-out" in args.parts:
                for hosts in args.hosts:
                    parallel = args.max_parallel or (32 if hosts <= 100 else 100)
                    fan_out(bench, hosts, parallel, args.repeat)
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
