"""The probes of one host (SPEC II.8.5): its name, ping, and an exec type's own test.

Name resolution looks in the hosts file, then asks the system resolver with a
time limit, then `op mc_isac` where that tool is installed. Ping sends one
echo request. The connectivity test runs the exec type's `validation_test`
through the type's own argv template (`pbrun -n -h H pbtest`). Each probe
returns a value or a reason; hosts.py decides what they mean for the run.
"""

from __future__ import annotations

import ipaddress
import os
import shlex
import shutil
import socket
import threading
import time
from concurrent.futures import Future, TimeoutError as FutureTimeout
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from tasker.exec.base import CommandResult
from tasker.exec.exectypes import ArgumentsError, ExecConfig, build_argv
from tasker.exec.process import run_simple
from tasker.report.logger import Log, shorten

HOSTS_FILE = "/etc/hosts"
DNS_TIMEOUT = 5.0
PING_TIMEOUT = 5.0
DEFAULT_TEST_TIMEOUT = 10.0
MC_ISAC_TIMEOUT = 10.0
_CANCEL_POLL = 0.1  # a DNS wait looks at the cancel event this often


def search_path(environ: Mapping[str, str]) -> str:
    """The PATH programs are looked up on: the run's, not necessarily ours."""
    return environ.get("PATH", os.defpath)


# -- name resolution --------------------------------------------------------------------

def read_hosts_file(path: str = HOSTS_FILE) -> Mapping[str, Tuple[str, Tuple[str, ...]]]:
    """Parse a hosts file: lower-cased name -> (canonical name, addresses in file order)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return {}
    table: Dict[str, Tuple[str, List[str]]] = {}
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) < 2 or not _is_address(words[0]):
            continue
        for name in words[1:]:
            # The first line naming a host gives its canonical name (the line's first name).
            canonical, addresses = table.setdefault(name.lower(), (words[1], []))
            addresses.append(words[0])
    return {name: (canonical, tuple(addrs)) for name, (canonical, addrs) in table.items()}


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text.split("%", 1)[0])  # allow a zone: fe80::1%eth0
    except ValueError:
        return False
    return True


def _pick(addresses: Sequence[str]) -> str:
    """Prefer an IPv4 address: `ping` and most wrappers reach those most reliably."""
    return next((a for a in addresses if ":" not in a), addresses[0])


class Lookups:
    """Runs name lookups on daemon threads, at most `workers` at once.

    getaddrinfo cannot be stopped: a lookup past its time limit is only no longer
    waited for. On a daemon thread it cannot keep tasker alive once the run is over
    (a ThreadPoolExecutor's threads are joined at the interpreter's exit).
    """

    def __init__(self, workers: int) -> None:
        self._slots = threading.BoundedSemaphore(workers)

    def submit(self, fn: Callable[..., Any], *args: Any) -> "Future[Any]":
        """`fn(*args)` on its own daemon thread once a slot is free; its Future."""
        future: "Future[Any]" = Future()

        def run() -> None:
            with self._slots:
                if not future.set_running_or_notify_cancel():
                    return  # (cancelled while it waited for a slot)
                try:
                    future.set_result(fn(*args))
                except BaseException as exc:  # noqa: BLE001 - handed to the waiter
                    future.set_exception(exc)

        threading.Thread(target=run, name="tasker-dns", daemon=True).start()
        return future


def resolve(name: str, hosts: Mapping[str, Tuple[str, Tuple[str, ...]]],
            resolver: Lookups, cancel: Optional[threading.Event] = None
            ) -> Tuple[Optional[Tuple[str, str]], str]:
    """((FQDN, address), "") for a name that resolves, else (None, reason)."""
    if _is_address(name):
        return (name, name), ""
    entry = hosts.get(name.lower())
    if entry is not None:
        return (entry[0], _pick(entry[1])), ""
    if name.lower().rstrip(".").rsplit(".", 1)[-1] == "invalid":
        # RFC 6761 6.4: resolution APIs should answer "no" for .invalid without asking DNS.
        return None, "the name is in the reserved .invalid domain"
    lookup: Future[Any] = resolver.submit(socket.getaddrinfo, name, None, 0, 0, 0,
                                     socket.AI_CANONNAME)
    try:
        infos = _answer(lookup, DNS_TIMEOUT, cancel)
    except _Cancelled:
        lookup.cancel()
        return None, "stopped by a signal"
    except FutureTimeout:
        lookup.cancel()
        return None, f"no answer within {DNS_TIMEOUT:g} seconds"
    except socket.gaierror as exc:
        return None, exc.strerror or str(exc)
    except UnicodeError:  # the IDNA codec refuses the name before any lookup
        return None, ("not a valid host name (a dot-separated part is empty or longer than "
                      "63 characters)")
    except (OSError, ValueError) as exc:
        return None, str(exc) or type(exc).__name__
    if not infos:
        return None, "no addresses"
    canonical = infos[0][3] or name
    return (canonical, _pick([str(info[4][0]) for info in infos])), ""


class _Cancelled(Exception):
    """The wait for an answer was cut short by `cancel`."""


def _answer(lookup: Future[Any], limit: float, cancel: Optional[threading.Event]) -> Any:
    """The lookup's result within `limit` seconds; raises FutureTimeout, or _Cancelled
    as soon as `cancel` is set (the lookup itself cannot be stopped, only not waited for)."""
    if cancel is None:
        return lookup.result(timeout=limit)
    deadline = time.monotonic() + limit
    while True:
        if cancel.is_set():
            raise _Cancelled()
        left = deadline - time.monotonic()
        try:
            return lookup.result(timeout=max(0.0, min(_CANCEL_POLL, left)))
        except FutureTimeout:
            if left <= _CANCEL_POLL:
                raise


def ask_mc_isac(name: str, environ: Mapping[str, str], log: Log,
                cancel: Optional[threading.Event] = None) -> Optional[Tuple[str, str]]:
    """(FQDN, FQDN) from `op mc_isac -f NAME` when DNS does not know the name, else None.

    Sites whose inventory lives outside DNS ship the `op` tool; where it is not
    installed this fallback is silently absent, as in the original.
    """
    program = shutil.which("op", path=search_path(environ))
    if program is None:
        return None
    result = run_simple((program, "mc_isac", "-f", name), MC_ISAC_TIMEOUT, cancel)
    words = result.stdout.split()
    if result.exit_code != 0 or result.timed_out or not words:
        log.debug(f"Host '{name}': op mc_isac found nothing "
                  f"({_why(result, MC_ISAC_TIMEOUT, log)})")
        return None
    log.debug(f"Host '{name}': op mc_isac answered {words[0]}")
    return words[0], words[0]


# -- ping and connectivity tests --------------------------------------------------------

def _program(name: str, environ: Mapping[str, str]) -> str:
    """`name` found on the PATH of `environ` (the run's PATH, not necessarily ours)."""
    if os.sep in name:
        return name
    return shutil.which(name, path=search_path(environ)) or name


def _why(result: CommandResult, limit: float, log: Optional[Log] = None) -> str:
    """A short reason for a failed command: timeout, not found, or its last output line
    (masked before it is cut, given the run's `log`)."""
    if result.timed_out:
        return f"no answer within {limit:g} seconds"
    if result.not_found:
        return result.stderr.strip()
    lines = [ln.strip() for ln in (result.stderr + "\n" + result.stdout).splitlines()]
    last = next((ln for ln in lines if ln), "")
    cut = log.shorten(last, 120) if log is not None else shorten(last, 120)
    return f"exit code {result.exit_code}" + (f" ({cut})" if last else "")


def ping(address: str, environ: Mapping[str, str],
         cancel: Optional[threading.Event] = None) -> str:
    """"" when one echo request to `address` is answered, else the reason."""
    result = run_simple((_program("ping", environ), "-c", "1", "-W", "1", address),
                        PING_TIMEOUT, cancel)
    return "" if result.exit_code == 0 else _why(result, PING_TIMEOUT)


def validation_timeout(config: ExecConfig, xname: str, environ: Mapping[str, str]) -> float:
    """VALIDATION_TEST_TIMEOUT > the test's timeout > default_validation_timeout > 10 s."""
    try:
        value = float(environ.get("VALIDATION_TEST_TIMEOUT", ""))
        if value > 0:
            return value
    except ValueError:
        pass
    xtype = config.types.get(xname)
    test = xtype.validation if xtype is not None else None
    if test is not None and test.timeout:
        return float(test.timeout)
    return float(config.default_validation_timeout or DEFAULT_TEST_TIMEOUT)


def connectivity(config: ExecConfig, environ: Mapping[str, str], log: Log, host: str,
                 xname: str, cancel: Optional[threading.Event] = None) -> str:
    """"" when exec type `xname` reaches `host` (its validation_test passes), else why not.

    The test runs as a task does: own process group, killed on its timeout or when
    `cancel` is set (SIGTERM, then SIGKILL).
    """
    xtype = config.types.get(xname)
    if xtype is None or xtype.validation is None:
        return ""  # unconfigured (only with --skip-command-validation) or no test: pass
    test = xtype.validation
    try:
        argv = build_argv(xtype, host, test.command, test.arguments)
    except ArgumentsError as exc:
        return f"{xname} connectivity test cannot be built: {exc.message}"
    timeout = validation_timeout(config, xname, environ)
    shown = shlex.join(argv)
    log.debug(f"Host '{host}': running {xname} connectivity test: {shown}")
    result = run_simple((_program(argv[0], environ),) + argv[1:], timeout, cancel)
    if result.exit_code != test.expected_exit or result.timed_out:
        expected = "" if result.timed_out or result.not_found \
            else f", expected {test.expected_exit}"
        return (f"{xname} connectivity test `{shown}` failed: {_why(result, timeout, log)}"
                f"{expected}")
    if test.expected_output is not None and test.expected_output not in result.stdout:
        return (f"{xname} connectivity test `{shown}` failed: its output does not contain "
                f"'{test.expected_output}' ({log.shorten(result.stdout, 120) or 'no output'})")
    return ""
