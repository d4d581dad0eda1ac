"""The JSON run report: every key of SPEC I.6, masking, atomic writing."""

from __future__ import annotations

import json
import os
import time
from datetime import datetime
from pathlib import Path

import pytest

from tasker.report.json_report import build_report, iso_time, write_report
from tasker.report.masking import Masker
from tasker.results import BlockCounts, RunRecord, TaskResult, TraceEntry

T0 = time.mktime((2025, 10, 5, 14, 3, 11, 0, 0, -1))
SHA = "0123456789abcdef" * 4


def sample_record() -> RunRecord:
    record = RunRecord()
    record.store(TaskResult(0, 0, stdout="token=tok123 ok\n\n", success=True, status="success",
                            hostname="localhost", exec_type="local", command="echo tok123",
                            start_time=T0 + 1, duration=0.01234))
    record.store(TaskResult(1, -1, stderr="Task skipped due to condition", status="skipped"))
    record.store(TaskResult(11, 124, status="timeout", hostname="h1", exec_type="local",
                            command="sleep 9", start_time=T0 + 2, duration=5.0))
    record.store(TaskResult(10, 1, stdout="Parallel execution: 1/2 successful, 1 failed",
                            stderr="Failed tasks: [11]", status="failed", hostname="parallel",
                            exec_type="parallel", start_time=T0 + 2, duration=5.1,
                            counts=BlockCounts(1, 1)))
    record.trace.extend([
        TraceEntry(task=0, hostname="localhost", exit_code=0, success=True,
                   start_time=T0 + 1, duration=0.01234),
        TraceEntry(task=1, skipped=True, exit_code=-1),
        TraceEntry(task=11, block=10, iteration=None, attempt=2, hostname="h1", exit_code=124,
                   start_time=T0 + 2, duration=5.0),
        TraceEntry(task=10, hostname="parallel", exit_code=1, start_time=T0 + 2, duration=5.1),
    ])
    record.execution_path.extend([0, 10])
    record.last_task = 10
    record.failure = {"task_id": 10, "exit_code": 1, "error": "block failed (tok123)"}
    return record


def build(**overrides) -> dict:
    fields = dict(
        task_file=Path("flows/demo.txt"), file_sha256=SHA, run_id="9f" * 16, status="failed",
        dry_run=False,
        exit_code=1, started=T0, ended=T0 + 7.12345, log_file="/b/log/demo_x.log",
        version="3.0.0", total_tasks=4, record=sample_record(),
        variables={"API_TOKEN": "tok123", "HOST": "localhost"},
        masker=Masker(("tok123",)),
    )
    fields.update(overrides)
    return build_report(**fields)


def test_top_level_keys():
    report = build()
    assert list(report) == [
        "schema_version", "workflow_metadata", "execution_summary", "task_results",
        "variables", "trace",
    ]
    assert report["schema_version"] == 1


def test_workflow_metadata():
    meta = build()["workflow_metadata"]
    assert set(meta) == {
        "task_file", "execution_id", "run_id", "status", "dry_run", "exit_code",
        "start_time", "end_time", "duration_seconds", "log_file", "tasker_version",
    }
    assert meta["run_id"] == "9f" * 16
    assert meta["task_file"] == os.path.abspath("flows/demo.txt")
    assert meta["execution_id"] == "01234567"
    assert meta["status"] == "failed"
    assert meta["dry_run"] is False
    assert meta["exit_code"] == 1
    assert datetime.fromisoformat(meta["start_time"]).timestamp() == pytest.approx(T0)
    assert datetime.fromisoformat(meta["end_time"]).utcoffset() is not None
    assert meta["duration_seconds"] == 7.123
    assert meta["log_file"] == "/b/log/demo_x.log"
    assert meta["tasker_version"] == "3.0.0"


def test_execution_summary():
    summary = build()["execution_summary"]
    assert summary == {
        "total_tasks": 4,
        "executed": 3,  # = succeeded + failed + timeouts
        "succeeded": 1,
        "failed": 1,
        "timeouts": 1,
        "skipped": 1,
        "execution_path": [0, 10],
        "final_task": 10,
        "failure_info": {"task_id": 10, "exit_code": 1, "error": "block failed (****)"},
    }


def test_no_failure_info_and_null_final_task_when_nothing_ran():
    summary = build(record=RunRecord(), status="success", exit_code=0)["execution_summary"]
    assert "failure_info" not in summary
    assert summary["final_task"] is None
    assert summary["executed"] == 0


def test_task_results():
    results = build()["task_results"]
    assert list(results) == ["0", "1", "10", "11"]
    first = results["0"]
    assert set(first) == {
        "exit_code", "success", "status", "stdout", "stderr", "hostname", "exec", "command",
        "start_time", "duration_seconds", "attempts", "iterations", "stdout_truncated",
        "stderr_truncated", "stdout_length", "stderr_length",
    }
    assert (first["stdout_length"], first["stderr_length"]) == (len("token=tok123 ok"), 0)
    assert first["stdout_truncated"] is first["stderr_truncated"] is False
    assert first["stdout"] == "token=**** ok"
    assert first["command"] == "echo ****"
    assert first["exec"] == "local"
    assert first["success"] is True
    assert first["duration_seconds"] == 0.012
    assert datetime.fromisoformat(first["start_time"]).timestamp() == pytest.approx(T0 + 1)
    assert results["1"]["start_time"] is None
    assert results["1"]["status"] == "skipped"
    block = results["10"]
    assert (block["success_count"], block["failed_count"], block["total_count"]) == (1, 1, 2)
    assert "success_count" not in results["11"]


def test_variables_are_masked():
    assert build()["variables"] == {"API_TOKEN": "****", "HOST": "localhost"}


def test_trace_entries():
    trace = build()["trace"]
    assert len(trace) == 4
    assert set(trace[0]) == {
        "task", "block", "iteration", "attempt", "hostname", "exit_code", "success",
        "skipped", "start_time", "duration_seconds",
    }
    assert trace[2]["block"] == 10 and trace[2]["attempt"] == 2 and trace[2]["iteration"] is None
    assert trace[1]["skipped"] is True and trace[1]["start_time"] is None


def test_no_secret_anywhere_in_the_serialised_report():
    assert "tok123" not in json.dumps(build())


def test_unknown_status_is_refused():
    with pytest.raises(ValueError):
        build(status="ok")


def test_iso_time_has_offset():
    assert iso_time(None) is None
    assert iso_time(0) is None
    assert datetime.fromisoformat(iso_time(T0)).utcoffset() is not None


def test_write_report_round_trip(tmp_path):
    path = tmp_path / "out" / "deep" / "report.json"
    report = build()
    write_report(path, report)
    assert json.loads(path.read_text()) == report
    assert os.listdir(path.parent) == ["report.json"]


def test_write_report_keeps_the_old_file_when_serialisation_fails(tmp_path):
    path = tmp_path / "report.json"
    write_report(path, {"old": True})
    with pytest.raises(TypeError):
        write_report(path, {"bad": object()})
    assert json.loads(path.read_text()) == {"old": True}
    assert os.listdir(tmp_path) == ["report.json"]


def test_write_report_with_undecodable_output(tmp_path):
    path = tmp_path / "r.json"
    text = b"caf\xe9".decode("utf-8", "surrogateescape")
    write_report(path, {"stdout": text, "u": "✅"})
    assert json.loads(path.read_text("utf-8")) == {"stdout": text, "u": "✅"}


def test_a_secret_the_stored_cut_went_through_is_masked():
    """The stored beginning ends inside the secret: no piece of it reaches the report."""
    from tasker.results import TaskResult

    secret = "hunter2xyzzy"
    record = RunRecord()
    record.store(TaskResult(0, 0, stdout="x" * 20 + secret[:6], stdout_cut=26,
                            stderr="err " + secret + "\nnote", stderr_cut=None))
    entry = build(record=record, masker=Masker((secret,)))["task_results"]["0"]
    assert entry["stdout"] == "x" * 20 + "****" and entry["stdout_truncated"] is True
    assert entry["stderr"] == "err ****\nnote" and entry["stderr_truncated"] is False


def test_lengths_of_cut_whole_and_unknown_streams():
    """A cut stream reports the length measured before the cut; a whole one its own
    (without trailing newlines); an unknown one (lost tail, restored result) null."""
    record = RunRecord()
    record.store(TaskResult(0, 0, stdout="x" * 10, stdout_cut=10, stdout_length=5000,
                            stderr="e\n\n"))
    record.store(TaskResult(1, 0, stdout="y" * 10, stdout_cut=10))
    results = build(record=record, masker=Masker())["task_results"]
    assert (results["0"]["stdout_length"], results["0"]["stderr_length"]) == (5000, 1)
    assert results["0"]["stdout_truncated"] is True
    assert results["1"]["stdout_length"] is None and results["1"]["stdout_truncated"] is True
