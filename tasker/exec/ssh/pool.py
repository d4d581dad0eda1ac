"""The run's SSH connections: opened on first use, shared by every task, closed at the end.

One authenticated paramiko transport per (user, host, port, route) carries the
commands of every task and sub-task on that host, one session channel each, at
most 8 at once (OpenSSH's MaxSessions is 10 by default); when all 8 are busy
another transport to the same host is opened. A command's kill channel is not
counted: it never waits for a free one (it uses the 9th or 10th session).

Bounds: at most `max_connect` handshakes at once (the CPU-heavy part; a host
that hangs holds one of them until its connect timeout), at most 4 of them to
one host (sshd drops unauthenticated connections past its MaxStartups), and at
most `max_transports` transports alive; at that limit the least recently used
idle one is closed first, and when none is idle a new one waits for one.

A transport that dropped is opened again once. ProxyJump goes through the same
pool: the jump host's transport carries a `direct-tcpip` channel that serves as
the socket of the next one (connect.Tunnel, whose sends and close take turns).
Thread-safe: up to a thousand threads ask at once.
"""

from __future__ import annotations

import secrets
import socket
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from tasker.exec.ssh.auth import KeyFiles
from tasker.exec.ssh.config import SYSTEM_DIR, Endpoint, SshConfig
from tasker.exec.ssh.connect import SLICE, Connector, connection_lost
from tasker.exec.ssh.errors import (
    ChannelError,
    ConnectError,
    Interrupted,
    SshConfigError,
    SshError,
)
from tasker.exec.ssh.hostkeys import KnownHosts
from tasker.exec.ssh.paramiko_log import quiet_paramiko
from tasker.exec.ssh.probe import run_true
from tasker.exec.ssh.settings import SshOptions
from tasker.record import replace
from tasker.report.logger import Log

SESSIONS_PER_TRANSPORT = 8
OPENING_PER_HOST = 4
MAX_JUMPS = 8
KILL_CHANNEL_TIMEOUT = 5.0
CLOSE_WAIT = 2.0  # seconds the transports' threads get to end once the pool is closed

Key = Tuple[Any, ...]


class Connection:
    """One logged-in transport to a host, and what is using it."""

    def __init__(self, endpoint: Endpoint, transport: Any, jump: Optional["Connection"]) -> None:
        self.endpoint = endpoint
        self.transport = transport
        self.jump = jump  # the connection this one is tunnelled through
        self.sessions = 0  # command channels open on it
        self.capacity = SESSIONS_PER_TRANSPORT  # lowered when the server refuses sooner
        self.dependents = 0  # connections tunnelled through this one
        self.last_used = time.monotonic()
        self.retired = False

    def alive(self) -> bool:
        """Whether the transport is still connected."""
        return bool(self.transport.is_active())

    def idle(self) -> bool:
        """Whether nothing uses it (it may be closed to make room)."""
        return self.sessions == 0 and self.dependents == 0


class _Host:
    """The connections to one (user, host, port, route), and those being opened."""

    def __init__(self) -> None:
        self.connections: List[Connection] = []
        self.opening = 0
        self.waiting = 0  # sessions asked for and not yet given
        self.failures = 0  # handshakes that failed (waiters of one fail with it)
        self.failure: Optional[SshError] = None


class Lease:
    """A session channel on a pooled connection; `release` gives the slot back."""

    def __init__(self, pool: "SshPool", connection: Connection, channel: Any) -> None:
        self.pool = pool
        self.connection = connection
        self.channel = channel
        self._released = False

    @property
    def endpoint(self) -> Endpoint:
        """Where the channel leads."""
        return self.connection.endpoint

    def extra_channel(self) -> Any:
        """Another session on the same connection, never waiting for a slot (a kill)."""
        return self.connection.transport.open_session(timeout=KILL_CHANNEL_TIMEOUT)

    def release(self) -> None:
        """Close the channel and give its slot back (once)."""
        if self._released:
            return
        self._released = True
        try:
            self.channel.close()
        except Exception:  # noqa: BLE001 - a channel of a dropped connection
            pass
        self.pool._give_back(self.connection, session=True)


class SshPool:
    """The SSH connections of one run (see the module's docstring)."""

    def __init__(self, options: SshOptions, log: Log, system_dir: Path = SYSTEM_DIR) -> None:
        self.options = options
        self.log = log
        self.config = SshConfig(options, log.warn, system_dir)
        self.connector = Connector(options.max_connect, options.environ,
                                   KnownHosts(log.info, log.warn), KeyFiles())
        # Marks the line on which the remote wrapper reports its process group: a command
        # cannot guess it, so it cannot fake that line.
        self.marker = f"tasker-pgid-{secrets.token_hex(12)}"
        self._cond = threading.Condition()
        self._hosts: Dict[Key, _Host] = {}
        self._live = 0  # transports open or being opened
        self._closed = False
        self._unquiet = quiet_paramiko(log)

    def endpoint(self, spec: str) -> Endpoint:
        """The Endpoint of a task's host as written (SshError: a sentence)."""
        return self.config.endpoint(spec)

    def session(self, endpoint: Endpoint, cancel: Optional[threading.Event]) -> Lease:
        """A session channel to the endpoint's host, on a shared connection (SshError)."""
        reopened = False
        problem: Optional[BaseException] = None
        for _ in range(4):
            conn = self._acquire(endpoint, cancel, session=True)
            try:
                return Lease(self, conn, conn.transport.open_session(
                    timeout=endpoint.connect_timeout))
            except Exception as exc:  # noqa: BLE001 - SSHException, EOFError, OSError
                problem = exc
                others = conn.sessions - 1
                self._give_back(conn, session=True)
                if not conn.alive():
                    if reopened:
                        raise connection_lost(endpoint, exc) from None
                    reopened = True  # a transport that dropped is opened again, once
                    self._retire(conn)
                elif others >= 1:  # the server allows fewer sessions: use another transport
                    with self._cond:
                        conn.capacity = min(conn.capacity, others)
                else:
                    break
        raise ChannelError(f"ssh: {endpoint.describe()}: the server refused a session channel: "
                           f"{problem}")

    def check(self, spec: str, timeout: float, cancel: Optional[threading.Event] = None) -> str:
        """"" when a session on the host ran `true` with exit 0, else one sentence naming the
        host and the cause. The connection stays in the pool for the run's tasks."""
        deadline = time.monotonic() + timeout
        try:
            endpoint = self.endpoint(spec)
            endpoint = replace(endpoint, connect_timeout=min(endpoint.connect_timeout, timeout))
            lease = self.session(endpoint, cancel)
        except SshError as exc:
            return exc.sentence
        try:
            return run_true(lease.channel, f"ssh: {endpoint.describe()}", deadline, timeout,
                            cancel)
        finally:
            lease.release()

    def close(self) -> None:
        """Close every connection (tunnelled ones first); later requests fail."""
        with self._cond:
            self._closed = True
            conns = [c for host in self._hosts.values() for c in host.connections]
            self._hosts.clear()
            self._cond.notify_all()
        end = time.monotonic() + CLOSE_WAIT
        tunnelled = [c for c in conns if c.jump is not None]
        for group in (tunnelled, [c for c in conns if c.jump is None]):  # tunnels first
            for conn in group:
                _close_transport(conn)
            for conn in group:  # their threads may still send, and log, on their way out
                conn.transport.join(max(0.0, end - time.monotonic()))
        self._unquiet()

    # -- connections -----------------------------------------------------------------

    def _acquire(self, endpoint: Endpoint, cancel: Optional[threading.Event], session: bool,
                 route: Tuple[Key, ...] = ()) -> Connection:
        """A connection with room for a session (or any, to tunnel through), opened if need be.

        The jump host's connection, if any, is taken first: a new connection waiting for
        room must never hold the last free one its own tunnel needs.
        """
        jump = self._jump(endpoint, cancel, route)
        try:
            conn, host = self._reserve(endpoint, cancel, session)
            if conn is None:
                return self._open(host, endpoint, cancel, session, jump)
        except BaseException:
            if jump is not None:
                self._give_back(jump, session=False)
            raise
        if jump is not None:  # (an open connection served: it has its own tunnel)
            self._give_back(jump, session=False)
        return conn

    def _reserve(self, endpoint: Endpoint, cancel: Optional[threading.Event],
                 session: bool) -> Tuple[Optional[Connection], _Host]:
        """(a connection to use, or None when this thread is to open one: counted already;
        the host's entry)."""
        evicted: List[Connection] = []
        try:
            with self._cond:
                host = self._hosts.setdefault(endpoint.key, _Host())
                conn = self._wait_for_room(host, endpoint, cancel, session, evicted)
                if conn is None:
                    host.opening += 1
                    self._live += 1
                return conn, host
        finally:
            for old in evicted:
                _close_transport(old)

    def _wait_for_room(self, host: _Host, endpoint: Endpoint, cancel: Optional[threading.Event],
                       session: bool, evicted: List[Connection]) -> Optional[Connection]:
        """(Under the lock.) A connection to use, or None once this thread may open one."""
        failures = host.failures
        host.waiting += session
        try:
            while True:
                if self._closed:
                    raise Interrupted(f"ssh: {endpoint.describe()}: the run's connections are "
                                      "closed")
                conn = self._usable(host, session, evicted)
                if conn is not None:
                    self._take(conn, session)
                    return conn
                if host.failures != failures and host.failure is not None:
                    raise host.failure  # the handshake this thread waited for failed
                if not self._opening_serves(host, session):
                    if self._live < self.options.max_transports or self._evict(evicted):
                        return None
                self._cond.wait(SLICE)
                if cancel is not None and cancel.is_set():
                    raise Interrupted(f"ssh: {endpoint.describe()}: interrupted while "
                                      "waiting for a connection; the command was not started")
        finally:
            host.waiting -= session

    def _usable(self, host: _Host, session: bool,
                dropped: List[Connection]) -> Optional[Connection]:
        """(Under the lock.) A live connection with room; dropped ones are retired (and added
        to `dropped`, for the caller to close)."""
        for conn in list(host.connections):
            if not conn.alive():
                self._retire_locked(conn)
                dropped.append(conn)
            elif not session or conn.sessions < conn.capacity:
                return conn
        return None

    @staticmethod
    def _opening_serves(host: _Host, session: bool) -> bool:
        """Whether the handshakes under way will serve this request (so it should wait)."""
        if host.opening >= OPENING_PER_HOST:
            return True
        if not session:
            return host.opening > 0
        return host.waiting <= host.opening * (SESSIONS_PER_TRANSPORT - 1)

    def _evict(self, evicted: List[Connection]) -> bool:
        """(Under the lock.) Retire the least recently used idle connection, if any."""
        idle = [c for host in self._hosts.values() for c in host.connections if c.idle()]
        if not idle:
            return False
        oldest = min(idle, key=lambda c: c.last_used)
        self._retire_locked(oldest)
        evicted.append(oldest)
        self.log.debug(f"SSH: closing the idle connection to {oldest.endpoint.describe()} "
                       f"(--ssh-max-transports {self.options.max_transports} reached)")
        return True

    def _take(self, conn: Connection, session: bool) -> None:
        if session:
            conn.sessions += 1
        else:
            conn.dependents += 1
        conn.last_used = time.monotonic()

    def _give_back(self, conn: Connection, session: bool) -> None:
        """A session (or a tunnel) no longer uses `conn`."""
        with self._cond:
            if session:
                conn.sessions -= 1
            else:
                conn.dependents -= 1
            conn.last_used = time.monotonic()
            self._cond.notify_all()

    def _retire(self, conn: Connection) -> None:
        with self._cond:
            self._retire_locked(conn)
        _close_transport(conn)

    def _retire_locked(self, conn: Connection) -> None:
        """(Under the lock.) Take `conn` out of the pool (its closing is the caller's)."""
        if conn.retired:
            return
        conn.retired = True
        host = self._hosts.get(conn.endpoint.key)
        if host is not None and conn in host.connections:
            host.connections.remove(conn)
        self._live -= 1
        if conn.jump is not None:
            conn.jump.dependents -= 1
        self._cond.notify_all()

    def _open(self, host: _Host, endpoint: Endpoint, cancel: Optional[threading.Event],
              session: bool, jump: Optional[Connection]) -> Connection:
        """Open a new connection for this thread (it counts as opening already)."""
        try:
            through = None if jump is None else (jump.transport, jump.endpoint)
            conn = Connection(endpoint, self.connector.open(endpoint, cancel, through), jump)
        except BaseException as exc:
            with self._cond:
                host.opening -= 1
                self._live -= 1
                if isinstance(exc, SshError) and not isinstance(exc, Interrupted):
                    host.failure, host.failures = exc, host.failures + 1
                self._cond.notify_all()
            raise
        with self._cond:
            host.opening -= 1
            host.connections.append(conn)
            self._take(conn, session)
            if self._closed:  # (the run ended meanwhile)
                self._retire_locked(conn)
            self._cond.notify_all()
        if conn.retired:
            _close_transport(conn)
            raise Interrupted(f"ssh: {endpoint.describe()}: the run's connections are closed")
        self.log.debug(f"SSH: connected to {endpoint.describe()} "
                       f"({len(host.connections)} connection(s) to it)")
        return conn

    def _jump(self, endpoint: Endpoint, cancel: Optional[threading.Event],
              route: Tuple[Key, ...]) -> Optional[Connection]:
        """The connection to the last jump host before `endpoint`, taken as a tunnel's
        (None without ProxyJump)."""
        hop = self.config.jump_host(endpoint)
        if hop is None:
            return None
        if hop.key in route or hop.key == endpoint.key or len(route) >= MAX_JUMPS:
            raise SshConfigError(f"ssh: {endpoint.describe()}: the ProxyJump hosts of "
                                 f"ssh_config lead back to themselves (at {hop.describe()}); "
                                 "give the jump host ProxyJump none")
        if len(route) + 2 > self.options.max_transports:
            raise SshConfigError(f"ssh: {endpoint.describe()}: reaching it through its jump "
                                 f"hosts takes {len(route) + 2} connections, more than "
                                 f"--ssh-max-transports {self.options.max_transports}")
        try:
            return self._acquire(hop, cancel, session=False, route=route + (endpoint.key,))
        except Interrupted:
            raise
        except SshError as exc:
            raise ConnectError(f"ssh: {endpoint.describe()}: cannot reach the jump host: "
                               f"{exc.sentence.replace('ssh: ', '', 1)}") from None

def _close_transport(conn: Connection) -> None:
    """Close a connection's transport; a failure to do so is no one's concern any more.

    A socket is shut down first: that wakes the transport's thread at once (closing
    alone leaves it in recv until its socket timeout).
    """
    sock = conn.transport.sock
    if isinstance(sock, socket.socket):  # (a tunnel's channel wakes its reader when closed)
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:  # a socket that is already gone
            pass
    try:
        conn.transport.close()
    except Exception:  # noqa: BLE001
        pass
