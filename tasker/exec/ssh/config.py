"""Where a task's host really is: its spec, ssh_config and the options, made one Endpoint.

ssh_config is read once per run, on first use: `--ssh-config FILE` alone, else
`~/.ssh/config` and then `/etc/ssh/ssh_config` with OpenSSH's rule that the
first value obtained for a keyword wins (so the user's file comes first, and
within a file the first matching `Host` block). `Include` is followed. The
keywords used: HostName, User, Port, IdentityFile, ConnectTimeout, ProxyJump,
UserKnownHostsFile, GlobalKnownHostsFile, StrictHostKeyChecking and
HashKnownHosts; a ProxyCommand (other than `none`) is refused with a sentence.

`SshConfig.endpoint(spec)` is the public entry, thread-safe and cached: the SSH
pool uses it to connect, host validation to find the name to resolve (HostName)
and whether a ProxyJump stands in the way of a ping.
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import threading
from pathlib import Path
from typing import (
    TYPE_CHECKING,
    Callable,
    Dict,
    List,
    Mapping,
    Optional,
    Tuple,
    TypeVar,
    Union,
    cast,
)

from tasker.exec.ssh.errors import SshConfigError, SshError
from tasker.exec.ssh.settings import SshOptions
from tasker.exec.ssh.spec import HostSpec, parse_host_spec
from tasker.record import record, replace

if TYPE_CHECKING:
    import paramiko

Number = TypeVar("Number", int, float)

DEFAULT_PORT = 22
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_IDENTITIES = ("id_ed25519", "id_ecdsa", "id_rsa")
SYSTEM_DIR = Path("/etc/ssh")
MAX_INCLUDE_DEPTH = 16  # as OpenSSH's READCONF_MAX_DEPTH
YES, ACCEPT_NEW = "yes", "accept-new"


@record(frozen=True)
class Endpoint:
    """Everything needed to reach one host: who, where, how to trust it, through what."""

    alias: str  # the host as the task wrote it (what `Host` patterns matched)
    user: str
    hostname: str  # what to connect to (ssh_config's HostName, else the alias)
    port: int
    identity_files: Tuple[str, ...]  # IdentityFile, else ~/.ssh/id_ed25519, id_ecdsa, id_rsa
    connect_timeout: float  # --ssh-connect-timeout, else ConnectTimeout, else 10 s
    proxy_jump: Tuple[str, ...] = ()  # the jump hosts, first hop first, as written
    known_hosts_files: Tuple[str, ...] = ()  # UserKnownHostsFile (new keys go to the first)
    global_known_hosts_files: Tuple[str, ...] = ()
    strict_host_key_checking: str = YES  # yes | accept-new
    hash_known_hosts: bool = False

    @property
    def key(self) -> Tuple[str, str, int, Tuple[str, ...]]:
        """What identifies a connection: the same user, host and port by the same route."""
        return (self.user, self.hostname, self.port, self.proxy_jump)

    @property
    def known_hosts_name(self) -> str:
        """The host's name in known_hosts: `host`, or `[host]:port` off port 22."""
        return self.hostname if self.port == DEFAULT_PORT else f"[{self.hostname}]:{self.port}"

    def describe(self) -> str:
        """The host in messages: `user@alias (hostname) port N`, and the jump hosts."""
        shown = f"{self.user}@{self.alias}"
        if self.hostname != self.alias:
            shown += f" ({self.hostname})"
        shown += f" port {self.port}"
        if self.proxy_jump:
            shown += f" via {','.join(self.proxy_jump)}"
        return shown


class SshConfig:
    """The run's ssh_config, parsed once; `endpoint` resolves hosts (thread-safe, cached)."""

    def __init__(self, options: SshOptions, warn: Callable[[str], None],
                 system_dir: Path = SYSTEM_DIR) -> None:
        self.options = options
        self._warn = warn
        self._system_dir = system_dir
        self._lock = threading.Lock()
        self._parsed: Optional[paramiko.SSHConfig] = None  # made on first use
        self._parse_error: Optional[SshConfigError] = None
        self._cache: Dict[str, Union[Endpoint, SshError]] = {}
        self._warned_no = False
        self.home = options.environ.get("HOME") or _passwd_home()

    def endpoint(self, spec: str) -> Endpoint:
        """The Endpoint of a task's host as written; SshError (a sentence) when it has none."""
        found = self._cache.get(spec)
        if found is None:
            with self._lock:
                found = self._cache.get(spec)
                if found is None:
                    try:
                        found = self._resolve(parse_host_spec(spec))
                    except SshError as exc:
                        found = exc
                    self._cache[spec] = found
        if isinstance(found, SshError):
            raise found
        return found

    def jump_host(self, endpoint: Endpoint) -> Optional[Endpoint]:
        """The last jump host before `endpoint` (None without ProxyJump), as OpenSSH reaches
        it: the first hop by its own ssh_config, each later one through the hops before it."""
        if not endpoint.proxy_jump:
            return None
        *before, last = endpoint.proxy_jump
        hop = self.endpoint(last)
        return replace(hop, proxy_jump=tuple(before)) if before else hop

    # -- resolution ----------------------------------------------------------------

    def _resolve(self, spec: HostSpec) -> Endpoint:
        """(Called under the lock.) The Endpoint of a parsed host spec."""
        found = self._lookup(spec.host)
        if str(found.get("proxycommand") or "none").lower() != "none":
            raise SshConfigError(f"ssh: {spec}: ssh_config sets a ProxyCommand, which tasker "
                                 "does not run; use ProxyJump instead")
        return Endpoint(
            alias=spec.host, user=self._user(spec, found),
            hostname=str(found.get("hostname") or spec.host),
            port=spec.port or self._number(spec, found, "port", DEFAULT_PORT, int),
            identity_files=self._identities(found),
            connect_timeout=self.options.connect_timeout or self._number(
                spec, found, "connecttimeout", DEFAULT_CONNECT_TIMEOUT, float),
            proxy_jump=_jumps(found.get("proxyjump")),
            known_hosts_files=self._paths(found.get("userknownhostsfile"),
                                          ("~/.ssh/known_hosts", "~/.ssh/known_hosts2")),
            global_known_hosts_files=self._paths(found.get("globalknownhostsfile"), (
                str(self._system_dir / "ssh_known_hosts"),
                str(self._system_dir / "ssh_known_hosts2"))),
            strict_host_key_checking=self._strictness(found.get("stricthostkeychecking")),
            hash_known_hosts=str(found.get("hashknownhosts") or "no").lower() == "yes")

    def _lookup(self, alias: str) -> Mapping[str, object]:
        """ssh_config's values for `alias` (lower-case keywords)."""
        if self._parse_error is not None:
            raise self._parse_error
        if self._parsed is None:
            try:
                self._parsed = self._parse()
            except SshConfigError as exc:
                self._parse_error = exc  # (every host would fail the same way)
                raise
        try:
            return self._parsed.lookup(alias)
        except Exception as exc:  # noqa: BLE001 - e.g. `Match exec`, a bad canonical name
            raise SshConfigError(f"ssh: ssh_config cannot be applied to host {alias}: "
                                 f"{exc}") from None

    def _parse(self) -> paramiko.SSHConfig:
        """paramiko's SSHConfig over the files of this run, in OpenSSH's order."""
        import paramiko  # (only a run with an ssh task pays for it)

        parsed = paramiko.SSHConfig()
        for path, base in self._files():
            text = _read_config(path, base, 0)
            try:
                parsed.parse(text.splitlines())
            except Exception as exc:  # noqa: BLE001 - ConfigParseError and its like
                raise SshConfigError(f"ssh: cannot parse ssh_config {path}: {exc}") from None
        return parsed

    def _files(self) -> List[Tuple[str, str]]:
        """(file, directory its relative Includes start from) to read, in order."""
        if self.options.config_file:
            path = os.path.expanduser(self.options.config_file)
            if not os.path.isfile(path):
                raise SshConfigError(f"ssh: cannot read --ssh-config {path}: no such file")
            return [(path, os.path.join(self.home, ".ssh"))]
        user = os.path.join(self.home, ".ssh", "config")
        system = str(self._system_dir / "ssh_config")
        return [(p, base) for p, base in ((user, os.path.dirname(user)),
                                          (system, str(self._system_dir)))
                if os.path.isfile(p)]

    def _user(self, spec: HostSpec, found: Mapping[str, object]) -> str:
        """`user@` in the task, else --ssh-user, else ssh_config's User, else the local user."""
        return (spec.user or self.options.user or str(found.get("user") or "")
                or _local_user(self.options.environ))

    def _number(self, spec: HostSpec, found: Mapping[str, object], key: str,
                default: Number, kind: Callable[[str], Number]) -> Number:
        value = found.get(key)
        if value is None:
            return default
        try:
            number = kind(str(value))
        except ValueError:
            number = 0
        if not number > 0:
            raise SshConfigError(f"ssh: {spec}: ssh_config's {key} '{value}' is not a "
                                 "positive number")
        return number

    def _identities(self, found: Mapping[str, object]) -> Tuple[str, ...]:
        written = cast(List[object], found.get("identityfile") or [])  # (paramiko: a list)
        paths = [self._expand(str(p)) for p in written]
        if paths:
            return tuple(p for p in paths if p.lower() != "none")
        return tuple(os.path.join(self.home, ".ssh", name) for name in DEFAULT_IDENTITIES)

    def _paths(self, value: object, default: Tuple[str, ...]) -> Tuple[str, ...]:
        words = str(value).split() if value else list(default)
        if [w.lower() for w in words] == ["none"]:
            return ()
        return tuple(self._expand(w) for w in words)

    def _expand(self, path: str) -> str:
        """`~`, `%d` (the local home) and `%u` (the local user) in a path, as OpenSSH does."""
        if path.startswith("~/") or path == "~":
            path = self.home + path[1:]
        return path.replace("%d", self.home).replace("%u", _local_user(self.options.environ))

    def _strictness(self, value: object) -> str:
        """yes (also for ask and unset), or accept-new (also for no, with one warning)."""
        if self.options.accept_new:
            return ACCEPT_NEW
        text = str(value or YES).lower()
        if text in ("no", "off"):
            if not self._warned_no:
                self._warned_no = True
                self._warn("ssh_config sets StrictHostKeyChecking no: tasker treats it as "
                           "accept-new (unknown host keys are recorded, changed keys are "
                           "still refused)")
            return ACCEPT_NEW
        return ACCEPT_NEW if text == ACCEPT_NEW else YES


def _jumps(value: object) -> Tuple[str, ...]:
    """The jump hosts of a ProxyJump value (`none`: none), `ssh://` prefixes dropped."""
    text = str(value or "").strip()
    if not text or text.lower() == "none":
        return ()
    hops = [hop.strip() for hop in text.split(",") if hop.strip()]
    return tuple(hop[len("ssh://"):] if hop.startswith("ssh://") else hop for hop in hops)


_INCLUDE = re.compile(r"\s*include(?:\s*=\s*|\s+)(.+)", re.IGNORECASE)


def _read_config(path: str, base: str, depth: int) -> str:
    """The text of an ssh_config file with its `Include` lines replaced by the files they
    name (relative names start from `base`: ~/.ssh, or /etc/ssh for the system file)."""
    if depth > MAX_INCLUDE_DEPTH:
        raise SshConfigError(f"ssh: ssh_config Includes nest deeper than {MAX_INCLUDE_DEPTH} "
                             f"files at {path}")
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            lines = handle.read().splitlines()
    except OSError as exc:
        raise SshConfigError(f"ssh: cannot read ssh_config {path}: "
                             f"{exc.strerror or exc}") from None
    out = []
    for line in lines:
        match = _INCLUDE.match(line)
        if match is None:
            out.append(line)
            continue
        for pattern in match.group(1).split():
            pattern = os.path.expanduser(pattern.strip('"'))
            for name in sorted(glob.glob(os.path.join(base, pattern))):
                if os.path.isfile(name):
                    out.append(_read_config(name, base, depth + 1))
    return "\n".join(out)


def _local_user(environ: Mapping[str, str]) -> str:
    """The user tasker runs as: USER or LOGNAME from the run's environment, else passwd."""
    name = environ.get("USER") or environ.get("LOGNAME")
    if name:
        return name
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())


def _passwd_home() -> str:
    try:
        return pwd.getpwuid(os.getuid()).pw_dir
    except KeyError:
        return "/"
