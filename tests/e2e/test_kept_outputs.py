"""End to end: --output-dir keeps every execution's whole stdout and stderr."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from importlib import resources
from pathlib import Path

import jsonschema

ROOT = Path(__file__).resolve().parents[2]
FLAKY = ROOT / "tests" / "data" / "blocks" / "flaky.sh"
SECRET = "Zq7-very-secret-Zq7"
BORDER = 256 * 1024  # the chunk size streams are read back with (tasker.engine.streams)


def run(tmp: Path, taskfile: Path, *extra: str) -> subprocess.CompletedProcess:
    spool = tmp / "spool"
    spool.mkdir(exist_ok=True)
    argv = [sys.executable, str(ROOT / "tasker.py"), str(taskfile), "--skip-host-validation",
            "--no-task-backup", "-l", str(tmp / "logs"), "--output-json", str(tmp / "r.json"),
            *extra]
    env = dict(os.environ, HOME=str(tmp), NO_COLOR="1", TMPDIR=str(spool))
    return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=tmp, timeout=120)


def report(tmp: Path) -> dict:
    data = json.loads((tmp / "r.json").read_text("utf-8"))
    schema = json.loads(resources.files("tasker.report").joinpath("report.schema.json")
                        .read_text("utf-8"))
    jsonschema.validate(data, schema)
    return data


def command(tid: int, cmd: str, args: str, extra: str = "") -> str:
    return (f"task={tid}\nhostname=localhost\nexec=local\ncommand={cmd}\n"
            f"arguments={args}\n{extra}\n")


MIXED = (
    "# a loop, a block with a retry, a fan-out over hosts, a block run in a loop\n"
    + command(0, "echo", "loop run", "next=loop\nloop=3\n")
    + "task=1\ntype=parallel\ntasks=100,101\nretry_count=2\nretry_delay=0\n"
      "success=all_success\n\n"
    + "task=2\ntype=parallel\nhostnames=localhost,127.0.0.1\nexec=local\ncommand=sh\n"
      "arguments=-c \"echo out @task@; echo err @task@ >&2\"\n\n"
    + "task=3\ntype=parallel\ntasks=102\nnext=loop\nloop=2\n\n"
    + "task=4\nreturn=0\n\n"
    + command(100, str(FLAKY), "@STATE@/c100 1")
    + command(101, "echo", "one hundred one")
    + command(102, "echo", "in a looped block")
)


def test_every_execution_has_its_own_files_listed_in_the_report(tmp_path):
    taskfile = tmp_path / "mixed.txt"
    taskfile.write_text(MIXED)
    out = tmp_path / "kept"
    proc = run(tmp_path, taskfile, "-r", "--set", f"STATE={tmp_path}", "--output-dir", str(out),
               "--skip-subtask-range-validation")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    names = sorted(os.listdir(out))
    stdouts = [n for n in names if n.endswith(".stdout")]
    assert len(names) == 2 * len(stdouts)
    assert [n[:-len(".stdout")] + ".stderr" for n in stdouts] == \
        [n for n in names if n.endswith(".stderr")]
    assert stdouts == sorted([
        "task-0_iteration-1_attempt-1_host-localhost.stdout",
        "task-0_iteration-2_attempt-1_host-localhost.stdout",
        "task-0_iteration-3_attempt-1_host-localhost.stdout",
        "task-1-100_attempt-1_host-localhost.stdout",
        "task-1-100_attempt-2_host-localhost.stdout",
        "task-1-101_attempt-1_host-localhost.stdout",
        "task-2-120000_attempt-1_host-localhost.stdout",
        "task-2-120001_attempt-1_host-127.0.0.1.stdout",
        "task-3-102_iteration-1_attempt-1_host-localhost.stdout",
        "task-3-102_iteration-2_attempt-1_host-localhost.stdout",
    ])
    assert (out / "task-1-100_attempt-1_host-localhost.stdout").read_text() == "attempt 1 fails\n"
    assert (out / "task-1-100_attempt-2_host-localhost.stdout").read_text() == \
        "attempt 2 succeeds\n"
    assert (out / "task-2-120001_attempt-1_host-127.0.0.1.stderr").read_text() == \
        "err 120001\n"
    results = report(tmp_path)["task_results"]
    listed = [Path(f[kind]).name for r in results.values() for f in r["output_files"]
              for kind in ("stdout", "stderr")]
    assert sorted(listed) == names
    assert [f["attempt"] for f in results["100"]["output_files"]] == [1, 2]
    assert [f["iteration"] for f in results["0"]["output_files"]] == [1, 2, 3]
    assert [(f["block"], f["hostname"]) for f in results["120001"]["output_files"]] == \
        [(2, "127.0.0.1")]
    assert results["1"]["output_files"] == [] and results["4"]["output_files"] == []
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert {stat.S_IMODE((out / n).stat().st_mode) for n in names} == {0o600}


def test_a_large_output_is_kept_whole_and_masked_across_a_chunk_border(tmp_path):
    """3 MB of stdout with the secret across the first border of the read-back chunks."""
    gen = tmp_path / "gen.py"
    gen.write_text(
        "import sys\n"
        f"s = {SECRET!r}\n"
        f"sys.stdout.write('x' * ({BORDER} - 5) + s + 'y' * 3000000 + '\\n' + s + '\\n')\n"
        "sys.stderr.write('e' * 200000)\n")
    taskfile = tmp_path / "big.txt"
    taskfile.write_text(f"API_TOKEN={SECRET}\n" + command(0, sys.executable, str(gen)))
    out = tmp_path / "kept"
    proc = run(tmp_path, taskfile, "-r", "--output-dir", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    kept = (out / "task-0_attempt-1_host-localhost.stdout").read_text()
    assert kept == "x" * (BORDER - 5) + "****" + "y" * 3000000 + "\n****\n"
    assert (out / "task-0_attempt-1_host-localhost.stderr").read_text() == "e" * 200000
    entry = report(tmp_path)["task_results"]["0"]
    assert entry["stdout_truncated"] is True
    assert entry["stdout_length"] == BORDER - 5 + len(SECRET) + 3000000 + 1 + len(SECRET)
    assert (entry["stderr_length"], entry["stderr_truncated"]) == (200000, True)
    assert [n for n in os.listdir(tmp_path / "spool") if n.startswith("tasker")] == []


def test_without_the_option_spilled_outputs_are_deleted_and_nothing_listed(tmp_path):
    taskfile = tmp_path / "big.txt"
    taskfile.write_text(command(0, "sh", "-c 'head -c 3000000 /dev/zero | tr \"\\0\" z'"))
    proc = run(tmp_path, taskfile, "-r")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    entry = report(tmp_path)["task_results"]["0"]
    assert "output_files" not in entry and entry["stdout_length"] == 3000000
    assert [n for n in os.listdir(tmp_path / "spool") if n.startswith("tasker")] == []


def test_a_dry_run_keeps_nothing(tmp_path):
    taskfile = tmp_path / "t.txt"
    taskfile.write_text(command(0, "echo", "hi"))
    proc = run(tmp_path, taskfile, "--output-dir", str(tmp_path / "kept"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not (tmp_path / "kept").exists()
    assert "output_files" not in report(tmp_path)["task_results"]["0"]


def test_a_directory_that_cannot_be_made_warns_and_the_run_goes_on(tmp_path):
    (tmp_path / "blocker").write_text("")
    taskfile = tmp_path / "t.txt"
    taskfile.write_text(command(0, "echo", "hi") + "\n" + command(1, "echo", "again"))
    proc = run(tmp_path, taskfile, "-r", "--output-dir", str(tmp_path / "blocker" / "kept"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    warnings = [line for line in proc.stdout.splitlines() if "Outputs are not kept" in line]
    assert len(warnings) == 1 and "WARN: " in warnings[0]
    assert report(tmp_path)["task_results"]["1"]["output_files"] == []
