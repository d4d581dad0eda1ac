"""One SSH connection from nothing to logged in: socket (or a tunnel through a jump
host), handshake, host key, login; `Connector` opens them for the pool.

Every step is bounded by the endpoint's connect timeout and gives up at once
when the run is stopped (`cancel`): the TCP connect and every wait on paramiko
are cut into short slices, so a host that never answers costs its caller the
timeout, and a signal costs nobody more than a tenth of a second.
"""

from __future__ import annotations

import errno
import os
import select
import socket
import threading
import time
from typing import Any, Mapping, Optional, Sequence, Tuple

from tasker.exec.base import format_seconds
from tasker.exec.ssh.auth import KeyFiles, authenticate
from tasker.exec.ssh.config import Endpoint
from tasker.exec.ssh.errors import ConnectError, Interrupted, SshError
from tasker.exec.ssh.hostkeys import KnownHosts

SLICE = 0.1  # seconds between looks at `cancel` while waiting
# How often an idle transport's thread wakes up (paramiko's default, 0.1 s, made 256 idle
# transports cost 2,560 wake-ups a second; closing wakes the thread at once anyway).
IDLE_WAKEUP = 1.0


class Deadline:
    """The time one connection may take, and the run's stop request."""

    def __init__(self, endpoint: Endpoint, cancel: Optional[threading.Event],
                 seconds: Optional[float] = None) -> None:
        self.endpoint = endpoint
        self.cancel = cancel
        self.seconds = endpoint.connect_timeout if seconds is None else seconds
        self.end = time.monotonic() + self.seconds

    def left(self) -> float:
        """Seconds left (raises when none are, or when the run was stopped)."""
        if self.cancel is not None and self.cancel.is_set():
            raise Interrupted(f"ssh: {self.endpoint.describe()}: interrupted while "
                              "connecting; the command was not started")
        left = self.end - time.monotonic()
        if left <= 0:
            raise self.expired("")
        return left

    def expired(self, what: str) -> ConnectError:
        """The error of a connection that took too long (`what`: the step it was at)."""
        return ConnectError(f"ssh: {self.endpoint.describe()}: no answer{what} within "
                            f"{format_seconds(self.seconds)} s (--ssh-connect-timeout, "
                            "ConnectTimeout in ssh_config)")

    def wait(self, event: threading.Event, what: str) -> None:
        """Block until `event` is set (else raise: timed out, or the run was stopped)."""
        while not event.wait(min(SLICE, self.left())):
            if self.end - time.monotonic() <= 0:
                raise self.expired(f" {what}")


# The jump host's transport and endpoint, for a connection tunnelled through it.
Through = Tuple[Any, Endpoint]


class Connector:
    """Opens the pool's new transports: at most `max_connect` handshakes at once (the
    CPU-heavy part; a host that hangs holds its slot until its connect timeout), with the
    run's known hosts and key files."""

    def __init__(self, max_connect: int, environ: Mapping[str, str], known_hosts: KnownHosts,
                 keys: KeyFiles) -> None:
        self.environ = environ
        self.known_hosts = known_hosts
        self.keys = keys
        self._slots = threading.BoundedSemaphore(max_connect)

    def open(self, endpoint: Endpoint, cancel: Optional[threading.Event],
             through: Optional[Through] = None) -> Any:
        """Socket (or a tunnel `through` a jump host), handshake, host key, login: a new
        transport (SshError)."""
        self._wait_for_slot(endpoint, cancel)
        try:
            deadline = Deadline(endpoint, cancel)
            sock = tunnel(through, endpoint, deadline) if through is not None \
                else open_socket(endpoint, deadline)
            try:
                return handshake(sock, endpoint, self.known_hosts, self.keys, self.environ,
                                 deadline)
            except BaseException:
                sock.close()
                raise
        finally:
            self._slots.release()

    def _wait_for_slot(self, endpoint: Endpoint, cancel: Optional[threading.Event]) -> None:
        """Wait for one of the handshake slots (a stop request ends the wait)."""
        while not self._slots.acquire(timeout=SLICE):
            if cancel is not None and cancel.is_set():
                raise Interrupted(f"ssh: {endpoint.describe()}: interrupted while waiting to "
                                  "connect; the command was not started")


def tunnel(through: Through, endpoint: Endpoint, deadline: Deadline) -> Any:
    """A direct-tcpip channel of the jump host's transport to the endpoint (the socket of
    the connection tunnelled through it)."""
    transport, jump = through
    try:
        return Tunnel(transport.open_channel("direct-tcpip", (endpoint.hostname, endpoint.port),
                                             ("127.0.0.1", 0), timeout=deadline.left()))
    except SshError:
        raise
    except Exception as exc:  # noqa: BLE001 - ChannelException, SSHException, EOFError
        raise ConnectError(f"ssh: {endpoint.describe()}: the jump host {jump.describe()} could "
                           f"not connect to {endpoint.hostname} port {endpoint.port}: {exc}"
                           ) from None


class Tunnel:
    """The socket of a connection tunnelled through a jump host: a direct-tcpip channel
    whose sends and close take turns.

    paramiko makes a channel's data message under the channel's lock and sends it after
    letting go, so a close from another thread (the pool evicting an idle connection
    while the connection's own thread still answers the server) can overtake it; sshd
    then drops the jump host's whole connection, every host behind it with it, for data
    on a closed channel. A send blocks at most the timeout paramiko sets (0.1 s).
    """

    def __init__(self, channel: Any) -> None:
        self.channel = channel
        self._turn = threading.Lock()

    def send(self, data: bytes) -> int:
        with self._turn:
            return int(self.channel.send(data))

    def recv(self, size: int) -> bytes:
        return bytes(self.channel.recv(size))

    def settimeout(self, timeout: Optional[float]) -> None:
        self.channel.settimeout(timeout)

    def close(self) -> None:
        with self._turn:
            self.channel.close()

    @property
    def _closed(self) -> bool:
        """(paramiko's Transport reads a socket's private `_closed`.)"""
        return bool(self.channel.closed)


def open_socket(endpoint: Endpoint, deadline: Deadline) -> socket.socket:
    """A TCP connection to the endpoint's host name and port (every address tried)."""
    where = f"ssh: {endpoint.describe()}"
    try:
        infos = socket.getaddrinfo(endpoint.hostname, endpoint.port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ConnectError(f"{where}: cannot resolve the host name {endpoint.hostname}: "
                           f"{exc.strerror or exc}") from None
    problem = errno.ETIMEDOUT
    for family, kind, proto, _, address in infos:
        sock = socket.socket(family, kind | socket.SOCK_CLOEXEC, proto)
        try:
            problem = _connect(sock, address, deadline)
        except BaseException:
            sock.close()
            raise
        if problem == 0:
            sock.setblocking(True)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        sock.close()
    raise _connect_error(where, problem, deadline)


def _connect(sock: socket.socket, address: Any, deadline: Deadline) -> int:
    """0 once connected, else the errno of the failure (ETIMEDOUT when time ran out)."""
    sock.setblocking(False)
    code = sock.connect_ex(address)
    if code not in (errno.EINPROGRESS, errno.EAGAIN, errno.EINTR):
        return code
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLOUT)
    while True:
        try:
            left = deadline.left()
        except ConnectError:
            return errno.ETIMEDOUT
        if poller.poll(int(min(SLICE, left) * 1000) + 1):
            return sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)


def _connect_error(where: str, code: int, deadline: Deadline) -> ConnectError:
    if code == errno.ETIMEDOUT:
        return deadline.expired("")
    if code == errno.ECONNREFUSED:
        return ConnectError(f"{where}: connection refused (no SSH server listens on that port; "
                            "is the port right?)")
    reason = os.strerror(code) if code else "unknown error"
    return ConnectError(f"{where}: cannot connect: {reason}")


def handshake(sock: Any, endpoint: Endpoint, known_hosts: KnownHosts, keys: KeyFiles,
              environ: Mapping[str, str], deadline: Deadline) -> Any:
    """A paramiko Transport over `sock`, its host key checked and the user logged in."""
    import paramiko

    transport = paramiko.Transport(sock)
    transport.sock.settimeout(IDLE_WAKEUP)
    try:
        _prefer_known_key_types(transport, known_hosts.key_types(endpoint))
        transport.banner_timeout = transport.auth_timeout = deadline.left()
        started = threading.Event()
        transport.start_client(event=started)
        deadline.wait(started, "to the SSH handshake")
        if not transport.is_active():
            raise ConnectError(f"ssh: {endpoint.describe()}: the SSH handshake failed: "
                               f"{_reason(transport.get_exception())}")
        key = transport.get_remote_server_key()
        known_hosts.verify(endpoint, key.get_name(), key.asbytes())
        authenticate(transport, endpoint, environ, keys, deadline.wait)
        return transport
    except BaseException:
        transport.close()
        raise


def _prefer_known_key_types(transport: Any, preferred: Sequence[str]) -> None:
    """Ask for the host key types known_hosts holds first, so a known host shows a known key."""
    if not preferred:
        return
    options = transport.get_security_options()
    available = list(options.key_types)
    first = [name for name in preferred if name in available]
    options.key_types = first + [name for name in available if name not in first]


def _reason(exc: Optional[BaseException]) -> str:
    if exc is None:
        return "the server closed the connection"
    text = str(exc) or exc.__class__.__name__
    if isinstance(exc, EOFError) or "banner" in text.lower():
        return (f"{text} (the server closed the connection: not an SSH server, or too busy "
                "— see its MaxStartups)")
    return text


def connection_lost(endpoint: Endpoint, exc: Optional[BaseException] = None) -> SshError:
    """The error of a connection that dropped while in use."""
    why = f": {_reason(exc)}" if exc is not None else ""
    return ConnectError(f"ssh: {endpoint.describe()}: the connection was lost{why}")
