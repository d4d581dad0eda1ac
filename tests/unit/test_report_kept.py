"""Kept outputs (--output-dir): names, masking across chunk borders, modes, failures."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path
from typing import List

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tasker.events import CommandOutputs, Reporters
from tasker.exec.base import CommandResult
from tasker.report.kept import (
    HOST_NAME_LIMIT,
    OutputKeeper,
    Placing,
    base_name,
    host_part,
)
from tasker.report.masking import Masker


def keeper(directory: Path, masker: Masker = Masker(), chunk_size: int = 1 << 18,
           warnings: List[str] = None) -> OutputKeeper:
    sink = warnings if warnings is not None else []
    return OutputKeeper(directory, masker, sink.append, chunk_size)


def spilled_result(tmp: Path, text: str) -> CommandResult:
    """A result whose stdout is in a spill file (its in-memory beginning is a stand-in)."""
    path = tmp / "spill"
    path.write_bytes(text.encode("utf-8"))
    return CommandResult(exit_code=0, stdout="(beginning only)", stderr="", duration=0.0,
                         stdout_file=str(path))


def test_names_say_task_block_iteration_attempt_and_host():
    assert base_name(Placing(3)) == "task-3_attempt-1"
    assert base_name(Placing(3, iteration=2, host="web1")) == \
        "task-3_iteration-2_attempt-1_host-web1"
    assert base_name(Placing(71, block=7, attempt=2, host="ops@web1")) == \
        "task-7-71_attempt-2_host-ops@web1"
    assert base_name(Placing(71, block=7, iteration=4, attempt=1)) == \
        "task-7-71_iteration-4_attempt-1"


HOSTS = ["../../etc/passwd", "a/b", "a b", "[::1]:2222", "ops@web1:22", "wéb\u2028", "\x00x",
         "-rf", ".", "..", "%2F", "a" * 300, "a" * 299 + "b", "*", "host\n"]


@pytest.mark.parametrize("host", HOSTS)
def test_a_host_is_never_a_path_and_stays_short(host):
    part = host_part(host)
    assert "/" not in part and "\x00" not in part and part.isprintable()
    assert len(part) <= HOST_NAME_LIMIT
    assert all(c.isascii() for c in part)


@settings(max_examples=300, deadline=None)
@given(a=st.text(max_size=200), b=st.text(max_size=200))
def test_distinct_hosts_get_distinct_names(a, b):
    if a != b:
        assert host_part(a) != host_part(b)


def test_files_are_0600_in_a_0700_directory_it_creates(tmp_path):
    old = os.umask(0)
    try:
        k = keeper(tmp_path / "new" / "out")
        k.keep(Placing(1, host="h"), "1", CommandResult(0, "out\n", "err\n", 0.0))
    finally:
        os.umask(old)
    for directory in (tmp_path / "new", tmp_path / "new" / "out"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    kept = k.files()[0]
    for path, text in ((kept.stdout, "out\n"), (kept.stderr, "err\n")):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert Path(path).read_text() == text


def test_the_keeper_subscribes_to_command_outputs(tmp_path):
    """The engine's CommandOutputs event, placed like the trace, becomes the pair of files."""
    k = keeper(tmp_path)
    Reporters(k).emit(CommandOutputs(71, "7-71.2", 7, None, 2, "web1",
                                     CommandResult(0, "out\n", "err\n", 0.0)))
    kept = k.files()[0]
    assert kept.placing == Placing(71, block=7, attempt=2, host="web1")
    assert Path(kept.stdout).name == "task-7-71_attempt-2_host-web1.stdout"
    assert Path(kept.stderr).read_text() == "err\n"


def test_an_existing_directory_keeps_its_mode(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o755)
    keeper(out).keep(Placing(1), "1", CommandResult(0, "x", "", 0.0))
    assert stat.S_IMODE(out.stat().st_mode) == 0o755


def test_a_name_already_taken_is_never_overwritten(tmp_path):
    k = keeper(tmp_path)
    for text in ("first", "second", "third"):
        k.keep(Placing(5), "5", CommandResult(0, text, "", 0.0))
    names = [Path(f.stdout).name for f in k.files()]
    assert names == ["task-5_attempt-1.stdout", "task-5_attempt-1_again-2.stdout",
                     "task-5_attempt-1_again-3.stdout"]
    assert [Path(f.stdout).read_text() for f in k.files()] == ["first", "second", "third"]


def test_threads_at_once_get_a_file_each(tmp_path):
    k = keeper(tmp_path)
    threads = [threading.Thread(target=k.keep, args=(Placing(5), "5",
                                                     CommandResult(0, str(i), "", 0.0)))
               for i in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    outs = {Path(f.stdout).read_text() for f in k.files()}
    assert outs == {str(i) for i in range(40)}
    assert len(os.listdir(tmp_path)) == 80


SECRET_TEXT = st.text(alphabet="ab\nc", min_size=1, max_size=8)


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(secrets=st.lists(SECRET_TEXT, min_size=1, max_size=3),
       text=st.text(alphabet="ab\ncé", max_size=300), size=st.integers(1, 16))
def test_a_spilled_output_is_masked_across_chunk_borders(tmp_path, secrets, text, size):
    """Read back a chunk of `size` characters at a time, the kept file is the whole
    output masked as a whole: a secret across a border is masked too."""
    directory = tmp_path / f"out{size}_{abs(hash((text, tuple(secrets))))}"
    masker = Masker(tuple(secrets))
    k = keeper(directory, masker, chunk_size=size)
    k.keep(Placing(1), "1", spilled_result(tmp_path, text))
    kept = k.files()[0]
    assert Path(kept.stdout).read_text("utf-8") == masker.mask(text)


def test_the_host_in_names_and_listing_is_masked(tmp_path):
    k = keeper(tmp_path, Masker(("topsecret",)))
    k.keep(Placing(2, host="topsecret.example"), "2", CommandResult(0, "", "", 0.0))
    kept = k.files()[0]
    assert "topsecret" not in kept.stdout and kept.placing.host == "****.example"
    assert k.report_entries()[2][0]["hostname"] == "****.example"


def test_a_directory_that_cannot_be_made_warns_once_and_keeps_nothing(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    warnings: List[str] = []
    k = keeper(blocker / "out", warnings=warnings)
    for tid in (1, 2):
        k.keep(Placing(tid), str(tid), CommandResult(0, "x", "", 0.0))
    assert k.files() == [] and len(warnings) == 1
    assert "Outputs are not kept: cannot create" in warnings[0]


def test_a_write_error_removes_both_files(tmp_path, monkeypatch):
    warnings: List[str] = []
    k = keeper(tmp_path / "out", warnings=warnings)

    def failing(parts):
        yield "start"
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(k.masker.__class__, "mask_chunks", lambda self, parts: failing(parts))
    k.keep(Placing(4), "4", CommandResult(0, "x", "y", 0.0))
    assert k.files() == [] and os.listdir(tmp_path / "out") == []
    assert warnings == [f"Task 4: its outputs could not be kept in {tmp_path / 'out'}: "
                        "No space left on device"]
