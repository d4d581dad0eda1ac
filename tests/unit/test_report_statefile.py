"""The state file: round trip, masking, corruption, cheap repeated saves."""

from __future__ import annotations

import errno
import json
import os
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tasker.report.masking import Masker
from tasker.report.statefile import (
    STATE_VERSION,
    StateError,
    StateWriter,
    load_state,
    results_from_state,
    save_state,
)
from tasker.results import BlockCounts, RunRecord, TaskResult

SHA = "ab" * 32


def sample_record() -> RunRecord:
    record = RunRecord()
    record.store(TaskResult(0, 0, stdout="a\nb\n", stderr="", success=True, status="success",
                            hostname="localhost", exec_type="local", command="echo a",
                            start_time=1759665791.123456, duration=0.0123, attempts=1,
                            iterations=3, stdout_file="/tmp/x/stdout_0"))
    record.store(TaskResult(5, 1, stdout="Parallel execution: 1/2 successful, 1 failed",
                            stderr="Failed tasks: [7]", status="failed", hostname="parallel",
                            exec_type="parallel", counts=BlockCounts(1, 1)))
    record.store(TaskResult(7, 124, status="timeout", attempts=3))
    record.store(TaskResult(2, -1, stderr="Task skipped due to condition", status="skipped"))
    record.execution_path.extend([0, 5])
    record.last_task = 5
    record.failure = {"task_id": 5, "exit_code": 1, "error": "block failed"}
    return record


def save(path, record=None, masker=Masker(), **kw):
    save_state(path, file_sha256=SHA, record=record or sample_record(),
               globals_={"HOST": "localhost", "DB_PASSWORD": "pw"}, current_task=5,
               next_task=None, masker=masker, **kw)


def test_round_trip_of_results(tmp_path):
    path = tmp_path / "recovery" / "flow_1234abcd.recovery.json"
    record = sample_record()
    save(path, record)
    state = load_state(path)
    assert state["version"] == STATE_VERSION
    assert state["file_hash"] == SHA
    assert state["current_task"] == 5 and state["next_task"] is None
    assert state["last_task"] == 5
    assert state["execution_path"] == [0, 5]
    assert state["failure"] == record.failure
    assert results_from_state(state) == record.results


def test_secrets_are_masked(tmp_path):
    path = tmp_path / "s.json"
    record = RunRecord()
    record.store(TaskResult(0, 0, stdout="the pw is pw-123", command="login pw-123"))
    save(path, record, masker=Masker(("pw-123",)))
    text = path.read_text()
    assert "pw-123" not in text
    assert results_from_state(load_state(path))[0].stdout == "the pw is ****"


def test_absent_file_is_none(tmp_path):
    assert load_state(tmp_path / "missing.json") is None


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "",
        "[1, 2]",
        json.dumps({"version": "0.9", "file_hash": SHA, "task_results": {}, "globals": {}}),
        json.dumps({"version": STATE_VERSION, "task_results": {}, "globals": {}}),
        json.dumps({"version": STATE_VERSION, "file_hash": SHA, "task_results": [],
                    "globals": {}}),
    ],
)
def test_corrupt_state_raises_state_error(tmp_path, content):
    path = tmp_path / "s.json"
    path.write_text(content)
    with pytest.raises(StateError) as info:
        load_state(path)
    assert str(path) in info.value.message


def test_invalid_utf8_raises_state_error(tmp_path):
    path = tmp_path / "s.json"
    path.write_bytes(b"\xff\xfe{")
    with pytest.raises(StateError):
        load_state(path)


def test_malformed_result_raises_state_error(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"version": STATE_VERSION, "file_hash": SHA, "globals": {},
                                "task_results": {"3": {"exit_code": 0}}}))
    with pytest.raises(StateError):
        results_from_state(load_state(path))


def test_undecodable_output_round_trips(tmp_path):
    path = tmp_path / "s.json"
    record = RunRecord()
    text = b"caf\xe9 \xe2\x9c\x85".decode("utf-8", "surrogateescape")
    record.store(TaskResult(0, 0, stdout=text))
    save(path, record)
    assert results_from_state(load_state(path))[0].stdout == text


def test_writer_sees_each_new_result(tmp_path):
    path = tmp_path / "s.json"
    record = RunRecord()
    writer = StateWriter(path, masker=Masker())
    for i in range(5):
        record.store(TaskResult(i, 0, stdout=f"out {i}", status="success", success=True))
        writer.save(file_sha256=SHA, record=record, globals_={}, current_task=i,
                    next_task=i + 1)
        assert results_from_state(load_state(path)) == record.results
    # A task run again (loop) replaces its result: the new one must be written.
    record.store(TaskResult(2, 1, stdout="second run", status="failed"))
    writer.save(file_sha256=SHA, record=record, globals_={}, current_task=2, next_task=None)
    assert results_from_state(load_state(path))[2].stdout == "second run"
    writer.close()
    assert os.listdir(tmp_path) == ["s.json"]


def test_writer_never_leaves_a_torn_file_for_readers(tmp_path):
    path = tmp_path / "s.json"
    record = RunRecord()
    writer = StateWriter(path, masker=Masker())
    writer.save(file_sha256=SHA, record=record, globals_={}, current_task=None, next_task=None)
    stop = threading.Event()
    errors = []

    def reader() -> None:
        while not stop.is_set():
            try:
                load_state(path)
            except StateError as exc:  # pragma: no cover - the failure we look for
                errors.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    for i in range(200):
        record.store(TaskResult(i, 0, stdout="x" * (i * 37 % 5000)))
        writer.save(file_sha256=SHA, record=record, globals_={}, current_task=i,
                    next_task=None)
    stop.set()
    thread.join()
    writer.close()
    assert errors == []
    assert len(results_from_state(load_state(path))) == 200


def test_journal_tolerates_a_torn_last_line(tmp_path):
    """kill -9 in the middle of a save loses only that save, never the file."""
    path = tmp_path / "s.json"
    writer = StateWriter(path, masker=Masker())
    record = sample_record()
    writer.save(file_sha256=SHA, record=record, globals_={}, current_task=0, next_task=1)
    writer.close()
    with open(path, "a", encoding="ascii") as handle:
        handle.write('{"task_results":{"9":{"task_id":9,')  # a write cut short
    assert results_from_state(load_state(path)) == record.results
    assert os.listdir(tmp_path) == ["s.json"]


def test_journal_appends_only_new_results(tmp_path):
    path = tmp_path / "s.json"
    writer = StateWriter(path, masker=Masker())
    record = RunRecord()
    for i in range(3):
        record.store(TaskResult(i, 0, stdout=f"out {i}", success=True, status="success"))
        writer.save(file_sha256=SHA, record=record, globals_={}, current_task=i,
                    next_task=i + 1)
    writer.close()
    lines = path.read_text().splitlines()
    assert len(lines) == 4  # header + one entry per save
    assert [list(json.loads(x)["task_results"]) for x in lines[1:]] == [["0"], ["1"], ["2"]]
    state = load_state(path)
    assert state["next_task"] == 3 and len(results_from_state(state)) == 3


def test_corrupt_line_in_the_middle_is_an_error(tmp_path):
    path = tmp_path / "s.json"
    save(path)
    text = path.read_text()
    path.write_text(text + "garbage\n" + text.splitlines()[1] + "\n")
    with pytest.raises(StateError):
        load_state(path)


def test_fsync_mode_and_permissions(tmp_path):
    path = tmp_path / "s.json"
    save(path, fsync=True)
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_state(path)["globals"] == {"HOST": "localhost", "DB_PASSWORD": "pw"}


def test_a_save_appends_only_what_is_new_however_many_results_came_before(tmp_path):
    """The journal's point (what a run of hundreds of tasks pays per task): a save writes
    one line with the results stored since the last save, never the whole state again."""
    path = tmp_path / "s.json"
    record = RunRecord()
    writer = StateWriter(path, masker=Masker(("secret-value",)))
    globals_ = {f"VAR_{i}": f"value {i}" for i in range(20)}
    growth = []
    for i in range(300):
        record.store(TaskResult(i, 0, stdout=f"line {i}\n", success=True, status="success",
                                hostname="localhost", exec_type="local", command="true",
                                start_time=time.time(), duration=0.001))
        record.execution_path.append(i)
        before = path.stat().st_size if path.exists() else 0
        writer.save(file_sha256=SHA, record=record, globals_=globals_, current_task=i,
                    next_task=i + 1)
        growth.append(path.stat().st_size - before)
    writer.close()
    lines = path.read_text().splitlines()
    assert len(lines) == 1 + 300  # the header, then one line per save
    last = json.loads(lines[-1])
    assert list(last["task_results"]) == ["299"] and last["path_added"] == [299]
    assert max(growth[1:]) < 2 * min(growth[1:])  # the 300th save costs what the 2nd did
    assert len(load_state(path)["task_results"]) == 300


@pytest.mark.parametrize("change", [{"exit_code": 1e400}, {"start_time": 1e300},
                                    {"start_time": "nan"}, {"duration": -1},
                                    {"counts": [1e400, 0]}])
def test_values_no_run_can_have_written_are_a_state_error(change):
    from tasker.report.statefile import StateError, _result_from

    data = {"task_id": 0, "exit_code": 0, "start_time": 1.0, "duration": 0.5}
    data.update(change)
    with pytest.raises(StateError):
        _result_from("0", data)


# ---- a write that fails (a full disk) leaves the file as it was (I.4a) -------------------------

class FullDisk:
    """While `full`: os.write puts part of the data on disk, then fails with ENOSPC, and
    no temporary file for an atomic write can be created."""

    def __init__(self, monkeypatch):
        from tasker.report import atomic

        self.full = False
        self.real_write, self.real_mkstemp = os.write, atomic._mkstemp
        monkeypatch.setattr(os, "write", self.write)
        monkeypatch.setattr(atomic, "_mkstemp", self.mkstemp)

    def write(self, fd, data):
        if not self.full:
            return self.real_write(fd, data)
        if len(data) > 1:  # the first call gets half of it on disk, the next one none
            return self.real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, "No space left on device")

    def mkstemp(self, target):
        if self.full:
            raise OSError(errno.ENOSPC, "No space left on device")
        return self.real_mkstemp(target)


def store_and_save(writer, record, tid, size=3000):
    record.store(TaskResult(tid, 0, stdout=f"{tid}:" + "x" * size, success=True,
                            status="success"))
    record.execution_path.append(tid)
    writer.save(file_sha256=SHA, record=record, globals_={"G": "v"}, current_task=tid,
                next_task=tid + 1)


def test_a_failed_append_leaves_the_file_as_it_was(tmp_path, monkeypatch):
    path = tmp_path / "s.json"
    disk = FullDisk(monkeypatch)
    writer, record = StateWriter(path, masker=Masker()), RunRecord()
    for tid in range(3):
        store_and_save(writer, record, tid)
    before = path.read_bytes()
    disk.full = True
    with pytest.raises(OSError):
        store_and_save(writer, record, 3)
    assert path.read_bytes() == before  # the half-written line was cut off again
    assert load_state(path)["next_task"] == 3


def test_after_a_failed_write_the_next_save_records_everything(tmp_path, monkeypatch):
    """The bug: a torn line followed by later lines made the file corrupt (exit 12)."""
    path = tmp_path / "s.json"
    disk = FullDisk(monkeypatch)
    writer, record = StateWriter(path, masker=Masker(), task_file="/x/flow.txt"), RunRecord()
    store_and_save(writer, record, 0)
    disk.full = True
    for tid in (1, 2):
        with pytest.raises(OSError):
            store_and_save(writer, record, tid)
    disk.full = False
    store_and_save(writer, record, 3)
    writer.close()
    state = load_state(path)
    assert results_from_state(state) == record.results  # every result recorded, 0-3
    assert state["execution_path"] == [0, 1, 2, 3] and state["next_task"] == 4
    assert state["task_file"] == "/x/flow.txt"
    # header, task 0, then tasks 1-3 in one line (the cut-back file takes appends again)
    assert len(path.read_text().splitlines()) == 3
    assert os.listdir(tmp_path) == ["s.json"]  # no temp file left


def test_a_failed_rewrite_keeps_the_last_complete_journal(tmp_path, monkeypatch):
    """While the disk stays full, the whole-state rewrite fails too: the old file stays."""
    path = tmp_path / "s.json"
    disk = FullDisk(monkeypatch)
    writer, record = StateWriter(path, masker=Masker()), RunRecord()
    store_and_save(writer, record, 0)
    store_and_save(writer, record, 1)
    disk.full = True
    for tid in (2, 3):  # an append, then a rewrite
        with pytest.raises(OSError):
            store_and_save(writer, record, tid)
        state = load_state(path)
        assert sorted(results_from_state(state)) == [0, 1] and state["next_task"] == 2
    disk.full = False
    store_and_save(writer, record, 4)
    writer.close()
    assert sorted(results_from_state(load_state(path))) == [0, 1, 2, 3, 4]


def test_a_failed_write_on_dev_full_is_an_oserror_and_the_file_stays(tmp_path):
    """A real full device: /dev/full refuses every write with ENOSPC."""
    if not os.path.exists("/dev/full"):
        pytest.fail("/dev/full is missing")
    path = tmp_path / "s.json"
    writer, record = StateWriter(path, masker=Masker()), RunRecord()
    store_and_save(writer, record, 0)
    before = path.read_bytes()
    full = os.open("/dev/full", os.O_WRONLY)
    os.dup2(full, writer._fd)  # the journal's descriptor now points at a full device
    os.close(full)
    with pytest.raises(OSError) as info:
        store_and_save(writer, record, 1)
    assert info.value.errno == errno.ENOSPC
    assert path.read_bytes() == before
    store_and_save(writer, record, 2)  # rewritten whole, beside the device
    writer.close()
    assert sorted(results_from_state(load_state(path))) == [0, 1, 2]


def test_completed_mark_that_cannot_be_written_removes_the_outdated_state(tmp_path,
                                                                        monkeypatch):
    path = tmp_path / "s.json"
    disk = FullDisk(monkeypatch)
    writer, record = StateWriter(path, masker=Masker()), RunRecord()
    store_and_save(writer, record, 0)
    disk.full = True
    assert writer.mark_completed() is True
    assert not path.exists()  # a completed run leaves nothing to resume
    disk.full = False
    writer.close()


def test_completed_mark_is_appended(tmp_path):
    path = tmp_path / "s.json"
    writer, record = StateWriter(path, masker=Masker()), RunRecord()
    store_and_save(writer, record, 0)
    assert writer.mark_completed() is True
    writer.close()
    assert load_state(path)["completed"] is True


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.booleans(), min_size=1, max_size=12))
def test_any_pattern_of_failed_saves_keeps_a_readable_state(tmp_path, monkeypatch, full):
    """Whatever saves fail, the file folds to the last save that succeeded, and each
    success holds every result recorded up to it."""
    path = tmp_path / f"s{len(list(tmp_path.iterdir()))}.json"
    with monkeypatch.context() as patch:
        disk = FullDisk(patch)
        writer, record = StateWriter(path, masker=Masker()), RunRecord()
        saved_upto = None
        for tid, is_full in enumerate(full):
            disk.full = is_full
            try:
                store_and_save(writer, record, tid, size=700)
                saved_upto = tid
            except OSError:
                pass
        disk.full = False
        writer.close()
    if saved_upto is None:
        assert not path.exists()
        return
    state = load_state(path)
    assert sorted(results_from_state(state)) == list(range(saved_upto + 1))
    assert state["next_task"] == saved_upto + 1
    assert state["execution_path"] == list(range(saved_upto + 1))
