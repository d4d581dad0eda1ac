"""End to end: a task's output reaches later tasks as data, never as syntax (SPEC I.4a).

Task 0 of each pair prints a hostile output (`cat` of a file holding it); the
next tasks receive it through `@N_stdout@` and print the argv they got as JSON:
a tiny Python script with exec=local, and fake `p7s`/`pbrun` wrappers on PATH.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Tuple

ROOT = Path(__file__).resolve().parents[2]
ARGV_SCRIPT = "import json, sys\nprint(json.dumps(sys.argv[1:]))\n"
HOSTILE = [
    "$HOME ${PATH}",
    "a b' 'c --rm-all",
    "it's",
    '"x y"',
    "back\\slash \\ \\\\ end\\",
    "@0_stdout@ @SOME_GLOBAL@",
    "tab\there\nnew line  two  blanks",
    "$DB_PASS ${DB_PASS}",
    "x | exit_1 & y=z (q)",
]
SECRET = "hunter2-not-for-outputs"


def tasker(tmp: Path, task_file: Path, *extra: str, env: Dict[str, str]) -> Tuple[int, str]:
    """Run tasker on `task_file`; (exit code, console output)."""
    argv = [sys.executable, str(ROOT / "tasker.py"), str(task_file), "--skip-host-validation",
            "--no-task-backup", "-l", str(tmp / "logs"), *extra]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=tmp,
                          stdin=subprocess.DEVNULL,
                          env=dict(os.environ, HOME=str(tmp), NO_COLOR="1", **env))
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out, out
    return proc.returncode, out


def blank_pieces(text: str) -> List[str]:
    return [p for p in re.split("[ \t\n]+", text) if p]


def fake_wrappers(tmp: Path) -> Path:
    """A bin/ with `p7s` and `pbrun` that print their argv as JSON."""
    bindir = tmp / "bin"
    bindir.mkdir()
    for name in ("p7s", "pbrun"):
        script = bindir / name
        script.write_text(f"#!{sys.executable}\n{ARGV_SCRIPT}")
        script.chmod(0o755)
    return bindir


def task(tid: int, *lines: str, exec_type: str = "local", hostname: str = "localhost") -> str:
    return "\n".join([f"task={tid}", f"hostname={hostname}", f"exec={exec_type}", *lines]) + "\n\n"


def pairs_file(tmp: Path) -> Path:
    """For each hostile output (task 6k prints it): local, p7s, pbrun consumers, a p7s
    task whose hostname is the output, and a task whose success compares with it."""
    argv_py = tmp / "argv.py"
    argv_py.write_text(ARGV_SCRIPT)
    text = "SOME_GLOBAL=global-value\n"
    for i, output in enumerate(HOSTILE):
        source = tmp / f"out{i}.txt"
        source.write_bytes(output.encode())
        n = 6 * i
        ref = f"@{n}_stdout@"
        text += task(n, "command=cat", f"arguments={source}")
        text += task(n + 1, f"command={sys.executable}", f'arguments={argv_py} {ref} "{ref}"')
        text += task(n + 2, "command=consumer", f"arguments={ref} '{ref}'", exec_type="p7s",
                     hostname="db1")
        text += task(n + 3, "command=consumer", f"arguments=-x={ref}", exec_type="pbrun",
                     hostname="db1")
        text += task(n + 4, "command=consumer", exec_type="p7s", hostname=ref)
        text += task(n + 5, "command=cat", f"arguments={source}", f"success=stdout={ref}")
    path = tmp / "pairs.txt"
    path.write_text(text)
    return path


def test_outputs_are_words_for_every_exec_type(tmp_path: Path) -> None:
    bindir = fake_wrappers(tmp_path)
    env = {"PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}", "DB_PASS": SECRET}
    code, out = tasker(tmp_path, pairs_file(tmp_path), "-r", "--output-json",
                       str(tmp_path / "r.json"), env=env)
    assert code == 0, out
    results = json.loads((tmp_path / "r.json").read_text())["task_results"]

    def argv(tid: int) -> List[str]:
        return json.loads(results[str(tid)]["stdout"])

    for i, output in enumerate(HOSTILE):
        n, pieces = 6 * i, blank_pieces(output)
        assert results[str(n)]["stdout"] == output
        assert argv(n + 1) == pieces + [output], output
        assert argv(n + 2) == ["db1", "consumer"] + pieces + [output], output
        first, *rest = pieces
        assert argv(n + 3) == ["-n", "-h", "db1", "consumer", "-x=" + first] + rest, output
        assert argv(n + 4) == [output, "consumer"], output  # a hostname is taken verbatim
        assert results[str(n + 5)]["success"] is True, output  # so is a condition operand
    assert SECRET not in out and SECRET not in (tmp_path / "r.json").read_text()


def test_a_command_is_taken_verbatim(tmp_path: Path) -> None:
    program = tmp_path / "it's a \"prog\" $HOME.py"
    program.write_text(f"#!{sys.executable}\nprint('ran')\n")
    program.chmod(0o755)
    (tmp_path / "name.txt").write_text(str(program))
    text = task(0, "command=cat", f"arguments={tmp_path / 'name.txt'}") + \
        task(1, "command=@0_stdout@")
    (tmp_path / "t.txt").write_text(text)
    code, out = tasker(tmp_path, tmp_path / "t.txt", "-r", env={})
    assert code == 0, out
    assert "Task 1: STDOUT: ran" in out


def test_environment_and_globals_are_expanded_once(tmp_path: Path) -> None:
    """`$VAR`s are expanded in the text as written; a global's value (expanded when the
    file loaded) is not expanded again, and an environment value is not searched for @…@."""
    (tmp_path / "argv.py").write_text(ARGV_SCRIPT)
    text = "G=$INDIRECT\nR=@0_stdout@\n" + task(0, "command=echo", "arguments=out put") + \
        task(1, f"command={sys.executable}",
             'arguments=argv.py @G@ $AT "$AT" @R@ "@R@" ${HOME_X}/f')
    (tmp_path / "t.txt").write_text(text)
    env = {"INDIRECT": "$DB_PASS", "DB_PASS": SECRET, "AT": "@0_stdout@ @G@",
           "HOME_X": "/h"}
    code, out = tasker(tmp_path, tmp_path / "t.txt", "-r", "--output-json",
                       str(tmp_path / "r.json"), env=env)
    assert code == 0, out
    words = json.loads(json.loads((tmp_path / "r.json").read_text())
                       ["task_results"]["1"]["stdout"])
    assert words == ["$DB_PASS", "@0_stdout@", "@G@", "@0_stdout@ @G@", "out", "put",
                     "out put", "/h/f"]
    assert SECRET not in out


def test_shell_lines_take_results_as_written_and_validation_warns(tmp_path: Path) -> None:
    (tmp_path / "out.txt").write_text("'x  y' z")
    text = task(0, "command=cat", f"arguments={tmp_path / 'out.txt'}") + \
        task(1, "command=printf", "arguments='[%s]' @0_stdout@", exec_type="shell")
    (tmp_path / "t.txt").write_text(text)
    code, out = tasker(tmp_path, tmp_path / "t.txt", "-r", env={})
    assert code == 0, out
    assert "Task 1: STDOUT: [x  y][z]" in out  # the shell read the quotes: by design
    code, out = tasker(tmp_path, tmp_path / "t.txt", "--validate-only", env={})
    assert code == 0, out
    assert f"{tmp_path / 't.txt'}:11:18: warning: Task 1: arguments puts the task result " \
        "@0_stdout@ into a shell command line" in out
    assert "hint: to keep a result data" in out


def test_the_hint_of_the_warning_works(tmp_path: Path) -> None:
    """The way out the warning suggests: a shell run by exec=local, the result as $1."""
    (tmp_path / "out.txt").write_text("it's $HOME; `x`")
    text = task(0, "command=cat", f"arguments={tmp_path / 'out.txt'}") + \
        task(1, "command=sh", "arguments=-c 'printf \"[%s]\" \"$1\"' sh \"@0_stdout@\"")
    (tmp_path / "t.txt").write_text(text)
    code, out = tasker(tmp_path, tmp_path / "t.txt", "-r", env={})
    assert code == 0, out
    assert "Task 1: STDOUT: [it's $HOME; `x`]" in out
