"""A task's host for ssh: the syntax of tasker.syntax.hostspec, its errors as SshErrors.

Every failure on the way to a remote command is an SshError (exit 255 for the task),
so a host that is not `[user@]host[:port]` is one too, with a hint on the forms.
"""

from __future__ import annotations

from tasker.exec.ssh.errors import HostSpecError
from tasker.syntax import hostspec
from tasker.syntax.hostspec import HostSpec

HINT = "write [user@]host[:port], with an IPv6 address in brackets: [2001:db8::1]:2222"

__all__ = ["HINT", "HostSpec", "parse_host_spec"]


def parse_host_spec(text: str) -> HostSpec:
    """The HostSpec of `text`; HostSpecError (a sentence with a hint) when it is not one."""
    try:
        return hostspec.parse_host_spec(text)
    except hostspec.HostSpecError as exc:
        raise HostSpecError(f"ssh: {exc} ({HINT})") from None
