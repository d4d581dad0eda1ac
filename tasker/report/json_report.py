"""The JSON run report of `--output-json` (SPEC I.6).

`build_report` turns a finished (or interrupted) run into plain data;
`write_report` replaces the target file atomically. Every string that could
carry a secret is masked, outputs included.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from tasker.report.atomic import atomic_write
from tasker.report.masking import Masker
from tasker.results import FAILED, SKIPPED, SUCCESS, TIMEOUT, RunRecord, TaskResult, TraceEntry

SCHEMA_VERSION = 1
STATUSES = ("success", "failed", "validation_failed", "interrupted")


def iso_time(t: Optional[float]) -> Optional[str]:
    """ISO 8601 local time with UTC offset, milliseconds; None for an unset (0) time."""
    if not t:
        return None
    return datetime.fromtimestamp(t).astimezone().isoformat(timespec="milliseconds")


def stream_length(text: str, cut: Optional[int], length: Optional[int]) -> Optional[int]:
    """Characters of a whole stream after its split (trailing newlines not counted):
    the stored text's own when it is whole, else the one measured before the cut (None
    when unknown: its tail was lost, or the result was restored from a state file)."""
    if cut is None:
        return len(text.rstrip("\n"))
    return length


def result_entry(result: TaskResult, masker: Masker,
                 kept: Optional[List[Dict[str, Any]]] = None) -> Dict[str, Any]:
    """One `task_results` entry: the stored result, outputs without trailing newlines;
    with --output-dir, `output_files` lists the files of each of its executions."""
    mask = masker.mask
    entry: Dict[str, Any] = {
        "exit_code": result.exit_code,
        "success": result.success,
        "status": result.status,
        "stdout": masker.mask_stored(result.stdout, result.stdout_cut).rstrip("\n"),
        "stderr": masker.mask_stored(result.stderr, result.stderr_cut).rstrip("\n"),
        "stdout_truncated": result.stdout_cut is not None,
        "stderr_truncated": result.stderr_cut is not None,
        "stdout_length": stream_length(result.stdout, result.stdout_cut, result.stdout_length),
        "stderr_length": stream_length(result.stderr, result.stderr_cut, result.stderr_length),
        "hostname": mask(result.hostname),
        "exec": result.exec_type,
        "command": mask(result.command),
        "start_time": iso_time(result.start_time),
        "duration_seconds": round(result.duration, 3),
        "attempts": result.attempts,
        "iterations": result.iterations,
    }
    if result.counts is not None:
        entry["success_count"] = result.counts.success
        entry["failed_count"] = result.counts.failed
        entry["total_count"] = result.counts.total
    if kept is not None:
        entry["output_files"] = kept
    return entry


def trace_entry(entry: TraceEntry, masker: Masker) -> Dict[str, Any]:
    """One `trace` element."""
    return {
        "task": entry.task,
        "block": entry.block,
        "iteration": entry.iteration,
        "attempt": entry.attempt,
        "hostname": masker.mask(entry.hostname),
        "exit_code": entry.exit_code,
        "success": entry.success,
        "skipped": entry.skipped,
        "start_time": iso_time(entry.start_time),
        "duration_seconds": round(entry.duration, 3),
    }


def _summary(total_tasks: int, record: RunRecord, results: List[TaskResult],
             masker: Masker) -> Dict[str, Any]:
    """The `execution_summary` section."""
    statuses = [result.status for result in results]
    path = list(record.execution_path)
    counts = {status: statuses.count(status) for status in (SUCCESS, FAILED, TIMEOUT, SKIPPED)}
    summary: Dict[str, Any] = {
        "total_tasks": total_tasks,
        # every stored result that ran (sub-tasks and blocks included), so that
        # executed = succeeded + failed + timeouts; skipped ones are counted apart
        "executed": counts[SUCCESS] + counts[FAILED] + counts[TIMEOUT],
        "succeeded": counts[SUCCESS],
        "failed": counts[FAILED],
        "timeouts": counts[TIMEOUT],
        "skipped": counts[SKIPPED],
        "execution_path": path,
        "final_task": path[-1] if path else None,
    }
    if record.failure:
        summary["failure_info"] = {
            "task_id": record.failure.get("task_id"),
            "exit_code": record.failure.get("exit_code"),
            "error": masker.mask_data(record.failure.get("error")),
        }
    return summary


def build_report(
    *,
    task_file: Path,
    file_sha256: str,
    run_id: str,
    status: str,
    dry_run: bool,
    exit_code: int,
    started: float,
    ended: float,
    log_file: Optional[str],
    version: str,
    total_tasks: int,
    record: RunRecord,
    variables: Mapping[str, str],
    masker: Masker,
    kept_outputs: Optional[Mapping[int, List[Dict[str, Any]]]] = None,
) -> Dict[str, Any]:
    """The whole report as plain JSON-ready data, secrets masked; `kept_outputs` (task
    ID: its files, with --output-dir) gives every result an `output_files` list."""
    if status not in STATUSES:
        raise ValueError(f"unknown report status {status!r}")
    # Copies taken in one C call each: parallel sub-tasks may still store results.
    results = sorted(record.results.copy().items())
    trace = list(record.trace)
    return {
        "schema_version": SCHEMA_VERSION,
        "workflow_metadata": {
            "task_file": str(Path(task_file).absolute()),
            "execution_id": file_sha256[:8],
            "run_id": run_id,
            "status": status,
            "dry_run": dry_run,
            "exit_code": exit_code,
            "start_time": iso_time(started),
            "end_time": iso_time(ended),
            "duration_seconds": round(max(0.0, ended - started), 3),
            "log_file": log_file,
            "tasker_version": version,
        },
        "execution_summary": _summary(total_tasks, record, [r for _, r in results], masker),
        "task_results": {str(tid): result_entry(
            result, masker, None if kept_outputs is None else kept_outputs.get(tid, []))
            for tid, result in results},
        "variables": {name: masker.mask(value) for name, value in variables.items()},
        "trace": [trace_entry(entry, masker) for entry in trace],
    }


def write_report(path: Path, report: Dict[str, Any]) -> None:
    """Write `report` as indented UTF-8 JSON, atomically; parent directories are created."""
    # Serialise first: a value json cannot encode must leave the old report untouched.
    try:
        data = (json.dumps(report, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates (undecodable output bytes) are only valid as \u escapes.
        data = (json.dumps(report, indent=2) + "\n").encode("ascii")
    atomic_write(Path(path), data)
