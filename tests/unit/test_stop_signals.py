"""The stop-signal router, and the alert script's own process group (timeout, signal)."""

from __future__ import annotations

import io
import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from test_process import wait_for_pid

from tasker import alert as alert_module
from tasker.interrupt import Interrupt
from tasker.options import merge, parse_cli
from tasker.report.logger import Log
from tasker.report.paths import run_paths
from tasker.session import Session
from tasker.signals import STOP_SIGNALS, SignalRouter, Stopped, exit_code, signal_name


def send_to_self(signum: int) -> None:
    """Deliver `signum` and give the interpreter a moment to run its handler."""
    os.kill(os.getpid(), signum)
    for _ in range(100):
        time.sleep(0.01)  # (the handler runs between these)


@pytest.mark.parametrize("signum, code", [(signal.SIGHUP, 129), (signal.SIGINT, 130),
                                          (signal.SIGTERM, 143)])
def test_exit_codes_and_names(signum: int, code: int) -> None:
    assert exit_code(signum) == code
    assert signal_name(signum) == signal.Signals(signum).name


def test_the_first_signal_raises_once_then_signals_only_trigger() -> None:
    router = SignalRouter().install()
    try:
        with pytest.raises(Stopped) as caught:
            send_to_self(signal.SIGHUP)
        assert (caught.value.name, caught.value.exit_code) == ("SIGHUP", 129)
        send_to_self(signal.SIGTERM)  # no second exception: the clean-up runs on
        assert router.interrupt.event.is_set() and router.interrupt.stop.is_set()
        assert router.interrupt.signum == signal.SIGHUP  # the first one counts
    finally:
        router.uninstall()


def test_after_stop_raising_signals_only_trigger_the_interrupt() -> None:
    router = SignalRouter().install()
    try:
        router.stop_raising()
        send_to_self(signal.SIGINT)
        assert router.interrupt.signum == signal.SIGINT
    finally:
        router.uninstall()


def test_routed_to_sends_signals_elsewhere_for_a_while() -> None:
    router = SignalRouter().install()
    router.stop_raising()
    try:
        with router.routed_to(Interrupt()) as alert:
            send_to_self(signal.SIGTERM)
        assert alert.signum == signal.SIGTERM
        assert router.interrupt.signum is None  # the run's own was not touched
    finally:
        router.uninstall()


def test_uninstall_gives_the_handlers_back() -> None:
    before = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    router = SignalRouter().install()
    assert all(signal.getsignal(signum) == router._handle for signum in STOP_SIGNALS)
    router.uninstall()
    assert {signum: signal.getsignal(signum) for signum in STOP_SIGNALS} == before


def test_install_outside_the_main_thread_changes_nothing() -> None:
    before = signal.getsignal(signal.SIGHUP)
    thread = threading.Thread(target=lambda: SignalRouter().install())
    thread.start()
    thread.join()
    assert signal.getsignal(signal.SIGHUP) == before


# --- the alert script ------------------------------------------------------------------

def gone(pid: int) -> bool:
    """True once `pid` has ended (a SIGKILL takes effect when the process is next scheduled)."""
    end = time.monotonic() + 5
    while time.monotonic() < end:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.02)
    return False




def alert_session(tmp_path: Path, console: io.StringIO) -> Session:
    """A real run's session whose alert script starts a TERM-ignoring grandchild, then hangs."""
    alert = tmp_path / "alert.sh"
    alert.write_text("#!/bin/sh\n"
                     f"sh -c 'trap \"\" TERM; echo $$ > {tmp_path}/grandchild; exec sleep 100' "
                     "</dev/null >/dev/null 2>&1 &\n"
                     "exec sleep 100\n")
    alert.chmod(0o755)
    task_file = tmp_path / "flow.txt"
    options = merge(parse_cli([str(task_file), "-r", "--alert-on-failure", str(alert),
                               "--output-json", str(tmp_path / "r.json")]), {})
    paths = run_paths(tmp_path / "logs", task_file, time.time(), None)
    return Session(task_file, options, Log(stream=console), paths, dict(os.environ))


def test_the_alert_timeout_kills_its_whole_group(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(alert_module, "ALERT_TIMEOUT", 0.5)
    console = io.StringIO()
    session = alert_session(tmp_path, console)
    assert session.finish(3, "failed", "task 0 failed") == 3
    assert "Alert script timeout after 0.5 seconds" in console.getvalue()
    assert gone(int((tmp_path / "grandchild").read_text()))


def test_a_signal_during_the_alert_ends_its_group_and_changes_the_code(tmp_path: Path) -> None:
    console = io.StringIO()
    session = alert_session(tmp_path, console)

    def operator() -> None:  # the signal, as the router hands it to the alert's Interrupt
        wait_for_pid(tmp_path / "grandchild")
        session.signals.interrupt.trigger(signal.SIGHUP)

    threading.Thread(target=operator).start()
    assert session.finish(3, "failed", "task 0 failed") == 129
    assert gone(int((tmp_path / "grandchild").read_text()))
    assert "Received SIGHUP while the alert script ran; it was stopped" in console.getvalue()
    report = json.loads((tmp_path / "r.json").read_text())
    assert (report["workflow_metadata"]["status"], report["workflow_metadata"]["exit_code"]) \
        == ("interrupted", 129)
    assert report["execution_summary"]["failure_info"]["exit_code"] == 129
