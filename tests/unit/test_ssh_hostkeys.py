"""known_hosts: lookups (plain, hashed, [host]:port, patterns, @revoked), decisions, and
appending new keys from many threads and processes at once."""

from __future__ import annotations

import base64
import hashlib
import hmac
import multiprocessing
import os
import threading
from pathlib import Path
from typing import List, Tuple

import pytest

from tasker.exec.ssh.config import Endpoint
from tasker.exec.ssh.errors import HostKeyError
from tasker.exec.ssh.hostkeys import KnownHosts, fingerprint, known_hosts_line

ED = "ssh-ed25519"


def blob(n: int, keytype: str = ED) -> bytes:
    """A distinct fake key blob (host keys are only compared, never parsed)."""
    name = keytype.encode()
    return len(name).to_bytes(4, "big") + name + hashlib.sha256(str(n).encode()).digest()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def endpoint(tmp_path: Path, host: str = "web1", port: int = 22, strict: str = "yes",
             hashed: bool = False) -> Endpoint:
    return Endpoint(alias=host, user="u", hostname=host, port=port, identity_files=(),
                    connect_timeout=10.0, known_hosts_files=(str(tmp_path / "known_hosts"),),
                    global_known_hosts_files=(str(tmp_path / "global_known_hosts"),),
                    strict_host_key_checking=strict, hash_known_hosts=hashed)


def hashed_name(name: str, salt: bytes = b"s" * 20) -> str:
    digest = hmac.new(salt, name.encode(), hashlib.sha1).digest()
    return f"|1|{b64(salt)}|{b64(digest)}"


def known(tmp_path: Path, text: str, file: str = "known_hosts") -> KnownHosts:
    (tmp_path / file).write_text(text)
    return KnownHosts(lambda _: None, lambda _: None)


def test_fingerprint_is_openssh_s() -> None:
    data = blob(1)
    expected = "SHA256:" + base64.b64encode(hashlib.sha256(data).digest()).decode().rstrip("=")
    assert fingerprint(data) == expected and not expected.endswith("=")


@pytest.mark.parametrize("line", [
    "web1 {t} {k}", "other,WEB1 {t} {k}", "{h} {t} {k}", "web* {t} {k}",
    "w?b1,!web2 {t} {k}", "@cert-authority *.example {t} {k0}\nweb1 {t} {k}",
    "# comment\n\nbad line\nweb1 {t} not-base64!\nweb1 {t} {k}",
])
def test_a_known_key_is_accepted(tmp_path: Path, line: str) -> None:
    text = line.format(t=ED, k=b64(blob(1)), k0=b64(blob(0)), h=hashed_name("web1")) + "\n"
    hosts = known(tmp_path, text)
    hosts.verify(endpoint(tmp_path), ED, blob(1))
    assert hosts.key_types(endpoint(tmp_path)) == [ED]


def test_port_form_and_global_file(tmp_path: Path) -> None:
    hosts = known(tmp_path, f"[web1]:2222 {ED} {b64(blob(1))}\n", "global_known_hosts")
    hosts.verify(endpoint(tmp_path, port=2222), ED, blob(1))
    with pytest.raises(HostKeyError, match="the host key is not known"):
        hosts.verify(endpoint(tmp_path, port=22), ED, blob(1))


def test_a_negated_pattern_does_not_match(tmp_path: Path) -> None:
    hosts = known(tmp_path, f"web*,!web1 {ED} {b64(blob(1))}\n")
    hosts.verify(endpoint(tmp_path, "web2"), ED, blob(1))
    with pytest.raises(HostKeyError, match="not known"):
        hosts.verify(endpoint(tmp_path, "web1"), ED, blob(1))


def test_an_unknown_host_message_says_how_to_trust_it(tmp_path: Path) -> None:
    hosts = known(tmp_path, "")
    with pytest.raises(HostKeyError) as info:
        hosts.verify(endpoint(tmp_path, port=2222), ED, blob(1))
    sentence = info.value.sentence
    assert sentence.startswith("ssh: u@web1 port 2222: the host key is not known "
                               f"(ssh-ed25519 {fingerprint(blob(1))}); ")
    assert f"ssh-keyscan -p 2222 web1 >> {tmp_path / 'known_hosts'}" in sentence
    assert "--ssh-accept-new" in sentence and "\n" not in sentence
    assert (tmp_path / "known_hosts").read_text() == ""


def test_a_changed_key_is_refused_even_with_accept_new(tmp_path: Path) -> None:
    text = f"# first\nweb1 {ED} {b64(blob(1))}\n"
    hosts = known(tmp_path, text)
    with pytest.raises(HostKeyError) as info:
        hosts.verify(endpoint(tmp_path, strict="accept-new"), ED, blob(2))
    sentence = info.value.sentence
    assert f"HOST KEY CHANGED: {tmp_path / 'known_hosts'}:2 holds ssh-ed25519 " \
        f"{fingerprint(blob(1))} for web1, the host now presents ssh-ed25519 " \
        f"{fingerprint(blob(2))}" in sentence
    assert f"ssh-keygen -R 'web1' -f {tmp_path / 'known_hosts'}" in sentence
    assert (tmp_path / "known_hosts").read_text() == text


def test_a_key_of_another_type_for_a_known_host_is_refused(tmp_path: Path) -> None:
    hosts = known(tmp_path, f"web1 ecdsa-sha2-nistp256 {b64(blob(1, 'ecdsa-sha2-nistp256'))}\n")
    with pytest.raises(HostKeyError, match="HOST KEY CHANGED"):
        hosts.verify(endpoint(tmp_path, strict="accept-new"), ED, blob(2))
    assert hosts.key_types(endpoint(tmp_path)) == ["ecdsa-sha2-nistp256"]


def test_rsa_hosts_ask_for_rsa_sha2_first(tmp_path: Path) -> None:
    hosts = known(tmp_path, f"web1 ssh-rsa {b64(blob(1, 'ssh-rsa'))}\n")
    assert hosts.key_types(endpoint(tmp_path)) == ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"]


def test_a_revoked_key_is_refused(tmp_path: Path) -> None:
    hosts = known(tmp_path, f"@revoked * {ED} {b64(blob(1))}\nweb1 {ED} {b64(blob(1))}\n")
    with pytest.raises(HostKeyError, match=r"revoked key .*known_hosts:1"):
        hosts.verify(endpoint(tmp_path), ED, blob(1))


def test_accept_new_appends_one_line_and_remembers_it(tmp_path: Path) -> None:
    told: List[str] = []
    (tmp_path / "known_hosts").write_text(f"other {ED} {b64(blob(9))}")  # (no newline at end)
    hosts = KnownHosts(told.append, told.append)
    ep = endpoint(tmp_path, port=2222, strict="accept-new")
    hosts.verify(ep, ED, blob(1))
    hosts.verify(ep, ED, blob(1))
    lines = (tmp_path / "known_hosts").read_text().splitlines()
    assert lines == [f"other {ED} {b64(blob(9))}", f"[web1]:2222 {ED} {b64(blob(1))}"]
    assert len(told) == 1 and "added the host key of u@web1 port 2222" in told[0]
    with pytest.raises(HostKeyError, match="CHANGED"):
        hosts.verify(ep, ED, blob(2))


def test_accept_new_hashes_the_name_when_config_says_so(tmp_path: Path) -> None:
    ep = endpoint(tmp_path, strict="accept-new", hashed=True)
    line = known_hosts_line(ep, ED, blob(1))
    assert line.startswith("|1|") and "web1" not in line
    hosts = known(tmp_path, "")
    hosts.verify(ep, ED, blob(1))
    KnownHosts(lambda _: None, lambda _: None).verify(endpoint(tmp_path), ED, blob(1))


def test_an_unwritable_file_warns_and_the_connection_goes_on(tmp_path: Path) -> None:
    warned: List[str] = []
    (tmp_path / "known_hosts").mkdir()  # a directory: cannot be opened for appending
    hosts = KnownHosts(lambda _: None, warned.append)
    hosts.verify(endpoint(tmp_path, strict="accept-new"), ED, blob(1))
    assert len(warned) == 1 and "could not add the host key" in warned[0]


def test_a_line_still_being_written_is_not_read(tmp_path: Path) -> None:
    hosts = known(tmp_path, f"web1 {ED} {b64(blob(1))}\nweb2 {ED} {b64(blob(2))[:10]}")
    hosts.verify(endpoint(tmp_path, "web1"), ED, blob(1))
    with pytest.raises(HostKeyError, match="not known"):
        hosts.verify(endpoint(tmp_path, "web2"), ED, blob(2))


def _record_many(path: str, names: List[str]) -> None:
    """(In another process.) Record every name's key with accept-new."""
    hosts = KnownHosts(lambda _: None, lambda _: None)
    tmp = Path(path)
    threads = [threading.Thread(target=hosts.verify, args=(
        endpoint(tmp, name, strict="accept-new"), ED, blob(int(name[1:])))) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_many_threads_and_processes_append_whole_lines_once(tmp_path: Path) -> None:
    """Four processes of 25 threads record 50 hosts, each host by two processes at once:
    every host is recorded exactly once, and no line is torn."""
    names = [f"h{n}" for n in range(50)]
    work: List[Tuple[str, List[str]]] = [(str(tmp_path), names[:25]), (str(tmp_path), names[:25]),
                                         (str(tmp_path), names[25:]), (str(tmp_path), names[25:])]
    context = multiprocessing.get_context("fork")
    procs = [context.Process(target=_record_many, args=args) for args in work]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    lines = (tmp_path / "known_hosts").read_text().splitlines()
    assert sorted(lines) == sorted(f"{n} {ED} {b64(blob(int(n[1:])))}" for n in names)
    assert oct(os.stat(tmp_path / "known_hosts").st_mode & 0o777) == "0o600"
