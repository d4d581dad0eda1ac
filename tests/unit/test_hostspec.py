"""The hostnames= rule on each entry: `[user@]host[:port]` with a valid host name or address.

(The forms themselves are tested in test_ssh_spec.py, through the ssh wrapper.)
"""

import pytest

from tasker.validate.blocks import host_entry_problem


@pytest.mark.parametrize("entry,problem", [
    ("web1:2222", None),
    ("[2001:db8::1]:22", None),
    ("admin@10.0.0.5:22", None),
    ("127.0.0.2", None),
    ("2001:db8::1", None),
    ("web_1", "'web_1' is not a valid host: 'web_1' is not a host name, IPv4 or IPv6"),
    ("10.0.0.256:22", "'10.0.0.256' is not a host name"),
    ("web1:99999", "the port '99999' is not a number from 1 to 65535"),
    ("[::1", "the '[' of an IPv6 address is not closed"),
    ("@web1", "'' is not a user name"),
])
def test_hostnames_entries(entry, problem):
    found = host_entry_problem(entry)
    assert (found is None) if problem is None else (problem in (found or ""))
