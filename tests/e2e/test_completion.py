"""`tasker --print-completion bash|zsh`: scripts made from the argument parser (issue 17, 4)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest
from test_cli import ROOT, no_traceback, tasker

from tasker.options import build_parser

# Loads the script, then calls the function `complete -p tasker` names, as bash would on TAB
# with the cursor at the end of the words given after the script's path.
BASH_DRIVER = r"""
source "$1" || exit 3
shift
spec=$(complete -p tasker) || exit 4
fn=${spec##*-F }; fn=${fn%% *}
COMP_WORDS=(tasker "$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}
"$fn" tasker "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"
"""


def long_options() -> List[str]:
    """Every long option of the parser, the ground truth the scripts must cover."""
    return sorted(name for action in build_parser()._actions
                  for name in action.option_strings if name.startswith("--"))


@pytest.fixture(scope="module")
def bash_script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("completion")
    proc = tasker("--print-completion", "bash", tmp=tmp)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    path = tmp / "tasker.bash"
    path.write_text(proc.stdout)
    return path


def complete(script: Path, *words: str, cwd: Path = ROOT) -> List[str]:
    """The candidates bash offers for the last of `words` (an empty word: a fresh TAB)."""
    proc = subprocess.run(["bash", "-c", BASH_DRIVER, "driver", str(script), *words],
                          capture_output=True, text=True, cwd=cwd, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return [line for line in proc.stdout.splitlines() if line]


def test_bash_script_is_valid_bash(bash_script: Path) -> None:
    proc = subprocess.run(["bash", "-n", str(bash_script)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_bash_completes_every_long_option(bash_script: Path) -> None:
    assert sorted(complete(bash_script, "--")) == long_options()
    assert "--print-completion" in long_options()


def test_bash_completes_an_option_prefix(bash_script: Path) -> None:
    assert complete(bash_script, "--skip-h") == ["--skip-host-validation"]


def test_bash_completes_option_values(bash_script: Path) -> None:
    assert complete(bash_script, "--graph", "") == ["dot", "mermaid"]
    assert complete(bash_script, "--log-level", "") == ["ERROR", "WARN", "INFO", "DEBUG"]
    assert complete(bash_script, "--print-completion", "") == ["bash", "zsh"]


def test_bash_completes_files_and_directories(bash_script: Path, tmp_path: Path) -> None:
    (tmp_path / "deploy.txt").write_text("task=0\n")
    (tmp_path / "dir1").mkdir()
    assert sorted(complete(bash_script, "-r", "", cwd=tmp_path)) == ["deploy.txt", "dir1"]
    assert complete(bash_script, "--log-dir", "", cwd=tmp_path) == ["dir1"]
    assert complete(bash_script, "--ssh-config", "de", cwd=tmp_path) == ["deploy.txt"]


def test_zsh_script_names_every_long_option(tmp_path: Path) -> None:
    proc = tasker("--print-completion", "zsh", tmp=tmp_path)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert proc.stdout.startswith("#compdef tasker")
    for option in long_options():
        assert option in proc.stdout
    if shutil.which("zsh"):  # (zsh is not required; where it is, the script must parse)
        script = tmp_path / "_tasker"
        script.write_text(proc.stdout)
        check = subprocess.run(["zsh", "-n", str(script)], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr


def test_unknown_shell_is_a_usage_error(tmp_path: Path) -> None:
    proc = tasker("--print-completion", "fish", tmp=tmp_path)
    assert proc.returncode == 2 and "invalid choice: 'fish'" in proc.stderr
    assert proc.stdout == ""


def test_help_documents_the_option(tmp_path: Path) -> None:
    proc = tasker("--help", tmp=tmp_path)
    assert "--print-completion SHELL" in proc.stdout


def test_task_file_may_not_ask_for_completion(tmp_path: Path) -> None:
    task_file = tmp_path / "t.txt"
    task_file.write_text("--print-completion bash\ntask=0\nhostname=localhost\n"
                         "command=true\nexec=local\n")
    proc = tasker(task_file, tmp=tmp_path)
    assert proc.returncode == 20
    assert "'--print-completion' is only allowed on the command line" in proc.stderr
    assert "_shtab_tasker" not in proc.stdout
    no_traceback(proc)


def test_without_shtab_says_what_is_missing(tmp_path: Path) -> None:
    code = ("import sys; sys.modules['shtab'] = None; from tasker.cli import main; "
            "sys.exit(main(['--print-completion', 'bash']))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert proc.returncode == 1
    assert "--print-completion needs the Python package shtab" in proc.stderr
    no_traceback(proc)
