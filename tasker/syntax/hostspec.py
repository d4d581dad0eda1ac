"""A host as a task writes it: `[user@]host[:port]`, IPv6 addresses in brackets.

The forms are those of `ssh` and `scp`: `host`, `user@host`, `host:port`,
`user@host:port`, `[v6]`, `[v6]:port`, `user@[v6]:port`; a bare IPv6 address
(`::1`, `fe80::1%eth0`) is accepted too, without a port. `hostname=` and the
entries of a `hostnames=` list use them; for `exec=ssh` the host part is what
ssh_config's `Host` patterns are matched against (the alias), so it is kept
exactly as written, never replaced by a fully qualified name.
"""

from __future__ import annotations

import re
from typing import Optional, Tuple

from tasker.record import record

# A name or an IPv4 address (letters, digits, '.', '-', '_'), an IPv6 address (hex
# digits, ':', '.' for an embedded IPv4, '%zone'), a user name (POSIX portable
# characters, a Samba machine account's trailing '$').
_NAME = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9._-]*[A-Za-z0-9_])?\Z")
_IPV6 = re.compile(r"[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(?:%[A-Za-z0-9._-]+)?\Z")
_USER = re.compile(r"[A-Za-z0-9._][A-Za-z0-9._-]*\$?\Z")
_PORT = re.compile(r"[0-9]{1,5}\Z")
MAX_PORT = 65535


class HostSpecError(ValueError):
    """A host that is not `[user@]host[:port]`: `why` says what is wrong with `written`."""

    def __init__(self, written: str, why: str) -> None:
        super().__init__(f"'{written}' is not a valid host: {why}" if written else why)
        self.written, self.why = written, why


@record(frozen=True)
class HostSpec:
    """The parts of a task's host: user and port when written, the host (alias) always."""

    host: str
    user: Optional[str] = None
    port: Optional[int] = None

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        user = f"{self.user}@" if self.user else ""
        return f"{user}{host}" + (f":{self.port}" if self.port is not None else "")


def parse_host_spec(text: str) -> HostSpec:
    """The HostSpec of `text`; HostSpecError (saying why) when it is not one."""
    written = text.strip()
    if not written:
        raise HostSpecError("", "the task names no host")
    user, sep, rest = written.rpartition("@")
    if sep and not _USER.match(user):
        raise HostSpecError(written, f"'{user}' is not a user name")
    host, port = _host_and_port(written, rest)
    return HostSpec(host=host, user=user if sep else None, port=port)


def _host_and_port(written: str, rest: str) -> Tuple[str, Optional[int]]:
    """The host and the port of `rest` (the spec without `user@`)."""
    if rest.startswith("["):
        inside, closing, tail = rest[1:].partition("]")
        if not closing:
            raise HostSpecError(written, "the '[' of an IPv6 address is not closed")
        if not _IPV6.match(inside):
            raise HostSpecError(written, f"'{inside}' is not an IPv6 address")
        if tail and not tail.startswith(":"):
            raise HostSpecError(written, f"'{tail}' follows the address (a port is written "
                                "]:PORT)")
        return inside, _port(written, tail[1:]) if tail else None
    if rest.count(":") > 1:  # a bare IPv6 address: no port possible
        if not _IPV6.match(rest):
            raise HostSpecError(written, f"'{rest}' is not an IPv6 address")
        return rest, None
    host, colon, port = rest.partition(":")
    if not _NAME.match(host):
        raise HostSpecError(written, f"the host '{host}' is not a host name or address"
                            if host else "the host is empty")
    return host, _port(written, port) if colon else None


def _port(written: str, text: str) -> int:
    """A TCP port written after the host."""
    if not _PORT.match(text) or not 1 <= int(text) <= MAX_PORT:
        raise HostSpecError(written, f"the port '{text}' is not a number from 1 to {MAX_PORT}")
    return int(text)
