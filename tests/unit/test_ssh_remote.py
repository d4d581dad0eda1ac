"""The remote wrapper line, run here by Debian's /bin/sh (dash) as sshd's login shell would
run it, and the filter that takes its process-group line out of stderr."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import List, Optional, Tuple

from hypothesis import given, settings, strategies as st

from tasker.exec.ssh.remote import GroupReport, remote_command_line

MARK = "tasker-pgid-0123456789abcdef"


def run_line(words: List[str], path: Optional[str] = None) -> Tuple[int, bytes, bytes]:
    """Run the wrapper line with /bin/sh -c in a session of its own, as sshd does."""
    env = dict(os.environ, PATH=path) if path is not None else None
    done = subprocess.run(["/bin/sh", "-c", remote_command_line(words, MARK)],
                          capture_output=True, env=env, start_new_session=True,
                          stdin=subprocess.DEVNULL, timeout=30)
    return done.returncode, done.stdout, done.stderr


def group_of(stderr: bytes) -> Tuple[int, bytes]:
    """(the reported group ID, stderr without the report line)."""
    report = GroupReport(MARK)
    rest = report.feed(stderr) + report.finish()
    assert report.pgid is not None, stderr
    return report.pgid, rest


_WORD = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"),
                max_size=12)


@settings(max_examples=60, deadline=None)
@given(st.lists(_WORD, max_size=6))
def test_remote_words_are_the_local_words(words: List[str]) -> None:
    code, out, err = run_line(["printf", "%s\\0", *words] if words else ["printf", ""])
    assert code == 0, err
    assert out.decode() == "".join(w + "\0" for w in words)
    assert group_of(err)[1] == b""


def test_the_command_runs_in_its_own_group_and_its_id_is_reported() -> None:
    code, out, err = run_line(["sh", "-c", 'ps -o pgid= -p $$; ps -o sid= -p $$; echo x >&2'])
    pgid, rest = group_of(err)
    assert code == 0 and rest == b"x\n"
    assert [int(n) for n in out.split()] == [pgid, pgid]  # a new session and group


def test_exit_codes_missing_programs_and_signals() -> None:
    assert run_line(["sh", "-c", "exit 3"])[0] == 3
    code, _, err = run_line(["no-such-program-xyz"])
    assert code == 127 and b"no-such-program-xyz: not found" in group_of(err)[1]
    assert MARK.encode() not in group_of(err)[1]
    assert run_line(["sh", "-c", "kill -9 $$"])[0] == 128 + signal.SIGKILL
    assert run_line(["sh", "-c", "kill -TERM $$"])[0] == 128 + signal.SIGTERM


def test_without_setsid_the_session_s_group_is_reported(tmp_path: Path) -> None:
    """Hosts without setsid: the command runs in the group sshd made for the session."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("sh", "ps", "printf"):
        found = shutil.which(name)
        assert found
        (bin_dir / name).symlink_to(found)
    code, out, err = run_line(["sh", "-c", "ps -o pgid= -p $$"], path=str(bin_dir))
    pgid, _ = group_of(err)
    assert code == 0 and int(out) == pgid


# -- the group line filter ---------------------------------------------------------------

_NOISE = st.binary(max_size=300).filter(lambda b: MARK.encode() not in b)


@settings(max_examples=200, deadline=None)
@given(_NOISE, st.integers(2, 10**7), _NOISE, st.lists(st.integers(1, 400), max_size=8))
def test_the_line_is_taken_out_wherever_the_stream_is_cut(before: bytes, pgid: int,
                                                          after: bytes, cuts: List[int]) -> None:
    if before and not before.endswith(b"\n"):
        before += b"\n"  # (the wrapper's line starts a line)
    stream = before + f"{MARK} {pgid}\n".encode() + after
    report, out, pos = GroupReport(MARK), b"", 0
    for size in cuts + [len(stream)]:
        out += report.feed(stream[pos:pos + size])
        pos += size
    out += report.finish() if report.searching else b""
    assert out == before + after
    assert report.pgid == pgid


def test_a_stream_without_the_line_is_kept_whole() -> None:
    report = GroupReport(MARK)
    assert report.feed(b"no marker here\n") == b""
    assert report.finish() == b"no marker here\n" and report.pgid is None
    big = GroupReport(MARK)
    data = b"x" * (GroupReport.LIMIT + 1)
    assert big.feed(data) == data and not big.searching
    assert big.feed(f"{MARK} 5\n".encode()) == f"{MARK} 5\n".encode()  # (too late: output)
