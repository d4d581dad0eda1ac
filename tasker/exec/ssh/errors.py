"""What can go wrong on the way to a remote command, as sentences an operator can act on.

Every failure before the command runs (a bad host spec, ssh_config, DNS, a refused
or lost connection, the host key, authentication, a channel the server will not
open) is an `SshError` carrying one sentence that names the host and the cause.
The executor turns it into a task result with exit 255, as `ssh` does; nothing
here ever reaches the operator as a traceback.
"""

from __future__ import annotations


class SshError(Exception):
    """A failure on the way to a remote command: `sentence` names the host and the cause."""

    def __init__(self, sentence: str) -> None:
        super().__init__(sentence)
        self.sentence = sentence


class HostSpecError(SshError):
    """A task's host is not `[user@]host[:port]` (or `[user@][v6][:port]`)."""


class SshConfigError(SshError):
    """ssh_config cannot be read, or says something tasker cannot do."""


class ConnectError(SshError):
    """The connection could not be made, or was lost (DNS, refused, timeout, handshake)."""


class HostKeyError(SshError):
    """The host's key is unknown (and may not be recorded), changed or revoked."""


class AuthError(SshError):
    """No key was accepted (or none could be used) for the user on the host."""


class ChannelError(SshError):
    """The server refused a session channel or the command on an open connection."""


class Interrupted(SshError):
    """The run was stopped (a signal) before the remote command started."""
