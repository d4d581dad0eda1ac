"""Host pre-flight (SPEC II.8.5): DNS, ping and the exec type's connectivity test.

Run before any task: every distinct host that a non-local task uses is resolved,
pinged once, and tested once per exec type it is used with (the probes are in
probes.py). This module plans which hosts to check with which exec types,
checks hosts concurrently with a bound, so a thousand hosts take seconds, and
sums up. The outcome is a value (exit code, FQDNs, counts, one sentence per
failure); only the CLI turns it into an exit.
"""

from __future__ import annotations

import os
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from types import MappingProxyType
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from tasker.exec.base import SSH
from tasker.exec.exectypes import ExecConfig
from tasker.exec.ssh.errors import SshError
from tasker.record import field, record, replace
from tasker.report.logger import Log
from tasker.syntax.ast import BLOCK_TYPES, Task, TaskFile
from tasker.syntax.placeholders import GLOBAL_REF, TASK_REF
from tasker.validate.probes import (
    HOSTS_FILE,
    Lookups,
    ask_mc_isac,
    connectivity,
    ping,
    read_hosts_file,
    resolve,
    search_path,
    validation_timeout,
)

EXIT_OK, EXIT_CONFIG, EXIT_DNS, EXIT_PING, EXIT_CONNECT = 0, 20, 21, 60, 61
LOCAL = "local"
MAX_LISTED_TASKS = 10  # a sentence names at most this many task IDs


@record(frozen=True)
class HostCheckOptions:
    """The switches and environment host validation depends on."""

    skip_unresolved: bool = False      # --skip-unresolved-host-validation
    skip_command: bool = False         # --skip-command-validation
    cli_exec_type: Optional[str] = None  # -t
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    concurrency: int = 32
    hosts_file: str = HOSTS_FILE
    # The run's SSH connections (made on first use): `endpoint(spec)` tells where an ssh
    # host leads, `check(spec, timeout)` opens a session there and runs `true`.
    ssh: Optional[Callable[[], Any]] = None


@record(frozen=True)
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


@record
class _Plan:
    """Which hosts to check with which exec types, and by which tasks."""

    uses: Dict[str, Dict[str, List[str]]] = field(default_factory=dict)  # host -> exec -> tasks
    exec_tasks: Dict[str, List[str]] = field(default_factory=dict)  # exec -> tasks (non-local)
    exec_counts: Dict[str, int] = field(default_factory=dict)
    unresolved: List[str] = field(default_factory=list)  # sentences


@record(frozen=True)
class _HostReport:
    """The checks of one host: whether its name resolved, its FQDN, and failures."""

    host: str
    fqdn: Optional[str]  # the name to run on instead (None: keep the name as written)
    failures: Tuple[Tuple[int, str], ...]  # (exit code it implies, sentence)
    resolved: bool = True


def check_hosts(tf: TaskFile, config: ExecConfig, opts: HostCheckOptions, log: Log,
                cancel: Optional[threading.Event] = None) -> HostCheckResult:
    """Validate every host the task file uses (SPEC II.8.5); never raises for a bad host.

    Once `cancel` is set (a signal), no probe starts and the running ones are ended
    (their process groups killed) before this returns or lets an exception through.
    """
    plan = _scan(tf, config, opts)
    if plan.unresolved and not opts.skip_unresolved:
        return _stopped(plan, EXIT_CONFIG, plan.unresolved, exec_ok=True)
    for sentence in plan.unresolved:
        log.info(f"{sentence}; it is resolved at run time and not validated now")
    if not opts.skip_command:
        code, errors = _check_exec_types(plan, config, opts.environ)
        if errors:
            return _stopped(plan, code, errors, exec_ok=False)
    reports = _check_all(plan, config, opts, log, cancel or threading.Event())
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


def _check_exec_types(plan: _Plan, config: ExecConfig,
                      environ: Mapping[str, str]) -> Tuple[int, List[str]]:
    """Every used exec type configured (else 20) and its binary on PATH (else 61)."""
    missing, not_found = [], []
    for xname, labels in plan.exec_tasks.items():
        xtype = config.types.get(xname)
        if xtype is None:
            known = ", ".join(sorted(config.types))
            missing.append(f"Execution type '{xname}' ({_tasks(labels)}) is not configured; "
                           f"known types: {known}")
        elif xtype.binary and shutil.which(xtype.binary, path=search_path(environ)) is None:
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
    code = next((c for c in (EXIT_CONFIG, EXIT_CONNECT, EXIT_PING, EXIT_DNS) if c in codes),
                EXIT_OK)
    return HostCheckResult(
        exit_code=code,
        fqdn=MappingProxyType(fqdn),
        dns_ok=sum(r.resolved for r in reports),
        dns_total=len(reports),
        # connectivity is tested on the hosts that resolved
        conn_ok=sum(r.resolved and not r.failures for r in reports),
        conn_total=sum(r.resolved for r in reports),
        exec_counts=MappingProxyType(dict(plan.exec_counts)),
        errors=tuple(sentence for r in reports for _, sentence in r.failures),
    )


# -- checking hosts ---------------------------------------------------------------------

@record(frozen=True)
class _Context:
    """What every host check needs; shared read-only by the worker threads."""

    config: ExecConfig
    opts: HostCheckOptions
    hosts: Mapping[str, Tuple[str, Tuple[str, ...]]]  # hosts file: name -> (canonical, addrs)
    resolver: Lookups
    log: Log
    cancel: threading.Event  # set by a signal: start no probe, end the running ones


def _check_all(plan: _Plan, config: ExecConfig, opts: HostCheckOptions, log: Log,
               cancel: threading.Event) -> List[_HostReport]:
    """Check every host once, at most `opts.concurrency` at a time; reports in host order."""
    if not plan.uses:
        return []
    workers = max(1, min(opts.concurrency, len(plan.uses)))
    log.debug(f"# Host validation: checking {len(plan.uses)} host(s), {workers} at a time")
    # Lookups get their own pool: a checker waiting on a lookup queued behind
    # other checkers in the same pool would deadlock.
    resolver = Lookups(workers)
    ctx = _Context(config, opts, read_hosts_file(opts.hosts_file), resolver, log, cancel)
    pool = ThreadPoolExecutor(workers, thread_name_prefix="tasker-hosts")
    try:
        return list(pool.map(lambda item: _check_host(ctx, *item), plan.uses.items()))
    finally:
        # A signal raises here in the main thread and sets `cancel`: the hosts not
        # started are dropped, and the running checks are waited for, so that their
        # probes' process groups are dead before tasker ends.
        # (A lookup past its time limit runs on, on a daemon thread: see Lookups.)
        pool.shutdown(wait=True, cancel_futures=True)


def _check_host(ctx: _Context, host: str, uses: Mapping[str, List[str]]) -> _HostReport:
    """Check one host as written: as an SSH host for the ssh exec types that use it, as a
    name for the others (a host used both ways gets both checks)."""
    ssh_uses = {x: g for x, g in uses.items() if _is_ssh(ctx.config, x)}
    if not ssh_uses:
        return _check_named_host(ctx, host, uses)
    report = _check_ssh_host(ctx, host, ssh_uses)
    if len(ssh_uses) == len(uses):
        return report
    other = _check_named_host(ctx, host, {x: g for x, g in uses.items() if x not in ssh_uses})
    return replace(other, failures=report.failures + other.failures,
                   resolved=report.resolved and other.resolved)


def _is_ssh(config: ExecConfig, xname: str) -> bool:
    """Whether exec type `xname` runs its commands over SSH."""
    xtype = config.types.get(xname)
    return xtype is not None and xtype.transport == SSH


def _check_ssh_host(ctx: _Context, spec: str, uses: Mapping[str, List[str]]) -> _HostReport:
    """An ssh host: DNS of the name ssh_config leads to (HostName), ping unless it is behind a
    ProxyJump (then the jump host reaches it, and only it may resolve its name), then a session
    that runs `true`. The name is never replaced by its FQDN: ssh_config's Host patterns and
    known_hosts know it as written."""
    labels = [label for group in uses.values() for label in group]
    who = f"Host '{spec}' ({_tasks(labels)})"
    if ctx.cancel.is_set():
        return _HostReport(spec, None, ((EXIT_DNS, f"{who}: not checked (stopped by a signal)"),),
                           resolved=False)
    ssh = ctx.opts.ssh() if ctx.opts.ssh is not None else None
    if ssh is None:
        return _HostReport(spec, None, ((EXIT_CONFIG, f"{who}: SSH is not available"),), False)
    try:
        endpoint = ssh.endpoint(spec)
    except SshError as exc:
        return _HostReport(spec, None, ((EXIT_CONFIG, f"{who}: {exc.sentence}"),), False)
    if not endpoint.proxy_jump:
        found, why = resolve(endpoint.hostname, ctx.hosts, ctx.resolver, ctx.cancel)
        if found is None:
            return _HostReport(spec, None, ((EXIT_DNS, f"{who}: DNS lookup of "
                                             f"{endpoint.hostname} failed: {why}"),), False)
        problem = ping(found[1], ctx.opts.environ, ctx.cancel)
        if problem:
            return _HostReport(spec, None, ((EXIT_PING, f"{who}: ping {found[1]} failed: "
                                             f"{problem}"),))
    problem = ssh.check(spec, validation_timeout(ctx.config, SSH, ctx.opts.environ), ctx.cancel)
    if problem:
        return _HostReport(spec, None, ((EXIT_CONNECT, f"{who}: {problem}"),))
    ctx.log.debug(f"Host '{spec}': ssh connectivity OK")
    return _HostReport(spec, None, ())


def _check_named_host(ctx: _Context, host: str, uses: Mapping[str, List[str]]) -> _HostReport:
    """Resolve, ping, then run each exec type's connectivity test; stop at the first failure."""
    labels = [label for group in uses.values() for label in group]
    who = f"Host '{host}' ({_tasks(labels)})"
    if ctx.cancel.is_set():
        return _HostReport(host, None, ((EXIT_DNS, f"{who}: not checked (stopped by a signal)"),),
                           resolved=False)
    found, why = resolve(host, ctx.hosts, ctx.resolver, ctx.cancel)
    if found is None and not ctx.cancel.is_set():
        found = ask_mc_isac(host, ctx.opts.environ, ctx.log, ctx.cancel)
    if found is None:
        return _HostReport(host, None, ((EXIT_DNS, f"{who}: DNS lookup failed: {why}"),),
                           resolved=False)
    fqdn, address = found
    ctx.log.debug(f"Host '{host}': resolved to {fqdn} ({address})")
    problem = ping(address, ctx.opts.environ, ctx.cancel)
    if problem:
        return _HostReport(host, fqdn, ((EXIT_PING, f"{who}: ping {address} failed: {problem}"),))
    ctx.log.debug(f"Host '{host}': ping {address} OK")
    failures = []
    for xname, group in uses.items():
        problem = connectivity(ctx.config, ctx.opts.environ, ctx.log, host, xname, ctx.cancel)
        if problem:
            failures.append((EXIT_CONNECT, f"Host '{host}' ({_tasks(group)}): {problem}"))
        else:
            ctx.log.debug(f"Host '{host}': {xname} connectivity OK")
    return _HostReport(host, fqdn, tuple(failures))
