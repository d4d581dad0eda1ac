"""The SSH pool against the real sshd: sharing, the per-transport session limit, the
handshake and transport bounds, the connectivity check, dropped connections, closing."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path
from typing import Dict, List

import pytest

import tasker.exec.ssh.connect as connect_module
from tasker.exec.ssh.errors import Interrupted, SshConfigError, SshError
from tasker.exec.ssh.paramiko_log import quiet_paramiko
from tasker.exec.ssh.pool import SESSIONS_PER_TRANSPORT, Lease, SshPool
from tasker.exec.ssh.settings import SshOptions
from tasker.report.logger import Log


def make_pool(tmp_path: Path, sshd, extra: str = "", **options) -> SshPool:
    config = sshd.client(tmp_path, extra)
    environ = {"HOME": str(tmp_path), "USER": sshd.user}
    return SshPool(SshOptions(config_file=str(config), environ=environ, **options),
                   Log(stream=io.StringIO()))


@pytest.fixture
def pool(tmp_path: Path, sshd):
    made = make_pool(tmp_path, sshd)
    yield made
    made.close()


def hold(pool: SshPool, host: str, count: int) -> List[Lease]:
    """`count` sessions on `host`, asked for by as many threads at once and all held."""
    leases: List[Lease] = []
    lock = threading.Lock()

    def one() -> None:
        lease = pool.session(pool.endpoint(host), None)
        with lock:
            leases.append(lease)

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(leases) == count
    return leases


def test_a_thread_crowd_shares_few_connections_of_at_most_eight_sessions(pool: SshPool) -> None:
    leases = hold(pool, "127.0.0.2", 20)
    per_connection: Dict[int, int] = {}
    for lease in leases:
        per_connection[id(lease.connection)] = per_connection.get(id(lease.connection), 0) + 1
    assert 3 <= len(per_connection) <= 4  # (8 each; a 4th only if a handshake raced)
    assert max(per_connection.values()) <= SESSIONS_PER_TRANSPORT
    for lease in leases:
        lease.release()
    again = pool.session(pool.endpoint("127.0.0.2"), None)  # (reuses one of them)
    assert any(again.connection is lease.connection for lease in leases)
    again.release()


def test_a_kill_channel_never_waits_for_a_free_slot(pool: SshPool) -> None:
    leases = hold(pool, "127.0.0.3", SESSIONS_PER_TRANSPORT)
    assert len({id(lease.connection) for lease in leases}) == 1
    ninth, tenth = leases[0].extra_channel(), leases[1].extra_channel()
    for channel in (ninth, tenth):
        channel.exec_command("true")
        assert channel.recv_exit_status() == 0
        channel.close()
    for lease in leases:
        lease.release()


def test_at_most_max_connect_handshakes_at_once(tmp_path: Path, sshd,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    running, peak, lock = [0], [0], threading.Lock()
    real = connect_module.handshake

    def counted(*args, **kwargs):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        try:
            return real(*args, **kwargs)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(connect_module, "handshake", counted)
    pool = make_pool(tmp_path, sshd, max_connect=3)
    try:
        hosts = [f"127.0.0.{n}" for n in range(10, 30)]
        threads = [threading.Thread(target=lambda h=h: pool.session(pool.endpoint(h), None)
                                    .release()) for h in hosts]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert 1 <= peak[0] <= 3
        assert pool._live == 20
    finally:
        pool.close()


def test_the_least_recently_used_idle_connection_makes_room(tmp_path: Path, sshd) -> None:
    pool = make_pool(tmp_path, sshd, max_transports=2)
    try:
        first = pool.session(pool.endpoint("127.0.0.31"), None)
        second = pool.session(pool.endpoint("127.0.0.32"), None)
        first.release()
        time.sleep(0.01)
        second.release()
        third = pool.session(pool.endpoint("127.0.0.33"), None)
        assert not first.connection.alive() and second.connection.alive()
        assert pool._live == 2
        third.release()
    finally:
        pool.close()


def test_at_the_limit_with_nothing_idle_a_new_connection_waits(tmp_path: Path, sshd) -> None:
    pool = make_pool(tmp_path, sshd, max_transports=1)
    try:
        busy = pool.session(pool.endpoint("127.0.0.34"), None)
        got: List[Lease] = []
        waiter = threading.Thread(target=lambda: got.append(
            pool.session(pool.endpoint("127.0.0.35"), None)))
        waiter.start()
        waiter.join(0.5)
        assert waiter.is_alive() and not got  # (waiting for a free connection)
        busy.release()
        waiter.join(30)
        assert got and not busy.connection.alive()
        got[0].release()
    finally:
        pool.close()


def test_a_stop_request_ends_the_wait(tmp_path: Path, sshd) -> None:
    pool = make_pool(tmp_path, sshd, max_transports=1)
    try:
        busy = pool.session(pool.endpoint("127.0.0.36"), None)
        cancel = threading.Event()
        cancel.set()
        with pytest.raises(Interrupted, match="interrupted while waiting for a connection"):
            pool.session(pool.endpoint("127.0.0.37"), cancel)
        busy.release()
    finally:
        pool.close()


def test_check_runs_true_and_the_run_reuses_the_connection(pool: SshPool, sshd) -> None:
    assert pool.check("127.0.0.40", 10) == ""
    lease = pool.session(pool.endpoint("127.0.0.40"), None)
    assert pool._live == 1
    lease.release()
    port = sshd.free_port()
    problem = pool.check(f"127.0.0.41:{port}", 10)
    assert problem.startswith(f"ssh: {sshd.user}@127.0.0.41 port {port}: connection refused")
    assert pool.check("bad host", 10).startswith("ssh: 'bad host' is not a valid host")


def test_a_dropped_connection_is_opened_again(pool: SshPool) -> None:
    endpoint = pool.endpoint("127.0.0.42")
    lease = pool.session(endpoint, None)
    lease.release()
    lease.connection.transport.close()  # dropped while idle
    again = pool.session(endpoint, None)
    assert again.connection is not lease.connection
    again.release()
    real = again.connection.transport.open_session

    def drop(**_):  # dropped just as a channel is asked for
        again.connection.transport.close()
        raise EOFError()

    again.connection.transport.open_session = drop
    third = pool.session(endpoint, None)
    assert third.connection is not again.connection and third.connection.alive()
    third.release()
    assert real  # (the dropped one's method, kept from being collected early)


def test_proxy_jumps_that_lead_back_to_themselves(tmp_path: Path, sshd) -> None:
    pool = make_pool(tmp_path, sshd, "Host loopa\n    HostName 127.0.0.43\n"
                                     "    ProxyJump loopb\nHost loopb\n    HostName 127.0.0.44\n"
                                     "    ProxyJump loopa\n")
    try:
        with pytest.raises(SshError, match="lead back to themselves"):
            pool.session(pool.endpoint("loopa"), None)
    finally:
        pool.close()


def test_a_closed_pool_closes_its_connections_and_refuses_more(tmp_path: Path, sshd) -> None:
    pool = make_pool(tmp_path, sshd)
    lease = pool.session(pool.endpoint("127.0.0.45"), None)
    lease.release()
    pool.close()
    assert not lease.connection.alive()
    with pytest.raises(Interrupted, match="connections are closed"):
        pool.session(pool.endpoint("127.0.0.45"), None)


def test_config_errors_reach_the_caller_as_sentences(tmp_path: Path, sshd) -> None:
    pool = make_pool(tmp_path, sshd, "Host px\n    ProxyCommand nc %h %p\n")
    try:
        with pytest.raises(SshConfigError):
            pool.endpoint("px")
    finally:
        pool.close()


def test_hosts_behind_a_jump_host_at_the_transport_limit_all_get_through(tmp_path: Path,
                                                                         sshd) -> None:
    """Six hosts behind one jump host, three connections allowed: the jump host's connection
    is taken before a target's room, so targets waiting for room never starve it."""
    pool = make_pool(tmp_path, sshd, "Host 127.0.0.5?\n    ProxyJump 127.0.0.49\n",
                     max_transports=3)
    done: List[str] = []
    try:
        def one(host: str) -> None:
            lease = pool.session(pool.endpoint(host), None)
            lease.channel.exec_command("true")
            lease.channel.recv_exit_status()
            lease.release()
            done.append(host)

        threads = [threading.Thread(target=one, args=(f"127.0.0.5{n}",)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert sorted(done) == [f"127.0.0.5{n}" for n in range(6)]
        assert pool._live <= 3
    finally:
        pool.close()


def test_closing_a_tunnelled_connection_never_sends_on_its_closed_tunnel(tmp_path: Path,
                                                                        sshd) -> None:
    """A tunnelled transport's own thread may still be sending (here: its reply to the server
    closing the command's channel, held back 0.3 s) when the pool closes it. Its tunnel must
    close after that last message: data on a closed channel makes sshd drop the jump host's
    whole connection, and every other host behind it with it."""
    pool = make_pool(tmp_path, sshd, "Host 127.0.0.5?\n    ProxyJump 127.0.0.49\n")
    try:
        lease = pool.session(pool.endpoint("127.0.0.56"), None)
        target, jump = lease.connection, lease.connection.jump
        assert jump is not None
        send = jump.transport._send_user_message

        def held_back(message) -> None:
            if threading.current_thread() is target.transport and message.asbytes()[0] == 94:
                time.sleep(0.3)  # (94: channel data, the tunnel's bytes)
            send(message)

        jump.transport._send_user_message = held_back
        lease.channel.exec_command("true")
        end = time.monotonic() + 10
        while not lease.channel.closed and time.monotonic() < end:  # the server closed it
            time.sleep(0.005)
        lease.release()
        pool._retire(target)
        time.sleep(0.6)
        assert jump.alive()
        again = pool.session(pool.endpoint("127.0.0.57"), None)
        assert again.connection.jump is jump
        again.release()
    finally:
        pool.close()


def test_a_jump_needs_room_for_two_connections(tmp_path: Path, sshd) -> None:
    pool = make_pool(tmp_path, sshd, "Host 127.0.0.5?\n    ProxyJump 127.0.0.49\n",
                     max_transports=1)
    try:
        with pytest.raises(SshConfigError, match="takes 2 connections, more than "
                                                 "--ssh-max-transports 1"):
            pool.session(pool.endpoint("127.0.0.50"), None)
    finally:
        pool.close()


def test_a_server_that_allows_fewer_sessions_gets_more_connections(tmp_path: Path,
                                                                  sshd) -> None:
    server = sshd.spawn("MaxSessions 2")
    pool = make_pool(tmp_path, server)
    try:
        leases = hold(pool, "127.0.0.46", 6)
        assert len({id(lease.connection) for lease in leases}) >= 3
        for lease in leases:
            lease.channel.exec_command("true")
            assert lease.channel.recv_exit_status() == 0
            lease.release()
    finally:
        pool.close()
        server.stop()


def test_paramiko_stays_quiet_while_a_cut_off_handshake_thread_still_runs() -> None:
    """A transport whose handshake was given up may log its error after the pool closed:
    restoring paramiko's logger then would let Python print it with a traceback."""
    import logging
    import socket

    import paramiko

    logger = logging.getLogger("paramiko")
    before = (logger.propagate, logger.level, list(logger.handlers))
    ours, theirs = socket.socketpair()
    transport = paramiko.Transport(ours)
    transport.banner_timeout = 30
    restore = quiet_paramiko(Log(stream=io.StringIO()))
    try:
        transport.start_client(event=threading.Event())  # (the peer never says a word)
        restore()
        assert logger.propagate is False  # still quiet: the thread lives
        assert logger.level > logging.CRITICAL
    finally:
        transport.close()
        theirs.close()
        transport.join(10)
        logger.handlers[:] = before[2]  # (the process-wide logger as this test found it)
        logger.propagate = before[0]
        logger.setLevel(before[1])
