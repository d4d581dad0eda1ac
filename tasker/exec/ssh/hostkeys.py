"""Host keys: known_hosts files read once per run, checked on every connection.

The files are those OpenSSH reads: UserKnownHostsFile (default
~/.ssh/known_hosts and ~/.ssh/known_hosts2) and GlobalKnownHostsFile (default
/etc/ssh/ssh_known_hosts and ssh_known_hosts2). Hashed names (`|1|…`), the
`[host]:port` form, patterns with `*`, `?` and `!`, and `@revoked` lines are
understood; `@cert-authority` lines are skipped (tasker does not check host
certificates). A host is looked up by its HostName, as `[host]:port` off port 22.

- A known key lets the connection go on.
- A changed key (the host is known, but not with this key) is always refused,
  whatever the options, with both fingerprints and the `ssh-keygen -R` line.
- An unknown host is refused with its fingerprint and how to trust it, unless
  `--ssh-accept-new` (or StrictHostKeyChecking accept-new) records the key: one line
  appended to the first user file, under an flock of that file (tasker's threads
  and other tasker processes take turns; lines other programs appended meanwhile
  are read first) and written with one O_APPEND write, so a concurrent OpenSSH
  append cannot tear it.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import hashlib
import hmac
import os
import re
import threading
from typing import Callable, Dict, List, Optional, Pattern, Sequence, Tuple

from tasker.exec.ssh.config import ACCEPT_NEW, Endpoint
from tasker.exec.ssh.errors import HostKeyError
from tasker.record import record

_RSA_ALGORITHMS = ("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa")


@record(frozen=True)
class KnownKey:
    """One key of a known_hosts line, and where it was read."""

    keytype: str
    blob: bytes
    path: str
    line: int


def fingerprint(blob: bytes) -> str:
    """OpenSSH's SHA256 fingerprint of a public key blob (`SHA256:…`, no padding)."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


class _Names:
    """The host field of a known_hosts line: a hashed name, or a list of patterns."""

    def __init__(self, field: str) -> None:
        self.salt = self.digest = b""
        self.positive: List[Pattern[str]] = []
        self.negative: List[Pattern[str]] = []
        if field.startswith("|1|"):
            parts = field.split("|")
            if len(parts) == 4:
                try:
                    self.salt = base64.b64decode(parts[2])
                    self.digest = base64.b64decode(parts[3])
                except (binascii.Error, ValueError):
                    pass
            return
        for pattern in field.lower().split(","):
            negated = pattern.startswith("!")
            (self.negative if negated else self.positive).append(_glob(pattern.lstrip("!")))

    def match(self, name: str) -> bool:
        """Whether `name` (`host` or `[host]:port`) is one of these names."""
        if self.salt:
            return hmac.compare_digest(
                hmac.new(self.salt, name.encode(), hashlib.sha1).digest(), self.digest)
        lowered = name.lower()
        if any(p.match(lowered) for p in self.negative):
            return False
        return any(p.match(lowered) for p in self.positive)


def _glob(pattern: str) -> Pattern[str]:
    """A known_hosts pattern (`*`, `?`; `[` and `]` are plain) as a regular expression."""
    return re.compile(re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".") + r"\Z")


class KnownHostsFile:
    """One known_hosts file as read so far; `read_new` takes in lines appended since."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.plain: Dict[str, List[KnownKey]] = {}  # exact names, lower case
        self.other: List[Tuple[_Names, KnownKey]] = []  # hashed names and patterns
        self.revoked: List[Tuple[_Names, KnownKey]] = []
        self.offset = 0  # bytes taken in (whole lines only)
        self.lines = 0

    def read_new(self) -> None:
        """Take in the whole lines written past `offset` (a missing file has none)."""
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                data = handle.read()
        except (FileNotFoundError, NotADirectoryError, PermissionError, IsADirectoryError):
            return
        whole = data[:data.rfind(b"\n") + 1]  # a line still being written waits
        self.offset += len(whole)
        for raw in whole.decode("utf-8", "replace").splitlines():
            self.lines += 1
            self._add(raw.strip(), self.lines)

    def _add(self, line: str, number: int) -> None:
        if not line or line.startswith("#"):
            return
        marker = ""
        if line.startswith("@"):
            marker, _, line = line.partition(" ")
        fields = line.split()
        if len(fields) < 3 or marker == "@cert-authority":
            return
        try:
            blob = base64.b64decode(fields[2], validate=True)
        except (binascii.Error, ValueError):
            return
        key = KnownKey(fields[1], blob, self.path, number)
        names = fields[0]
        if marker == "@revoked":
            self.revoked.append((_Names(names), key))
        elif names.startswith("|") or any(ch in names for ch in "*?!"):
            self.other.append((_Names(names), key))
        else:
            for name in names.lower().split(","):
                self.plain.setdefault(name, []).append(key)

    def keys_for(self, name: str) -> List[KnownKey]:
        """The keys this file holds for `name`."""
        found = list(self.plain.get(name.lower(), ()))
        found.extend(key for names, key in self.other if names.match(name))
        return found

    def revoked_key(self, name: str, blob: bytes) -> Optional[KnownKey]:
        """The `@revoked` entry of `blob` for `name`, if any."""
        return next((key for names, key in self.revoked
                     if key.blob == blob and names.match(name)), None)


class KnownHosts:
    """The run's known_hosts files (each read once) and its host key decisions."""

    def __init__(self, inform: Callable[[str], None], warn: Callable[[str], None]) -> None:
        self._files: Dict[str, KnownHostsFile] = {}
        self._lock = threading.Lock()
        self._inform = inform
        self._warn = warn

    def key_types(self, endpoint: Endpoint) -> List[str]:
        """Host key algorithms to ask for first: those of the keys known for the host."""
        with self._lock:
            known = [key.keytype for key in self._known(endpoint)]
        preferred: List[str] = []
        for keytype in known:
            for name in (_RSA_ALGORITHMS if keytype == "ssh-rsa" else (keytype,)):
                if name not in preferred:
                    preferred.append(name)
        return preferred

    def verify(self, endpoint: Endpoint, keytype: str, blob: bytes) -> None:
        """Accept the host's key or raise HostKeyError; with accept-new record an unknown one."""
        with self._lock:
            self._judge(endpoint, keytype, blob)
            if not self._known(endpoint):
                if endpoint.strict_host_key_checking != ACCEPT_NEW:
                    raise HostKeyError(unknown_message(endpoint, keytype, blob))
                self._record(endpoint, keytype, blob)

    def _known(self, endpoint: Endpoint) -> List[KnownKey]:
        """(Under the lock.) Every key known for the endpoint, in file order."""
        name = endpoint.known_hosts_name
        return [key for f in self._files_of(endpoint) for key in f.keys_for(name)]

    def _files_of(self, endpoint: Endpoint) -> List[KnownHostsFile]:
        paths = endpoint.known_hosts_files + endpoint.global_known_hosts_files
        return [self._file(path) for path in paths]

    def _file(self, path: str) -> KnownHostsFile:
        found = self._files.get(path)
        if found is None:
            found = self._files[path] = KnownHostsFile(path)
            found.read_new()
        return found

    def _judge(self, endpoint: Endpoint, keytype: str, blob: bytes) -> None:
        """Raise HostKeyError for a revoked or changed key; return for a known or new one."""
        name = endpoint.known_hosts_name
        for known_file in self._files_of(endpoint):
            revoked = known_file.revoked_key(name, blob)
            if revoked is not None:
                raise HostKeyError(
                    f"ssh: {endpoint.describe()}: the host presents a revoked key ({keytype} "
                    f"{fingerprint(blob)}, marked @revoked in {revoked.path}:{revoked.line}); "
                    "refusing to connect")
        known = self._known(endpoint)
        if known and not any(key.blob == blob for key in known):
            raise HostKeyError(changed_message(endpoint, keytype, blob, known))

    def _record(self, endpoint: Endpoint, keytype: str, blob: bytes) -> None:
        """(Under the lock.) Append the new key to the first user known_hosts file."""
        if not endpoint.known_hosts_files:
            raise HostKeyError(unknown_message(endpoint, keytype, blob) + " (no "
                               "UserKnownHostsFile to record it in)")
        path = endpoint.known_hosts_files[0]
        try:
            self._append(endpoint, path, keytype, blob)
        except OSError as exc:  # as OpenSSH: the connection goes on, the key is not kept
            self._warn(f"SSH: could not add the host key of {endpoint.describe()} to {path}: "
                       f"{exc.strerror or exc}")
            return
        self._inform(f"SSH: added the host key of {endpoint.describe()} ({keytype} "
                     f"{fingerprint(blob)}) to {path}")

    def _append(self, endpoint: Endpoint, path: str, keytype: str, blob: bytes) -> None:
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, mode=0o700, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # other tasker processes append under it too
            known_file = self._file(path)
            known_file.read_new()  # what others added since: the host may be known by now
            self._judge(endpoint, keytype, blob)
            if self._known(endpoint):
                return
            line = known_hosts_line(endpoint, keytype, blob).encode()
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line  # (a file edited by hand may lack its last newline)
            os.write(fd, line)
            known_file.read_new()
        finally:
            os.close(fd)  # (releases the lock)


def known_hosts_line(endpoint: Endpoint, keytype: str, blob: bytes) -> str:
    """The line recording a host key, its name hashed when HashKnownHosts says so."""
    name = endpoint.known_hosts_name
    if endpoint.hash_known_hosts:
        salt = os.urandom(20)
        digest = hmac.new(salt, name.encode(), hashlib.sha1).digest()
        name = f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}"
    return f"{name} {keytype} {base64.b64encode(blob).decode()}\n"


def unknown_message(endpoint: Endpoint, keytype: str, blob: bytes) -> str:
    """The refusal of an unknown host, saying how to trust it."""
    port = f"-p {endpoint.port} " if endpoint.port != 22 else ""
    target = endpoint.known_hosts_files[0] if endpoint.known_hosts_files \
        else "~/.ssh/known_hosts"
    return (f"ssh: {endpoint.describe()}: the host key is not known ({keytype} "
            f"{fingerprint(blob)}); check with the host's administrator that this is its "
            f"key, then trust it with: ssh-keyscan {port}{endpoint.hostname} >> {target} "
            "(or run tasker with --ssh-accept-new)")


def changed_message(endpoint: Endpoint, keytype: str, blob: bytes,
                    known: Sequence[KnownKey]) -> str:
    """The refusal of a changed host key, with both fingerprints and how to clear the old."""
    old = next((key for key in known if key.keytype == keytype), known[0])
    return (f"ssh: {endpoint.describe()}: HOST KEY CHANGED: {old.path}:{old.line} holds "
            f"{old.keytype} {fingerprint(old.blob)} for {endpoint.known_hosts_name}, the host "
            f"now presents {keytype} {fingerprint(blob)}; someone may be intercepting the "
            "connection (or the host was reinstalled): after checking with its administrator, "
            f"remove the old key with: ssh-keygen -R '{endpoint.known_hosts_name}' -f "
            f"{old.path}")
