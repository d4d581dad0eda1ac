"""What the command line says about SSH, as one value the SSH modules share."""

from __future__ import annotations

from typing import Any, Mapping, Optional

from tasker.record import field, record

DEFAULT_MAX_CONNECT = 32
DEFAULT_MAX_TRANSPORTS = 256


@record(frozen=True)
class SshOptions:
    """The SSH options of one run (`--ssh-*`) and the environment they are read in."""

    config_file: Optional[str] = None  # --ssh-config: instead of ~/.ssh/config, /etc/ssh/...
    user: Optional[str] = None  # --ssh-user
    connect_timeout: Optional[float] = None  # --ssh-connect-timeout (seconds)
    accept_new: bool = False  # --ssh-accept-new
    max_connect: int = DEFAULT_MAX_CONNECT  # --ssh-max-connect: handshakes at once
    max_transports: int = DEFAULT_MAX_TRANSPORTS  # --ssh-max-transports: live connections
    environ: Mapping[str, str] = field(default_factory=dict)  # HOME, USER, SSH_AUTH_SOCK


def ssh_options(options: Any, environ: Mapping[str, str]) -> SshOptions:
    """The SshOptions of the run's merged options (tasker.options.Options)."""
    return SshOptions(
        config_file=options.ssh_config, user=options.ssh_user,
        connect_timeout=options.ssh_connect_timeout, accept_new=bool(options.ssh_accept_new),
        max_connect=options.ssh_max_connect or DEFAULT_MAX_CONNECT,
        max_transports=options.ssh_max_transports or DEFAULT_MAX_TRANSPORTS,
        environ=dict(environ))
