"""`[user@]host[:port]` as tasks write hosts, and the hostnames= list rule built on it."""

import pytest

from tasker.syntax.hostspec import HostSpec, parse_host_spec
from tasker.validate.blocks import host_entry_problem


@pytest.mark.parametrize("text,expected", [
    ("web1", HostSpec(None, "web1", None)),
    ("admin@web1", HostSpec("admin", "web1", None)),
    ("web1:2222", HostSpec(None, "web1", 2222)),
    ("admin@web1.example.com:22", HostSpec("admin", "web1.example.com", 22)),
    ("[2001:db8::1]", HostSpec(None, "2001:db8::1", None)),
    ("[2001:db8::1]:2222", HostSpec(None, "2001:db8::1", 2222)),
    ("ops@[::1]:22", HostSpec("ops", "::1", 22)),
    ("2001:db8::1", HostSpec(None, "2001:db8::1", None)),  # bare IPv6: no port
    ("a@b@web1", HostSpec("a@b", "web1", None)),  # (the last @ separates, as ssh does)
    ("127.0.0.2:22", HostSpec(None, "127.0.0.2", 22)),
])
def test_host_specs(text, expected):
    assert parse_host_spec(text) == expected


@pytest.mark.parametrize("text,words", [
    ("@web1", "names no user"),
    ("web1:", "port ''"),
    ("web1:0", "port '0'"),
    ("web1:65536", "port '65536'"),
    ("web1:22x", "port '22x'"),
    ("[::1", "never closes"),
    ("[::1]22", "after ']'"),
    ("[]:22", "names no host"),
    ("admin@", "names no host"),
    (":22", "names no host"),
])
def test_malformed_host_specs_say_why(text, words):
    with pytest.raises(ValueError) as info:
        parse_host_spec(text)
    assert words in str(info.value)


@pytest.mark.parametrize("entry,ok", [
    ("web1:2222", True), ("[2001:db8::1]:22", True), ("admin@10.0.0.5:22", True),
    ("127.0.0.2", True), ("web_1", False), ("10.0.0.256:22", False), ("web1:99999", False),
])
def test_hostnames_entries(entry, ok):
    assert (host_entry_problem(entry) is None) == ok
