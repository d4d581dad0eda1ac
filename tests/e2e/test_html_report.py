"""End to end: `--output-html FILE`, and the report rendered by a real browser (headless).

The browser test needs Debian's `chromium`; without it the test is skipped with the reason,
unless TASKER_REQUIRE_BROWSER=1 (set by .ci/run), where it fails instead.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path
from typing import List, Tuple

import pytest

from tests.e2e.test_cli import DATA, tasker

WORK = """\
SECRET_KEY=hunter22
task=0
hostname=localhost
exec=local
command=sh
arguments=-c "echo '<script>document.title=1</script><b>bold</b> hunter22'"

task=1
type=parallel
hostnames=localhost,127.0.0.1,localhost
exec=local
command=sh
arguments=-c "echo @task@; test @task@ -ne 110001"
success=min_success=2

task=2
hostname=localhost
exec=local
command=echo
arguments=done
next=loop
loop=2
"""
EXECUTIONS = 1 + 3 + 1 + 2  # task 0, three hosts, the block itself, two loop iterations


def run_work(tmp: Path, *extra: str) -> Tuple[str, dict]:
    """Run WORK with --output-html; (the report's text, the JSON report)."""
    work = tmp / "work.txt"
    work.write_text(WORK)
    (tmp / "out").mkdir()  # (the directory of a file the operator names must exist)
    proc = tasker(work, "-r", "--skip-host-validation", "--output-html", tmp / "out" / "r.html",
                  "--output-json", tmp / "r.json", *extra, tmp=tmp)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return (tmp / "out" / "r.html").read_text(), json.loads((tmp / "r.json").read_text())


def test_the_report_is_private_and_holds_every_execution(tmp_path: Path) -> None:
    page, report = run_work(tmp_path)
    assert stat.S_IMODE((tmp_path / "out" / "r.html").stat().st_mode) == 0o600
    assert len(report["trace"]) == EXECUTIONS
    assert len(re.findall(r'<rect class="bar ', page)) == EXECUTIONS
    rows = re.findall(r'<tr data-task="(\d+)"', page)
    assert sorted(rows) == ["0", "1", "110000", "110001", "110002", "2"]
    assert "hunter22" not in page and "&lt;script&gt;document.title=1" in page
    assert 'class="status success"' in page


def test_a_dry_run_and_a_validation_failure_write_it_too(tmp_path: Path) -> None:
    proc = tasker(DATA / "syntax_error.txt", "-r", "--output-html", tmp_path / "bad.html",
                  tmp=tmp_path)
    assert proc.returncode == 20
    page = (tmp_path / "bad.html").read_text()
    assert 'class="status validation_failed"' in page and '<rect class="bar' not in page
    dry = tmp_path / "dry.txt"
    dry.write_text("task=0\nhostname=localhost\nexec=local\ncommand=true\n")
    proc = tasker(dry, "--output-html", tmp_path / "dry.html", tmp=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "success · exit code 0 · dry run · 1 execution" in (
        tmp_path / "dry.html").read_text()


@pytest.mark.parametrize("argv", [("--output-html", "-"), ("--output-html", ""),
                                  ("--output-html=",), ("--output-dir", "")])
def test_stdout_or_an_empty_path_is_a_usage_error(tmp_path: Path, argv: Tuple[str]) -> None:
    proc = tasker(DATA / "hello.txt", "-r", *argv, tmp=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    said = proc.stderr.strip().splitlines()[-1]
    if argv[-1] == "-":
        assert said == ("tasker: error: argument --output-html: '-' (standard output) is "
                        "not offered for the HTML report: give the path of a file")
    else:
        assert said.endswith(": the path is empty: give one, or leave the option out")
    assert not (tmp_path / "-").exists()


def test_a_missing_directory_is_a_warning_never_created(tmp_path: Path) -> None:
    """The HTML and the JSON report alike: the run's exit code stays, no directory made."""
    missing = tmp_path / "nonexist"
    proc = tasker(DATA / "hello.txt", "-r", "--output-html", missing / "x.html",
                  "--output-json", missing / "x.json", tmp=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not missing.exists()
    warns = [line.split("] ", 1)[1] for line in proc.stdout.splitlines() if "WARN:" in line]
    assert warns == [
        f"WARN: Failed to write final summary: [Errno 2] its directory does not exist: "
        f"'{missing}'",
        f"WARN: Failed to write the HTML report: [Errno 2] its directory does not exist: "
        f"'{missing}'"]
    assert proc.stdout.splitlines()[-1].endswith(warns[-1])  # (the run's last line)
    failed = tmp_path / "fail.txt"
    failed.write_text("task=0\nhostname=localhost\nexec=local\ncommand=false\n")
    proc = tasker(failed, "-r", "--output-html", missing / "x.html", tmp=tmp_path)
    assert proc.returncode == 1 and "Failed to write the HTML report" in proc.stdout


def browser() -> str:
    """The chromium program, or the skip (a failure under TASKER_REQUIRE_BROWSER=1)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    reason = "chromium is not installed (apt-get install chromium); the HTML report is not " \
             "checked in a browser"
    if os.environ.get("TASKER_REQUIRE_BROWSER") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def render(program: str, page: Path, profile: Path) -> Tuple[str, List[str]]:
    """The DOM chromium built from `page` and the console messages it logged."""
    argv = [program, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", "--dump-dom",
            page.as_uri()]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, HOME=str(profile)))
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout, [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]


def test_the_report_in_a_real_browser(tmp_path: Path) -> None:
    program = browser()
    run_work(tmp_path)
    dom, console = render(program, tmp_path / "out" / "r.html", tmp_path / "profile")
    assert console == []
    assert len(re.findall(r'<rect class="bar ', dom)) == EXECUTIONS
    assert sorted(re.findall(r'<tr data-task="(\d+)"', dom)) == [
        "0", "1", "110000", "110001", "110002", "2"]
    assert len(re.findall(r"<details ", dom)) == 6 and "<script>document.title" not in dom
    assert "<title>tasker: work.txt (success)</title>" in dom  # (the output's script never ran)
    assert dom.count("<script>") == 1 and "<b>bold</b>" not in dom

    # The check itself works: a page with an error is seen failing in this browser.
    broken = tmp_path / "broken.html"
    broken.write_text("<!DOCTYPE html><html><body><script>notDefined();</script></body></html>")
    assert render(program, broken, tmp_path / "profile2")[1] != []
