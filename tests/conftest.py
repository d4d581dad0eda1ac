"""Fixtures shared by unit and end-to-end tests."""

from __future__ import annotations

import os
import pwd
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Callable, Iterator, List, Optional

import pytest


def _fill(directory: Path, free: int) -> None:
    """Fill the filesystem of `directory` until about `free` bytes are left."""
    stats = os.statvfs(directory)
    available = stats.f_bavail * stats.f_frsize
    if available > free:
        with open(directory / "filler", "wb") as handle:
            handle.write(b"\0" * (available - free))


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Callable[..., Optional[Path]]]:
    """A factory of small tmpfs mounts for fault tests: `mount("256k", free=8192)`.

    `free`, when given, fills the new filesystem until that many bytes are left.
    Returns None where mounting is not possible (not root, or a sandbox that forbids
    it); the test then injects the failure another way. Everything mounted is
    unmounted at the end.
    """
    mounted: List[Path] = []

    def mount(size: str, free: Optional[int] = None) -> Optional[Path]:
        if os.geteuid() != 0:
            return None
        point = tmp_path / f"tmpfs{len(mounted)}"
        point.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0777",
                               "tmpfs", str(point)], capture_output=True)
        if done.returncode != 0:
            return None
        mounted.append(point)
        if free is not None:
            _fill(point, free)
        return point

    yield mount
    for point in reversed(mounted):
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


# -- a real OpenSSH server for the exec=ssh tests (SPEC I.10) -----------------------------

SSHD = "/usr/sbin/sshd"
# The addresses the tests may use as distinct hosts: 127.0.0.1 to 127.0.0.LOOPBACK_HOSTS.
LOOPBACK_HOSTS = 120


def _keypair(directory: Path, name: str, passphrase: Optional[bytes] = None) -> Path:
    """An ed25519 key in OpenSSH format (`name`, `name.pub`); returns the private key's path."""
    from cryptography.hazmat.primitives import serialization as ser
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    crypt = ser.BestAvailableEncryption(passphrase) if passphrase else ser.NoEncryption()
    private = directory / name
    private.write_bytes(key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.OpenSSH, crypt))
    private.chmod(0o600)
    public = key.public_key().public_bytes(ser.Encoding.OpenSSH, ser.PublicFormat.OpenSSH)
    (directory / f"{name}.pub").write_bytes(public + b" tasker-test\n")
    return private


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("0.0.0.0", 0))
        return probe.getsockname()[1]


class Sshd:
    """A throw-away sshd (host and user keys in a temp dir) and what a client needs.

    It listens on 0.0.0.0:port, so 127.0.0.2, 127.0.0.3, ... reach it as distinct hosts
    (it lets users in from 127.0.0.0/8 only). `client(home)` writes a client set-up
    under `home`: ~/.ssh/config (`extra` blocks, then `Host *` with Port, User,
    IdentityFile, UserKnownHostsFile: the first value found wins, so `extra` can
    override them) and a known_hosts that knows every loopback address.
    """

    def __init__(self, directory: Path, host_key: Path, user_key: Path,
                 settings: str = "") -> None:
        self.dir = directory
        self.settings = settings  # sshd_config lines that come first (first value wins)
        self.host_key = host_key
        self.user_key = user_key
        self.user = pwd.getpwuid(os.getuid()).pw_name
        self.port = 0
        self.log = directory / "sshd.log"
        self.proc: Optional[subprocess.Popen] = None

    keypair = staticmethod(_keypair)
    free_port = staticmethod(_free_port)

    @property
    def host_key_line(self) -> str:
        """The host's public key as known_hosts holds it (`type base64`)."""
        return " ".join((self.host_key.with_suffix(".pub").read_text().split())[:2])

    def start(self) -> "Sshd":
        """Start the server on a free port; RuntimeError (with its log) when it will not run."""
        for _ in range(5):
            self.port = _free_port()
            config = self.dir / f"sshd_config_{self.port}"
            config.write_text(self._config())
            with open(self.log, "ab") as errors:  # (-E: its log; stderr before that)
                self.proc = subprocess.Popen(
                    [SSHD, "-D", "-E", str(self.log), "-f", str(config)],
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errors)
            if self._listening():
                return self
            self.stop()
        raise RuntimeError(f"sshd did not start: {self.log.read_text()[-2000:]}"
                           if self.log.exists() else "sshd did not start")

    def _config(self) -> str:
        return self.settings + "\n" + "\n".join((
            f"ListenAddress 0.0.0.0:{self.port}", f"HostKey {self.host_key}",
            f"AuthorizedKeysFile {self.dir}/authorized_keys", "PidFile none",
            "StrictModes no", "UsePAM no", "PermitRootLogin prohibit-password",
            "PasswordAuthentication no", "KbdInteractiveAuthentication no",
            "MaxStartups 2000", "MaxSessions 10", "MaxAuthTries 10",
            "AllowTcpForwarding yes", "AllowUsers *@127.0.0.0/8", "LogLevel DEBUG1", ""))

    def _listening(self) -> bool:
        end = time.monotonic() + 10
        while time.monotonic() < end:
            if self.proc is None or self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                    if conn.recv(4) == b"SSH-":
                        return True
            except OSError:
                time.sleep(0.05)
        return False

    def stop(self) -> None:
        """Stop the server and everything it started (connections, remote commands)."""
        if self.proc is None:
            return
        for pid in self.descendants():
            _kill(pid)
        self.proc.kill()
        self.proc.wait()
        self.proc = None

    def descendants(self) -> List[int]:
        """PIDs of every process below the server (its connections and their commands)."""
        if self.proc is None:
            return []
        found, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            try:
                children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            except OSError:
                continue
            found.extend(int(c) for c in children)
            todo.extend(int(c) for c in children)
        return found

    def spawn(self, settings: str = "") -> "Sshd":
        """Another server with the same keys on another port (for tests that stop it, or
        that need other `settings`: sshd_config lines)."""
        return Sshd(self.dir, self.host_key, self.user_key, settings).start()

    def known_hosts(self, port: Optional[int] = None) -> str:
        """known_hosts lines that know the host key at every loopback address."""
        port = port or self.port
        return "".join(f"[127.0.0.{n}]:{port} {self.host_key_line}\n"
                       for n in range(1, LOOPBACK_HOSTS + 1))

    def client(self, home: Path, extra: str = "", key: Optional[Path] = None,
               known: Optional[str] = None) -> Path:
        """Write home/.ssh/config (`extra` blocks first) and known_hosts; the config's path."""
        ssh = home / ".ssh"
        ssh.mkdir(mode=0o700, exist_ok=True)
        (ssh / "known_hosts").write_text(self.known_hosts() if known is None else known)
        config = ssh / "config"
        config.write_text(f"{extra}\nHost *\n    Port {self.port}\n"
                          f"    User {self.user}\n    IdentityFile {key or self.user_key}\n"
                          f"    UserKnownHostsFile {ssh / 'known_hosts'}\n")
        return config


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _sshd_unavailable(why: str) -> None:
    """Fail (TASKER_REQUIRE_SSHD=1, as in CI) or skip the tests that need sshd."""
    if os.environ.get("TASKER_REQUIRE_SSHD") == "1":
        pytest.fail(f"sshd is required (TASKER_REQUIRE_SSHD=1) but {why}", pytrace=False)
    pytest.skip(f"no sshd for the SSH tests: {why} (install openssh-server)")


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    """A real OpenSSH sshd for the whole test session (see Sshd)."""
    if not os.access(SSHD, os.X_OK):
        _sshd_unavailable(f"{SSHD} is not installed")
    if os.geteuid() == 0:
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # privilege separation
    directory = tmp_path_factory.mktemp("sshd")
    directory.chmod(0o755)
    host_key = _keypair(directory, "host_ed25519")
    user_key = _keypair(directory, "user_ed25519")
    (directory / "authorized_keys").write_text(user_key.with_suffix(".pub").read_text())
    server = Sshd(directory, host_key, user_key)
    try:
        server.start()
    except (RuntimeError, OSError) as exc:
        _sshd_unavailable(str(exc))
    yield server
    server.stop()
