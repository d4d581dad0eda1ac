"""ProcessExecutor against real processes: capture, limits, timeouts, cancel, start errors."""

from __future__ import annotations

import os
import sys
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Sequence

import pytest

from tasker.exec.base import MEMORY_LIMIT, CommandResult, CommandSpec, format_seconds
from tasker.exec.process import ProcessExecutor, run_script, run_simple

PY = sys.executable


def run(tmp_path: Path, argv: Sequence[str], timeout: float = 10, cancel=None) -> CommandResult:
    executor = ProcessExecutor(tmp_path / "spool")
    spec = CommandSpec(tuple(argv), timeout, " ".join(argv))
    return executor.run(spec, cancel or threading.Event())


def py(code: str) -> list:
    return [PY, "-c", code]


def gone(pid: int, within: float = 2.0) -> bool:
    """True when `pid` no longer runs (absent, or a zombie nobody reaped yet)."""
    end = time.monotonic() + within
    while time.monotonic() < end:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.02)
    return False


# --- exit codes and capture -------------------------------------------------------------

@pytest.mark.parametrize("code", [0, 1, 3, 255])
def test_exit_code_is_reported(tmp_path: Path, code: int) -> None:
    result = run(tmp_path, ["sh", "-c", f"exit {code}"])
    assert (result.exit_code, result.timed_out, result.not_found) == (code, False, False)


def test_stdout_and_stderr_are_captured_separately(tmp_path: Path) -> None:
    result = run(tmp_path, ["sh", "-c", "echo out; echo err >&2; echo more"])
    assert result.stdout == "out\nmore\n"
    assert result.stderr == "err\n"
    assert result.stdout_file is None and result.stderr_file is None
    assert result.duration >= 0


def test_arguments_reach_the_program_verbatim(tmp_path: Path) -> None:
    argv = [PY, "-c", "import sys; print(sys.argv[1:])", "two words", "$HOME", "a|b", ""]
    assert run(tmp_path, argv).stdout == "['two words', '$HOME', 'a|b', '']\n"


def test_killed_by_signal_is_negative(tmp_path: Path) -> None:
    assert run(tmp_path, ["sh", "-c", "kill -9 $$"]).exit_code == -9


def test_child_gets_own_session_and_inherits_stdin(tmp_path: Path) -> None:
    code = "import os; print(os.getsid(0) == os.getpid()); print(os.readlink('/proc/self/fd/0'))"
    lines = run(tmp_path, py(code)).stdout.splitlines()
    assert lines == ["True", os.readlink("/proc/self/fd/0")]


# --- decoding ---------------------------------------------------------------------------

def test_crlf_and_cr_become_newlines(tmp_path: Path) -> None:
    code = (
        "import sys; sys.stdout.buffer.write(b'a\\r\\nb\\rc\\n');"
        "sys.stderr.buffer.write(b'e\\r\\n')"
    )
    result = run(tmp_path, py(code))
    assert (result.stdout, result.stderr) == ("a\nb\nc\n", "e\n")


def test_crlf_split_across_reads_stays_one_newline(tmp_path: Path) -> None:
    code = (
        "import sys, time; o = sys.stdout.buffer\n"
        "o.write(b'x\\r'); o.flush(); time.sleep(0.1); o.write(b'\\ny\\r'); o.flush()"
    )
    assert run(tmp_path, py(code)).stdout == "x\ny\n"


def test_invalid_utf8_is_replaced(tmp_path: Path) -> None:
    code = "import sys; sys.stdout.buffer.write(b'ok \\xff\\xfe \\xc3\\xa9')"
    assert run(tmp_path, py(code)).stdout == "ok \ufffd\ufffd \u00e9"


# --- size limits and spilling -----------------------------------------------------------

def test_exactly_the_limit_stays_in_memory(tmp_path: Path) -> None:
    result = run(tmp_path, ["head", "-c", str(MEMORY_LIMIT), "/dev/zero"])
    assert len(result.stdout) == MEMORY_LIMIT and result.stdout_file is None


def test_one_byte_over_the_limit_spills_everything(tmp_path: Path) -> None:
    result = run(tmp_path, ["head", "-c", str(MEMORY_LIMIT + 1), "/dev/zero"])
    assert len(result.stdout) == MEMORY_LIMIT
    assert result.stdout_file is not None
    assert Path(result.stdout_file).parent == tmp_path / "spool"
    assert Path(result.stdout_file).stat().st_size == MEMORY_LIMIT + 1


def test_cut_never_ends_in_half_a_character_or_half_a_crlf(tmp_path: Path) -> None:
    # 'a' * (limit-1) then 'é' (2 bytes) straddles the limit; then a CRLF straddles it.
    code = (
        "import sys; o = sys.stdout.buffer; n = %d\n"
        "o.write(b'a' * (n - 1) + 'é'.encode() + b'tail')\n"
        "sys.stderr.buffer.write(b'b' * (n - 1) + b'\\r\\n' + b'tail')" % MEMORY_LIMIT
    )
    result = run(tmp_path, py(code))
    assert result.stdout == "a" * (MEMORY_LIMIT - 1)
    assert result.stderr == "b" * (MEMORY_LIMIT - 1)


def test_three_mib_on_both_streams_at_once(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "for i in range(3 * 1024):\n"
        "    sys.stdout.buffer.write(b'%05d' % i + b'o' * 1019)\n"
        "    sys.stderr.buffer.write(b'%05d' % i + b'e' * 1018 + b'\\n')\n"
    )
    result = run(tmp_path, py(code))
    assert result.exit_code == 0
    expected_out = b"".join(b"%05d" % i + b"o" * 1019 for i in range(3 * 1024))
    expected_err = b"".join(b"%05d" % i + b"e" * 1018 + b"\n" for i in range(3 * 1024))
    assert Path(result.stdout_file).read_bytes() == expected_out
    assert Path(result.stderr_file).read_bytes() == expected_err
    assert result.stdout == expected_out[:MEMORY_LIMIT].decode()
    assert result.stderr == expected_err[:MEMORY_LIMIT].decode()


def test_fifty_mb_on_stderr_only_does_not_hang_and_memory_stays_bounded(tmp_path: Path) -> None:
    size = 50 * 1000 * 1000
    tracemalloc.start()
    try:
        result = run(tmp_path, ["sh", "-c", f"head -c {size} /dev/zero >&2"], timeout=20)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (result.exit_code, result.stdout, result.stdout_file) == (0, "", None)
    assert Path(result.stderr_file).stat().st_size == size
    assert len(result.stderr) == MEMORY_LIMIT
    assert peak < 8 * MEMORY_LIMIT  # the head, one read, and the decoded text


def test_spill_failure_keeps_the_head_and_says_so(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    executor = ProcessExecutor(blocker / "spool")
    spec = CommandSpec(("head", "-c", str(2 * MEMORY_LIMIT), "/dev/zero"), 10, "head")
    result = executor.run(spec, threading.Event())
    assert result.exit_code == 0 and result.stdout_file is None
    assert len(result.stdout) == MEMORY_LIMIT
    assert result.stdout_lost == MEMORY_LIMIT
    assert result.stderr == (f"tasker: stdout: only the first {MEMORY_LIMIT} bytes were kept; "
                             f"{MEMORY_LIMIT} more were lost (cannot write the spill file in "
                             f"{blocker / 'spool'}: Not a directory)")


def test_a_spill_file_that_takes_no_byte_keeps_the_head_and_is_deleted(tmp_path, monkeypatch):
    """A full disk from the first write on (the head itself): no crash, the same note."""
    import tasker.exec.output as output  # (the output buffers live there)

    made = []

    def full_disk_file(prefix: str, dir: Path):  # noqa: A002 - mkstemp's own name
        path = Path(dir) / f"{prefix}spill"
        path.write_bytes(b"")
        made.append(path)
        return os.open("/dev/full", os.O_WRONLY), str(path)  # every write: ENOSPC

    monkeypatch.setattr(output.tempfile, "mkstemp", full_disk_file)
    result = run(tmp_path, ["head", "-c", str(3 * MEMORY_LIMIT), "/dev/zero"])
    assert result.exit_code == 0 and result.stdout_file is None
    assert len(result.stdout) == MEMORY_LIMIT and result.stdout_lost == 2 * MEMORY_LIMIT
    assert result.stderr.startswith(f"tasker: stdout: only the first {MEMORY_LIMIT} bytes "
                                    f"were kept; {2 * MEMORY_LIMIT} more were lost (cannot "
                                    "write the spill file in ")
    assert result.stderr.endswith(": No space left on device)")
    assert made and not made[0].exists()  # never mistaken for the whole output


def test_spill_files_are_private(tmp_path):
    result = run(tmp_path, ["head", "-c", str(MEMORY_LIMIT + 1), "/dev/zero"])
    assert oct(os.stat(result.stdout_file).st_mode & 0o777) == "0o600"
    assert oct(os.stat(tmp_path / "spool").st_mode & 0o777) == "0o700"


# --- timeout ----------------------------------------------------------------------------

def test_timeout_kills_the_whole_group(tmp_path: Path) -> None:
    started = time.monotonic()
    result = run(tmp_path, ["sh", "-c", "sleep 100 & echo $!; sleep 100"], timeout=0.5)
    assert time.monotonic() - started < 3
    assert (result.exit_code, result.timed_out) == (124, True)
    assert result.stderr == "Process killed after timeout of 0.5 seconds"
    assert gone(int(result.stdout.strip()))


def test_timeout_after_the_child_closed_its_pipes(tmp_path: Path) -> None:
    result = run(tmp_path, ["sh", "-c", "echo before; exec >&- 2>&-; sleep 100"], timeout=0.3)
    assert (result.exit_code, result.timed_out, result.stdout) == (124, True, "before\n")


def test_timeout_line_follows_existing_stderr() -> None:
    result = run_simple(["sh", "-c", "printf partial >&2; sleep 100"], 0.3)
    assert result.stderr == "partial\nProcess killed after timeout of 0.3 seconds"


@pytest.mark.parametrize("seconds, text", [(5.0, "5"), (300, "300"), (2.5, "2.5"), (0.25, "0.25")])
def test_timeout_seconds_format(seconds: float, text: str) -> None:
    assert format_seconds(seconds) == text


# --- cancel -----------------------------------------------------------------------------

def cancel_after(delay: float) -> threading.Event:
    cancel = threading.Event()
    threading.Timer(delay, cancel.set).start()
    return cancel


def test_cancel_sends_sigterm(tmp_path: Path) -> None:
    started = time.monotonic()
    result = run(tmp_path, ["sleep", "100"], cancel=cancel_after(0.2))
    assert (result.exit_code, result.timed_out) == (-15, False)
    assert time.monotonic() - started < 1


def test_cancel_escalates_to_sigkill(tmp_path: Path) -> None:
    started = time.monotonic()
    argv = ["sh", "-c", "trap '' TERM; sleep 100 & echo $!; wait"]
    result = run(tmp_path, argv, cancel=cancel_after(0.1))
    elapsed = time.monotonic() - started
    assert result.exit_code == -9
    assert 0.5 <= elapsed < 2
    assert gone(int(result.stdout.strip()))


def test_cancel_after_the_child_closed_its_pipes(tmp_path: Path) -> None:
    result = run(tmp_path, ["sh", "-c", "exec >&- 2>&-; exec sleep 100"], cancel=cancel_after(0.2))
    assert result.exit_code == -15


# A member that ignores SIGTERM and holds neither pipe: only an unconditional SIGKILL ends it.
TRAPPED = "sh -c 'trap \"\" TERM; echo $$ >{pidfile}; exec sleep 100' </dev/null >/dev/null 2>&1 &"


def wait_for_pid(path: Path) -> int:
    """The PID a child wrote to `path`, once it is there."""
    end = time.monotonic() + 10
    while not (path.exists() and path.read_text().strip()):
        assert time.monotonic() < end, f"{path} was never written"
        time.sleep(0.02)
    return int(path.read_text())


def test_cancel_kills_a_term_ignoring_member_after_the_leader_and_the_pipes_are_gone(
        tmp_path: Path) -> None:
    pidfile = tmp_path / "member.pid"
    argv = ["sh", "-c", TRAPPED.format(pidfile=pidfile) + " exec sleep 100"]
    cancel = threading.Event()
    threading.Thread(target=lambda: (wait_for_pid(pidfile), cancel.set())).start()
    result = run(tmp_path, argv, cancel=cancel)
    assert result.exit_code == -15  # the leader died of SIGTERM, closing the pipes
    assert gone(int(pidfile.read_text()))


def test_cancel_kills_the_group_of_a_leader_that_already_exited(tmp_path: Path) -> None:
    # The leader exits at once; a member keeps the pipes open and ignores SIGTERM.
    pidfile = tmp_path / "member.pid"
    argv = ["sh", "-c", f"sh -c 'trap \"\" TERM; echo $$ >{pidfile}; exec sleep 100' &"]
    cancel = threading.Event()
    threading.Thread(target=lambda: (wait_for_pid(pidfile), cancel.set())).start()
    result = run(tmp_path, argv, cancel=cancel)
    assert result.exit_code == 0  # the leader's own status
    assert gone(int(pidfile.read_text()))


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return "reaped"


def test_the_leader_is_not_reaped_before_the_final_sigkill(tmp_path: Path, monkeypatch) -> None:
    from tasker.exec import process

    seen = []
    real = process._signal_group

    def spy(pgid: int, signum: int) -> None:
        seen.append((signum, _state(pgid)))  # the leader's state as the signal goes out
        real(pgid, signum)

    monkeypatch.setattr(process, "_signal_group", spy)
    pidfile = tmp_path / "member.pid"
    argv = ["sh", "-c", TRAPPED.format(pidfile=pidfile) + " exec sleep 100"]
    cancel = threading.Event()
    threading.Thread(target=lambda: (wait_for_pid(pidfile), cancel.set())).start()
    run(tmp_path, argv, cancel=cancel)
    assert [signum for signum, _ in seen] == [15, 9]
    # It died of SIGTERM; at SIGKILL it is a zombie still holding the group's ID.
    assert seen[1][1] == "Z"
    assert gone(int(pidfile.read_text()))


def test_timeout_kills_a_term_ignoring_member_that_holds_no_pipe(tmp_path: Path) -> None:
    pidfile = tmp_path / "member.pid"
    argv = ["sh", "-c", TRAPPED.format(pidfile=pidfile) + " exec sleep 100"]
    result = run(tmp_path, argv, timeout=0.5)
    assert (result.exit_code, result.timed_out) == (124, True)
    assert gone(int(pidfile.read_text()))


def test_run_simple_can_be_cancelled(tmp_path: Path) -> None:
    pidfile = tmp_path / "member.pid"
    argv = ["sh", "-c", TRAPPED.format(pidfile=pidfile) + " exec sleep 100"]
    cancel = threading.Event()
    threading.Thread(target=lambda: (wait_for_pid(pidfile), cancel.set())).start()
    result = run_simple(argv, 30, cancel)
    assert (result.exit_code, result.timed_out) == (-15, False)
    assert gone(int(pidfile.read_text()))


def test_run_script_reads_dev_null_and_raises_when_it_cannot_start(tmp_path: Path) -> None:
    result = run_script(["sh", "-c", "cat; echo done"], 10, None, dict(os.environ))
    assert (result.exit_code, result.stdout) == (0, "done\n")
    with pytest.raises(OSError):
        run_script([str(tmp_path / "missing")], 10, None, {})


# --- start errors -----------------------------------------------------------------------

def test_program_not_found(tmp_path: Path) -> None:
    result = run(tmp_path, ["tasker-no-such-program-1e9", "x"])
    assert (result.exit_code, result.not_found) == (1, True)
    assert result.stderr == "Command not found: tasker-no-such-program-1e9"


def test_script_whose_interpreter_is_missing_counts_as_not_found(tmp_path: Path) -> None:
    script = tmp_path / "script"
    script.write_text("#!/nonexistent/interpreter\n")
    script.chmod(0o755)
    result = run(tmp_path, [str(script)])
    assert result.not_found and "interpreter" in result.stderr


def test_permission_denied_is_exit_1_with_the_reason(tmp_path: Path) -> None:
    script = tmp_path / "script"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o644)
    result = run(tmp_path, [str(script)])
    assert (result.exit_code, result.not_found) == (1, False)
    assert result.stderr == f"Cannot run {script}: Permission denied"


@pytest.mark.parametrize("argv", [[], ["ec\0ho"]])
def test_other_start_errors_are_exit_1(tmp_path: Path, argv: list) -> None:
    result = run(tmp_path, argv)
    assert (result.exit_code, result.not_found, result.stdout) == (1, False, "")
    assert result.stderr.startswith("Cannot run")


# --- housekeeping -----------------------------------------------------------------------

def test_no_descriptor_leaks(tmp_path: Path) -> None:
    before = len(os.listdir("/proc/self/fd"))
    for argv in (["true"], ["sh", "-c", "exit 2"], ["tasker-no-such-program-1e9"]):
        run(tmp_path, argv)
    run(tmp_path, ["sleep", "5"], timeout=0.1)
    assert len(os.listdir("/proc/self/fd")) == before


def test_concurrent_runs_do_not_mix_output(tmp_path: Path) -> None:
    results: dict = {}

    def one(n: int) -> None:
        results[n] = run(tmp_path, ["sh", "-c", f"echo {n}; echo e{n} >&2; exit {n % 7}"])

    threads = [threading.Thread(target=one, args=(n,)) for n in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for n, result in results.items():
        assert (result.stdout, result.stderr, result.exit_code) == (f"{n}\n", f"e{n}\n", n % 7)


def test_run_simple_drops_output_beyond_the_limit() -> None:
    result = run_simple(["head", "-c", str(3 * MEMORY_LIMIT), "/dev/zero"], 10)
    assert (result.exit_code, len(result.stdout), result.stdout_file) == (0, MEMORY_LIMIT, None)
