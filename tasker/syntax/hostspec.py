"""A host as a task names it: `[user@]host[:port]`, an IPv6 address in brackets with a port.

`hostname=` and the entries of a `hostnames=` list may name the SSH user and
port with the host (`admin@web1:2222`, `[2001:db8::1]:22`); an IPv6 address
without a port may also be written bare (`2001:db8::1`). The exec types that
take a plain host name receive the text as written.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

MAX_PORT = 65535


class HostSpec(NamedTuple):
    """The parts of a host as written: user and port are None when not given."""

    user: Optional[str]
    host: str
    port: Optional[int]


def parse_host_spec(text: str) -> HostSpec:
    """The parts of `[user@]host[:port]`; ValueError with a sentence when it is malformed."""
    user, at, rest = text.rpartition("@")
    if at and not user:
        raise ValueError(f"'{text}' names no user before '@'")
    if rest.startswith("["):
        host, close, tail = rest[1:].partition("]")
        if not close:
            raise ValueError(f"'{text}' opens '[' for an IPv6 address and never closes it")
        if tail and not tail.startswith(":"):
            raise ValueError(f"'{text}' has '{tail}' after ']' (expected ':PORT')")
        port_text: Optional[str] = tail[1:] if tail else None
    elif rest.count(":") == 1:
        host, _, port_text = rest.partition(":")
    else:  # a name, or an IPv6 address without a port
        host, port_text = rest, None
    if not host:
        raise ValueError(f"'{text}' names no host")
    return HostSpec(user or None, host, None if port_text is None else _port(text, port_text))


def _port(text: str, port: str) -> int:
    """A TCP port written after the host."""
    if not (port.isascii() and port.isdigit()) or not 1 <= int(port[:6]) <= MAX_PORT:
        raise ValueError(f"'{text}' has port '{port}'; a port is a number from 1 to {MAX_PORT}")
    return int(port)
