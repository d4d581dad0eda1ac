"""Logging in: ssh-agent first, then key files; never a password or a passphrase prompt.

The agent is the one named by SSH_AUTH_SOCK in the run's environment; each
login talks to it over a connection of its own (so a thousand logins at once
never share one). Key files are IdentityFile's, else ~/.ssh/id_ed25519,
id_ecdsa and id_rsa, each read once per run. A key file protected by a
passphrase cannot be used (tasker runs unattended): when no other key got in,
the sentence says to add it to ssh-agent.
"""

from __future__ import annotations

import socket
import threading
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from tasker.exec.ssh.config import Endpoint
from tasker.exec.ssh.errors import AuthError, ConnectError

AGENT_TIMEOUT = 10.0  # seconds an agent may take to answer (it may ask for confirmation)
Wait = Callable[[threading.Event, str], None]  # waits for an event, honouring cancel/deadline


class KeyFiles:
    """Private keys read from files, each once per run (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loaded: Dict[str, Tuple[Optional[Any], str]] = {}

    def load(self, path: str) -> Tuple[Optional[Any], str]:
        """(the key, "") or (None, why it cannot be used; "" for a file that is not there)."""
        with self._lock:
            found = self._loaded.get(path)
            if found is None:
                found = self._loaded[path] = _read_key(path)
            return found


def _read_key(path: str) -> Tuple[Optional[Any], str]:
    import paramiko

    try:
        return paramiko.PKey.from_path(path), ""
    except (FileNotFoundError, NotADirectoryError):
        return None, ""
    except (TypeError, paramiko.PasswordRequiredException):  # (cryptography: no password)
        return None, "passphrase"
    except OSError as exc:
        return None, f"cannot be read: {exc.strerror or exc}"
    except Exception as exc:  # noqa: BLE001 - ValueError, UnknownKeyType, SSHException
        return None, f"is not a private key tasker can use: {exc}"


def authenticate(transport: Any, endpoint: Endpoint, environ: Mapping[str, str],
                 keys: KeyFiles, wait: Wait) -> None:
    """Log `endpoint.user` in on `transport`, or raise AuthError (ConnectError if it dropped)."""
    tried: List[str] = []
    agent = _agent(environ)
    try:
        offered = set()
        for key in (agent.get_keys() if agent is not None else ()):
            offered.add(key.asbytes())
            tried.append(f"ssh-agent key {key.comment or key.get_name()}")
            if _accepted(transport, endpoint, key, wait):
                return
    finally:
        if agent is not None:
            agent._close()
    problems: List[Tuple[str, str]] = []
    for path in endpoint.identity_files:
        key, problem = keys.load(path)
        if key is None:
            if problem:
                problems.append((path, problem))
            continue
        if key.asbytes() in offered:
            continue  # (the agent holds it: already refused)
        tried.append(path)
        if _accepted(transport, endpoint, key, wait):
            return
    raise AuthError(failure_message(endpoint, tried, problems, environ))


def _agent(environ: Mapping[str, str]) -> Optional[Any]:
    """The agent of SSH_AUTH_SOCK with its keys listed, or None (none, or it does not answer)."""
    path = environ.get("SSH_AUTH_SOCK")
    if not path:
        return None
    from paramiko.agent import AgentSSH

    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.settimeout(AGENT_TIMEOUT)
    agent = AgentSSH()
    try:
        conn.connect(path)
        # (paramiko's Agent reads os.environ: this is the run's agent; _connect is not typed)
        agent._connect(conn)  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - a stale socket is as good as no agent
        conn.close()
        return None
    return agent


def _accepted(transport: Any, endpoint: Endpoint, key: Any, wait: Wait) -> bool:
    """Whether the server let the user in with `key` (a refusal is False)."""
    import paramiko

    done = threading.Event()
    try:
        transport.auth_publickey(endpoint.user, key, done)
        wait(done, "to authentication")
        left = transport.auth_handler.wait_for_response(done)  # (raises why it failed)
    except paramiko.BadAuthenticationType as exc:
        raise AuthError(f"ssh: {endpoint.describe()}: the server does not accept keys for "
                        f"{endpoint.user} (it allows: {', '.join(exc.allowed_types)}); tasker "
                        "logs in with keys only") from None
    except paramiko.AuthenticationException:
        if not transport.is_active():
            raise ConnectError(f"ssh: {endpoint.describe()}: the server closed the connection "
                               "during authentication (too many keys offered? see its "
                               "MaxAuthTries)") from None
        return False
    except paramiko.SSHException as exc:
        raise ConnectError(f"ssh: {endpoint.describe()}: connection lost during "
                           f"authentication: {exc}") from None
    if left:  # (the server wants a second factor as well)
        raise AuthError(f"ssh: {endpoint.describe()}: the key was accepted, but the server "
                        f"also asks for {', '.join(left)}; tasker logs in with keys only")
    return bool(transport.is_authenticated())


def failure_message(endpoint: Endpoint, tried: List[str], problems: List[Tuple[str, str]],
                    environ: Mapping[str, str]) -> str:
    """Why nobody could log in, and what to do about it."""
    where = f"ssh: {endpoint.describe()}"
    locked = [path for path, problem in problems if problem == "passphrase"]
    refused = f" (refused: {', '.join(tried)})" if tried else ""
    if locked:
        return (f"{where}: the key {locked[0]} is protected by a passphrase: add it to "
                f"ssh-agent (ssh-add {locked[0]}); tasker never asks for a passphrase"
                f"{refused}")
    broken = "; ".join(f"the key {path} {problem}" for path, problem in problems)
    if not tried:
        agent = "ssh-agent has no key" if environ.get("SSH_AUTH_SOCK") else \
            "no ssh-agent (SSH_AUTH_SOCK is not set)"
        files = ", ".join(endpoint.identity_files) or "none"
        return (f"{where}: no key to log in with: {agent}, and no usable key file ({files}"
                f"{'; ' + broken if broken else ''}); name one with IdentityFile in ssh_config")
    return (f"{where}: authentication failed for user {endpoint.user}: the server accepted "
            f"none of {', '.join(tried)}{'; ' + broken if broken else ''}; is the public key "
            f"in ~{endpoint.user}/.ssh/authorized_keys on the host?")
