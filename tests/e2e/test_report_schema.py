"""End to end: every JSON report tasker writes matches the schema it ships.

The schema is read from the installed package (importlib.resources), so a schema missing
from the package data fails here too.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any, Dict

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    text = resources.files("tasker.report").joinpath("report.schema.json").read_text("utf-8")
    schema = json.loads(text)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def run(tmp: Path, task_file: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, HOME=str(tmp), NO_COLOR="1")
    argv = [sys.executable, str(ROOT / "tasker.py"), str(task_file), *args,
            "-l", str(tmp / "logs"), "--output-json", str(tmp / "r.json")]
    return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=tmp, timeout=120)


def checked(validator: jsonschema.protocols.Validator, tmp: Path) -> Dict[str, Any]:
    report = json.loads((tmp / "r.json").read_text("utf-8"))
    errors = sorted(validator.iter_errors(report), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)
    return report


def test_success(tmp_path, validator):
    assert run(tmp_path, DATA / "hello.txt", "-r").returncode == 0
    meta = checked(validator, tmp_path)["workflow_metadata"]
    assert meta["status"] == "success"


def test_failure(tmp_path, validator):
    assert run(tmp_path, DATA / "failing.txt", "-r").returncode == 3
    assert checked(validator, tmp_path)["workflow_metadata"]["status"] == "failed"


def test_validation_failure(tmp_path, validator):
    assert run(tmp_path, DATA / "syntax_error.txt", "-r").returncode == 20
    assert checked(validator, tmp_path)["workflow_metadata"]["status"] == "validation_failed"


def test_dry_run_of_a_fan_out(tmp_path, validator):
    proc = run(tmp_path, DATA / "blocks" / "hostnames.txt", "--skip-host-validation")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert checked(validator, tmp_path)["workflow_metadata"]["dry_run"] is True


def test_blocks_loops_skips_and_a_cut_output(tmp_path, validator):
    """Block entries (counts), a loop, a skipped task and a stream past 100 KiB."""
    tasks = tmp_path / "mix.txt"
    tasks.write_text(
        "task=0\nhostname=localhost\nexec=local\ncommand=sh\n"
        "arguments=-c 'head -c 300000 /dev/zero | tr \"\\0\" x; echo'\n\n"
        "task=1\nhostname=localhost\nexec=local\ncommand=true\nnext=loop\nloop=2\n\n"
        "task=2\ncondition=@0_exit@=9\nhostname=localhost\nexec=local\ncommand=true\n\n"
        "task=3\ntype=parallel\ntasks=10,11\n\n"
        "task=10\nhostname=localhost\nexec=local\ncommand=true\n\n"
        "task=11\nhostname=localhost\nexec=local\ncommand=echo\narguments=eleven\n")
    proc = run(tmp_path, tasks, "-r", "--skip-host-validation")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = checked(validator, tmp_path)["task_results"]
    big = results["0"]
    assert big["stdout_truncated"] is True
    assert big["stdout_length"] == 300000 and len(big["stdout"]) == 100 * 1024
    assert results["2"]["status"] == "skipped"
    assert results["3"]["total_count"] == 2
    assert results["11"]["stdout_length"] == len("eleven")


def test_interrupt(tmp_path, validator):
    """SIGTERM while a command runs: status interrupted, exit 143, still valid."""
    marker = random.randint(10_000, 99_999)
    tasks = tmp_path / "slow.txt"
    tasks.write_text(f"task=0\nhostname=localhost\nexec=local\ncommand=sleep\n"
                     f"arguments={marker}\n")
    env = dict(os.environ, HOME=str(tmp_path), NO_COLOR="1")
    argv = [sys.executable, str(ROOT / "tasker.py"), str(tasks), "-r",
            "--skip-host-validation", "-l", str(tmp_path / "logs"),
            "--output-json", str(tmp_path / "r.json")]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                            cwd=tmp_path, text=True)
    try:
        for line in proc.stdout:  # the command has started once its line is out
            if "Task 0: Executing" in line:
                break
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 143
    meta = checked(validator, tmp_path)["workflow_metadata"]
    assert (meta["status"], meta["exit_code"]) == ("interrupted", 143)


def test_run_id_differs_between_runs_of_one_file(tmp_path, validator):
    ids = set()
    for _ in range(2):
        assert run(tmp_path, DATA / "hello.txt", "-r").returncode == 0
        meta = checked(validator, tmp_path)["workflow_metadata"]
        ids.add((meta["execution_id"], meta["run_id"]))
    assert len({execution for execution, _ in ids}) == 1  # the file's hash: shared
    assert len({run_id for _, run_id in ids}) == 2


def test_schema_rejects_what_tasker_never_writes(tmp_path, validator):
    """The schema is strict: an unknown key or a wrong type fails."""
    assert run(tmp_path, DATA / "hello.txt", "-r").returncode == 0
    report = checked(validator, tmp_path)
    bad = json.loads(json.dumps(report))
    bad["workflow_metadata"]["surprise"] = 1
    assert not validator.is_valid(bad)
    bad = json.loads(json.dumps(report))
    bad["task_results"]["0"]["stdout_length"] = "5"
    assert not validator.is_valid(bad)
