"""Host pre-flight (SPEC II.8.5): DNS, ping and the exec type's connectivity test.

Run before any task: every distinct host that a non-local task uses is resolved
(hosts file, then the system resolver with a time limit), pinged once, and for
each exec type it is used with, the type's `validation_test` is run through the
type's own argv template (`pbrun -n -h H pbtest`). Hosts are checked
concurrently with a bound, so a thousand hosts take seconds. The outcome is a
value (exit code, FQDNs, counts, one sentence per failure); only the CLI turns
it into an exit.
"""

from __future__ import annotations

import ipaddress
import os
import shlex
import shutil
import socket
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from tasker.exec.base import CommandResult
from tasker.exec.exectypes import ArgumentsError, ExecConfig, build_argv
from tasker.exec.process import run_simple
from tasker.report.logger import Log, shorten
from tasker.syntax.ast import BLOCK_TYPES, Task, TaskFile
from tasker.syntax.placeholders import GLOBAL_REF, TASK_REF

EXIT_OK, EXIT_CONFIG, EXIT_DNS, EXIT_PING, EXIT_CONNECT = 0, 20, 21, 60, 61
HOSTS_FILE = "/etc/hosts"
DNS_TIMEOUT = 5.0
PING_TIMEOUT = 5.0
DEFAULT_TEST_TIMEOUT = 10.0
MC_ISAC_TIMEOUT = 10.0
LOCAL, SSH = "local", "ssh"
MAX_LISTED_TASKS = 10  # a sentence names at most this many task IDs


@dataclass(frozen=True)
class HostCheckOptions:
    """The switches and environment host validation depends on."""

    skip_unresolved: bool = False      # --skip-unresolved-host-validation
    skip_command: bool = False         # --skip-command-validation
    cli_exec_type: Optional[str] = None  # -t
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    concurrency: int = 32
    hosts_file: str = HOSTS_FILE


@dataclass(frozen=True)
class HostCheckResult:
    """What host validation found; `errors` holds one sentence per failure."""

    exit_code: int                     # 0, 20, 21 (DNS only), 60 (ping), 61 (connectivity/binary)
    fqdn: Mapping[str, str]            # written hostname -> resolved FQDN (only where they differ)
    dns_ok: int
    dns_total: int
    conn_ok: int
    conn_total: int
    exec_counts: Mapping[str, int]     # exec type -> number of tasks using it
    errors: Tuple[str, ...]
    hosts_checked: bool = True         # False when validation stopped before any host was checked
    exec_ok: bool = True               # every exec type configured and its binary found


@dataclass
class _Plan:
    """Which hosts to check with which exec types, and by which tasks."""

    uses: Dict[str, Dict[str, List[str]]] = field(default_factory=dict)  # host -> exec -> tasks
    exec_tasks: Dict[str, List[str]] = field(default_factory=dict)  # exec -> tasks (non-local)
    exec_counts: Dict[str, int] = field(default_factory=dict)
    unresolved: List[str] = field(default_factory=list)  # sentences


@dataclass(frozen=True)
class _HostReport:
    """The checks of one host: its FQDN (None when it did not resolve) and failures."""

    host: str
    fqdn: Optional[str]
    failures: Tuple[Tuple[int, str], ...]  # (exit code it implies, sentence)


def check_hosts(tf: TaskFile, config: ExecConfig, opts: HostCheckOptions,
                log: Log) -> HostCheckResult:
    """Validate every host the task file uses (SPEC II.8.5); never raises for a bad host."""
    plan = _scan(tf, config, opts)
    if plan.unresolved and not opts.skip_unresolved:
        return _stopped(plan, EXIT_CONFIG, plan.unresolved, exec_ok=True)
    for sentence in plan.unresolved:
        log.info(f"{sentence}; it is resolved at run time and not validated now")
    if not opts.skip_command:
        code, errors = _check_exec_types(plan, config, opts.environ)
        if errors:
            return _stopped(plan, code, errors, exec_ok=False)
    reports = _check_all(plan, config, opts, log)
    return _collect(plan, reports)


def apply_fqdn(tf: TaskFile, fqdn: Mapping[str, str]) -> TaskFile:
    """A TaskFile whose `hostname` fields equal to a validated name carry its FQDN."""
    if not fqdn:
        return tf
    tasks: Dict[int, Task] = {}
    for tid, task in tf.tasks.items():
        f = task.fields.get("hostname")
        new_name = fqdn.get(f.value.strip()) if f is not None else None
        if f is None or new_name is None:
            tasks[tid] = task
            continue
        fields = dict(task.fields)
        fields["hostname"] = f._replace(value=new_name)
        tasks[tid] = replace(task, fields=MappingProxyType(fields))
    return replace(tf, tasks=MappingProxyType(tasks))


# -- the scan: hosts, exec types, unresolved names -------------------------------------

def _label(task: Task) -> str:
    """The task's name in messages: `N`, or `P-S` for a generated `hostnames=` sub-task."""
    return str(task.id) if task.generated_by is None else f"{task.generated_by}-{task.id}"


def _unresolved(text: str) -> bool:
    return bool(TASK_REF.search(text) or GLOBAL_REF.search(text))


def _exec_name(task: Task, config: ExecConfig, opts: HostCheckOptions) -> str:
    """Task `exec` > -t > TASK_EXECUTOR_TYPE > config default, canonical when configured."""
    written = (task.get("exec") or "").strip() or opts.cli_exec_type \
        or opts.environ.get("TASK_EXECUTOR_TYPE") or config.default_exec_type or LOCAL
    # C22: names compare case-insensitively, so `exec=LOCAL` is local.
    return config.canonical(written) or written.strip().lower()


def _scan(tf: TaskFile, config: ExecConfig, opts: HostCheckOptions) -> _Plan:
    """Walk the tasks once: collect unresolved names and host -> exec type -> tasks."""
    plan = _Plan()
    for task in tf.tasks.values():
        host = (task.get("hostname") or "").strip()
        if not host or task.type in BLOCK_TYPES:
            continue
        label = _label(task)
        if _unresolved(host):
            plan.unresolved.append(f"Task {label}: hostname '{host}' contains unresolved "
                                   "placeholders")
            host = ""
        xname = _exec_name(task, config, opts)
        if _unresolved(xname):
            continue  # decided at run time
        plan.exec_counts[xname] = plan.exec_counts.get(xname, 0) + 1
        if xname == LOCAL:
            continue
        plan.exec_tasks.setdefault(xname, []).append(label)
        if host:
            plan.uses.setdefault(host, {}).setdefault(xname, []).append(label)
    return plan


def _tasks(labels: Sequence[str]) -> str:
    """`task 3` / `tasks 3, 9` (long lists shortened)."""
    shown = ", ".join(labels[:MAX_LISTED_TASKS])
    if len(labels) > MAX_LISTED_TASKS:
        shown += f" and {len(labels) - MAX_LISTED_TASKS} more"
    return f"{'task' if len(labels) == 1 else 'tasks'} {shown}"


def _search_path(environ: Mapping[str, str]) -> str:
    return environ.get("PATH", os.defpath)


def _check_exec_types(plan: _Plan, config: ExecConfig,
                      environ: Mapping[str, str]) -> Tuple[int, List[str]]:
    """Every used exec type configured (else 20) and its binary on PATH (else 61)."""
    missing, not_found = [], []
    for xname, labels in plan.exec_tasks.items():
        xtype = config.types.get(xname)
        if xname == SSH and xtype is None:
            continue  # ssh is built in (paramiko), it needs no binary
        if xtype is None:
            known = ", ".join(sorted(config.types))
            missing.append(f"Execution type '{xname}' ({_tasks(labels)}) is not configured; "
                           f"known types: {known}")
        elif xtype.binary and shutil.which(xtype.binary, path=_search_path(environ)) is None:
            not_found.append(f"Execution type '{xname}' ({_tasks(labels)}): program "
                             f"'{xtype.binary}' not found on PATH")
    return (EXIT_CONFIG, missing + not_found) if missing else (EXIT_CONNECT, not_found)


def _stopped(plan: _Plan, code: int, errors: Sequence[str], exec_ok: bool) -> HostCheckResult:
    """The result when validation stops before checking any host."""
    total = len(plan.uses)
    return HostCheckResult(code, MappingProxyType({}), 0, total, 0, total,
                           MappingProxyType(dict(plan.exec_counts)), tuple(errors),
                           hosts_checked=False, exec_ok=exec_ok)


def _collect(plan: _Plan, reports: Sequence[_HostReport]) -> HostCheckResult:
    """Combine the host reports: FQDNs, counts, and the exit code of the worst failure."""
    fqdn = {r.host: r.fqdn for r in reports if r.fqdn is not None and r.fqdn != r.host}
    codes = {code for r in reports for code, _ in r.failures}
    code = next((c for c in (EXIT_CONNECT, EXIT_PING, EXIT_DNS) if c in codes), EXIT_OK)
    return HostCheckResult(
        exit_code=code,
        fqdn=MappingProxyType(fqdn),
        dns_ok=sum(r.fqdn is not None for r in reports),
        dns_total=len(reports),
        conn_ok=sum(not r.failures for r in reports),
        conn_total=len(reports),
        exec_counts=MappingProxyType(dict(plan.exec_counts)),
        errors=tuple(sentence for r in reports for _, sentence in r.failures),
    )


# -- checking hosts ---------------------------------------------------------------------

@dataclass(frozen=True)
class _Context:
    """What every host check needs; shared read-only by the worker threads."""

    config: ExecConfig
    opts: HostCheckOptions
    hosts: Mapping[str, Tuple[str, Tuple[str, ...]]]  # hosts file: name -> (canonical, addrs)
    resolver: ThreadPoolExecutor
    log: Log


def _check_all(plan: _Plan, config: ExecConfig, opts: HostCheckOptions,
               log: Log) -> List[_HostReport]:
    """Check every host once, at most `opts.concurrency` at a time; reports in host order."""
    if not plan.uses:
        return []
    workers = max(1, min(opts.concurrency, len(plan.uses)))
    log.debug(f"# Host validation: checking {len(plan.uses)} host(s), {workers} at a time")
    # Lookups get their own pool: a checker waiting on a lookup queued behind
    # other checkers in the same pool would deadlock.
    resolver = ThreadPoolExecutor(workers, thread_name_prefix="tasker-dns")
    ctx = _Context(config, opts, read_hosts_file(opts.hosts_file), resolver, log)
    try:
        with ThreadPoolExecutor(workers, thread_name_prefix="tasker-hosts") as pool:
            return list(pool.map(lambda item: _check_host(ctx, *item), plan.uses.items()))
    finally:
        resolver.shutdown(wait=False)  # a lookup past its time limit must not hold us up


def _check_host(ctx: _Context, host: str, uses: Mapping[str, List[str]]) -> _HostReport:
    """Resolve, ping, then run each exec type's connectivity test; stop at the first failure."""
    labels = [label for group in uses.values() for label in group]
    who = f"Host '{host}' ({_tasks(labels)})"
    found, why = resolve(host, ctx.hosts, ctx.resolver)
    if found is None:
        found = _ask_mc_isac(host, ctx.opts.environ, ctx.log)
    if found is None:
        return _HostReport(host, None, ((EXIT_DNS, f"{who}: DNS lookup failed: {why}"),))
    fqdn, address = found
    ctx.log.debug(f"Host '{host}': resolved to {fqdn} ({address})")
    problem = _ping(address, ctx.opts.environ)
    if problem:
        return _HostReport(host, fqdn, ((EXIT_PING, f"{who}: ping {address} failed: {problem}"),))
    ctx.log.debug(f"Host '{host}': ping {address} OK")
    failures = []
    for xname, group in uses.items():
        problem = _connectivity(ctx, host, xname)
        if problem:
            failures.append((EXIT_CONNECT, f"Host '{host}' ({_tasks(group)}): {problem}"))
        else:
            ctx.log.debug(f"Host '{host}': {xname} connectivity OK")
    return _HostReport(host, fqdn, tuple(failures))


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


def resolve(name: str, hosts: Mapping[str, Tuple[str, Tuple[str, ...]]],
            resolver: ThreadPoolExecutor) -> Tuple[Optional[Tuple[str, str]], str]:
    """((FQDN, address), "") for a name that resolves, else (None, reason)."""
    if _is_address(name):
        return (name, name), ""
    entry = hosts.get(name.lower())
    if entry is not None:
        return (entry[0], _pick(entry[1])), ""
    if name.lower().rstrip(".").rsplit(".", 1)[-1] == "invalid":
        # RFC 6761 6.4: resolution APIs should answer "no" for .invalid without asking DNS.
        return None, "the name is in the reserved .invalid domain"
    lookup: Future = resolver.submit(socket.getaddrinfo, name, None, 0, 0, 0,
                                     socket.AI_CANONNAME)
    try:
        infos = lookup.result(timeout=DNS_TIMEOUT)
    except FutureTimeout:
        lookup.cancel()
        return None, f"no answer within {DNS_TIMEOUT:g} seconds"
    except socket.gaierror as exc:
        return None, exc.strerror or str(exc)
    except (OSError, UnicodeError, ValueError) as exc:  # e.g. a label longer than 63 chars
        return None, str(exc) or type(exc).__name__
    if not infos:
        return None, "no addresses"
    canonical = infos[0][3] or name
    return (canonical, _pick([str(info[4][0]) for info in infos])), ""


def _ask_mc_isac(name: str, environ: Mapping[str, str],
                 log: Log) -> Optional[Tuple[str, str]]:
    """(FQDN, FQDN) from `op mc_isac -f NAME` when DNS does not know the name, else None.

    Sites whose inventory lives outside DNS ship the `op` tool; where it is not
    installed this fallback is silently absent, as in the original.
    """
    program = shutil.which("op", path=_search_path(environ))
    if program is None:
        return None
    result = run_simple((program, "mc_isac", "-f", name), MC_ISAC_TIMEOUT)
    words = result.stdout.split()
    if result.exit_code != 0 or result.timed_out or not words:
        log.debug(f"Host '{name}': op mc_isac found nothing ({_why(result, MC_ISAC_TIMEOUT)})")
        return None
    log.debug(f"Host '{name}': op mc_isac answered {words[0]}")
    return words[0], words[0]


# -- ping and connectivity tests --------------------------------------------------------

def _program(name: str, environ: Mapping[str, str]) -> str:
    """`name` found on the PATH of `environ` (the run's PATH, not necessarily ours)."""
    if os.sep in name:
        return name
    return shutil.which(name, path=_search_path(environ)) or name


def _why(result: CommandResult, limit: float) -> str:
    """A short reason for a failed command: timeout, not found, or its last output line."""
    if result.timed_out:
        return f"no answer within {limit:g} seconds"
    if result.not_found:
        return result.stderr.strip()
    lines = [ln.strip() for ln in (result.stderr + "\n" + result.stdout).splitlines()]
    last = next((ln for ln in lines if ln), "")
    return f"exit code {result.exit_code}" + (f" ({shorten(last, 120)})" if last else "")


def _ping(address: str, environ: Mapping[str, str]) -> str:
    """"" when one echo request to `address` is answered, else the reason."""
    result = run_simple((_program("ping", environ), "-c", "1", "-W", "1", address),
                        PING_TIMEOUT)
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


def _connectivity(ctx: _Context, host: str, xname: str) -> str:
    """"" when exec type `xname` reaches `host` (its validation_test passes), else why not."""
    if xname == SSH:
        # HOOK(ssh): the SSH issue (SPEC I.5) adds "open a session and run `true`" here.
        return ""
    xtype = ctx.config.types.get(xname)
    if xtype is None or xtype.validation is None:
        return ""  # unconfigured (only with --skip-command-validation) or no test: pass
    test = xtype.validation
    try:
        argv = build_argv(xtype, host, test.command, test.arguments)
    except ArgumentsError as exc:
        return f"{xname} connectivity test cannot be built: {exc.message}"
    timeout = validation_timeout(ctx.config, xname, ctx.opts.environ)
    shown = shlex.join(argv)
    ctx.log.debug(f"Host '{host}': running {xname} connectivity test: {shown}")
    result = run_simple((_program(argv[0], ctx.opts.environ),) + argv[1:], timeout)
    if result.exit_code != test.expected_exit or result.timed_out:
        expected = "" if result.timed_out else f", expected {test.expected_exit}"
        return f"{xname} connectivity test `{shown}` failed: {_why(result, timeout)}{expected}"
    if test.expected_output is not None and test.expected_output not in result.stdout:
        return (f"{xname} connectivity test `{shown}` failed: its output does not contain "
                f"'{test.expected_output}' ({shorten(result.stdout, 120) or 'no output'})")
    return ""
