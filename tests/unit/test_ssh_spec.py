"""Host specs of ssh tasks: `[user@]host[:port]` and IPv6 in brackets."""

from __future__ import annotations

import pytest

from tasker.exec.ssh.errors import HostSpecError
from tasker.exec.ssh.spec import HostSpec, parse_host_spec


@pytest.mark.parametrize("text, expected", [
    ("web1", HostSpec("web1")),
    ("admin@web1", HostSpec("web1", "admin")),
    ("web1.example.com:2222", HostSpec("web1.example.com", None, 2222)),
    ("admin@10.0.0.5:22", HostSpec("10.0.0.5", "admin", 22)),
    ("[2001:db8::1]", HostSpec("2001:db8::1")),
    ("[2001:db8::1]:2222", HostSpec("2001:db8::1", None, 2222)),
    ("deploy@[::1]:2200", HostSpec("::1", "deploy", 2200)),
    ("::1", HostSpec("::1")),
    ("fe80::1%eth0", HostSpec("fe80::1%eth0")),
    ("HOST$@web_2", HostSpec("web_2", "HOST$")),
    ("  web1  ", HostSpec("web1")),
])
def test_the_forms_of_a_host(text: str, expected: HostSpec) -> None:
    assert parse_host_spec(text) == expected


@pytest.mark.parametrize("text", ["web1", "admin@web1:2222", "[::1]:22", "u@[2001:db8::1]"])
def test_a_spec_prints_as_written(text: str) -> None:
    assert str(parse_host_spec(text)) == text


@pytest.mark.parametrize("text, why", [
    ("", "the task names no host"),
    ("web1:0", "the port '0' is not a number from 1 to 65535"),
    ("web1:65536", "the port '65536' is not a number from 1 to 65535"),
    ("web1:ssh", "the port 'ssh' is not a number"),
    ("web1:", "the port '' is not a number"),
    ("@web1", "'' is not a user name"),
    ("a b@web1", "'a b' is not a user name"),
    ("root@", "the host is empty"),
    ("web 1", "the host 'web 1' is not a host name or address"),
    ("web1/x", "is not a host name or address"),
    ("-oProxyCommand=x", "is not a host name or address"),
    ("[::1", "the '[' of an IPv6 address is not closed"),
    ("[::1]x", "'x' follows the address"),
    ("[web1]:22", "'web1' is not an IPv6 address"),
    ("1:2:x:y", "'1:2:x:y' is not an IPv6 address"),
])
def test_a_bad_host_is_one_sentence_with_a_hint(text: str, why: str) -> None:
    with pytest.raises(HostSpecError) as info:
        parse_host_spec(text)
    assert why in info.value.sentence
    assert "\n" not in info.value.sentence
    if text:
        assert info.value.sentence.startswith(f"ssh: '{text.strip()}' is not a valid host: ")
    assert "[user@]host[:port]" in info.value.sentence


def _fanout_errors(hosts: str) -> list:
    from tasker.syntax.taskfile import LoadOptions, build_task_file
    from tasker.validate.blocks import block_errors

    text = f"task=0\ntype=parallel\nhostnames={hosts}\nexec=ssh\ncommand=true\n"
    return [d.message for d in block_errors(build_task_file("t.txt", text, LoadOptions()))]


def test_hostnames_lists_take_ssh_s_port_forms() -> None:
    assert _fanout_errors("web1:2222,[2001:db8::1]:22,[::1],ops@web2:2200,10.0.0.1") == []


@pytest.mark.parametrize("bad, why", [
    ("web1:x", "the port 'x' is not a number from 1 to 65535"),
    ("[web1]:22", "'web1' is not an IPv6 address"),
    ("10.0.0.256:22", "'10.0.0.256' is not a host name, IPv4 or IPv6 address"),
    ("web1:0", "the port '0' is not a number from 1 to 65535"),
])
def test_hostnames_lists_still_refuse_bad_hosts(bad: str, why: str) -> None:
    assert _fanout_errors(f"web1,{bad}") == [f"Task 0: '{bad}' is not a valid host: {why}"]
