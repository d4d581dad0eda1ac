"""Loading execution_types.yaml: search order, schema, errors with lines, built-in equality."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tasker.exec.config import (
    ExecConfigError,
    default_search_dirs,
    find_config_file,
    load_exec_config,
    load_exec_file,
)
from tasker.exec.exectypes import LOCAL, ValidationTest, build_argv, builtin_config
from tasker.record import replace

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "execution_types.yaml"


def write(directory: Path, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "execution_types.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def load(tmp_path: Path, text: str, platform: str = "linux"):
    return load_exec_file(write(tmp_path, text), platform)


def error_of(tmp_path: Path, text: str) -> ExecConfigError:
    with pytest.raises(ExecConfigError) as info:
        load(tmp_path, text)
    return info.value


CUSTOM = """\
platforms:
  linux:
    default_exec_type: PB
    default_timeout: 120
    default_validation_timeout: 7.5
    PBRUN:
      description: wrapped
      binary: pbrun
      command_template: ["{binary}", "-h", "{hostname}", "{command}", "{arguments_split}"]
      timeout: 600
      validation_test:
        command: pbtest
        arguments: -v
    sudo:
      binary: sudo
      command_template: [sudo, -n, "{command}", "{arguments_split}"]
      validation_test: null
    local:
      binary: ignored
      command_template: [ignored]
aliases:
  PB: PBRUN
"""


# --- samples and built-ins --------------------------------------------------------------

@pytest.mark.parametrize("platform", ["linux", "windows", "darwin"])
def test_sample_file_equals_builtin_defaults(platform: str) -> None:
    loaded = load_exec_file(SAMPLE, platform)
    assert loaded.source == str(SAMPLE)
    assert replace(loaded, source=None) == builtin_config(platform)


def test_no_file_gives_builtin_defaults(tmp_path: Path) -> None:
    assert load_exec_config([tmp_path / "a", tmp_path / "b"], "linux") == builtin_config("linux")


# --- search order -----------------------------------------------------------------------

def test_first_file_found_wins(tmp_path: Path) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    write(second, "platforms: {linux: {default_exec_type: second}}")
    assert load_exec_config([first, second], "linux").default_exec_type == "second"
    write(first, "platforms: {linux: {default_exec_type: first}}")
    assert load_exec_config([first, second], "linux").default_exec_type == "first"


def test_default_search_dirs_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    dirs = default_search_dirs(tmp_path / "install")
    home = tmp_path / "home/.config/tasker"
    assert dirs == [tmp_path / "cfg", tmp_path / "install" / "cfg", home]
    write(tmp_path / "home/.config/tasker", "platforms: {}")
    assert find_config_file(dirs) == tmp_path / "home/.config/tasker/execution_types.yaml"
    write(tmp_path / "cfg", "platforms: {}")
    assert find_config_file(dirs) == tmp_path / "cfg/execution_types.yaml"


# --- valid files ------------------------------------------------------------------------

def test_custom_file(tmp_path: Path) -> None:
    config = load(tmp_path, CUSTOM)
    assert set(config.types) == {"local", "ssh", "pbrun", "sudo"}
    assert config.types["local"] is LOCAL  # local is built in; the file's entry is ignored
    assert (config.default_exec_type, config.default_timeout) == ("pb", 120.0)
    assert config.default_validation_timeout == 7.5
    assert config.canonical(config.default_exec_type) == "pbrun"
    assert config.canonical("bash") is None  # built-in alias, but no shell type here
    pbrun = config.types["pbrun"]
    assert (pbrun.description, pbrun.timeout) == ("wrapped", 600.0)
    assert pbrun.validation == ValidationTest("pbtest", "-v", 0, None, None)
    assert config.types["sudo"].validation is None
    sudo = build_argv(config.types["sudo"], "h", "id", "-u 'x y'")
    assert sudo == ("sudo", "-n", "id", "-u", "x y")


def test_file_aliases_are_added_to_the_builtin_ones(tmp_path: Path) -> None:
    config = load(tmp_path, """\
        platforms:
          linux:
            shell: {binary: /bin/sh, command_template: ["{binary}", "-c", "{command} {arguments}"]}
        aliases: {dash: SHELL}
    """)
    assert config.canonical("DASH") == config.canonical("/bin/sh") == "shell"


@pytest.mark.parametrize("text", ["platforms: {windows: {}}", "platforms: {linux: null}"])
def test_platform_without_section_has_only_local(tmp_path: Path, text: str) -> None:
    config = load(tmp_path, text)
    assert set(config.types) == {"local", "ssh"} and config.default_exec_type == "local"
    assert config.default_timeout is None and config.default_validation_timeout == 10


def test_other_platform_sections_are_checked_too(tmp_path: Path) -> None:
    error = error_of(tmp_path, """\
        platforms:
          linux: {}
          windows:
            shell: {binary: cmd.exe, command_template: "cmd.exe /c"}
    """)
    assert "platforms.windows.shell.command_template" in error.message and error.line == 4


def test_unknown_keys_are_ignored(tmp_path: Path) -> None:
    config = load(tmp_path, """\
        version: 3
        platforms:
          linux:
            colour: blue
            p: {binary: p, command_template: [p], extra: 1}
    """)
    assert set(config.types) == {"local", "ssh", "p"}


# --- malformed files --------------------------------------------------------------------

def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    error = error_of(tmp_path, "platforms:\n  linux:\n    pbrun: [unclosed\n    x: 1\n")
    assert error.line == 4
    assert str(error).startswith(f"{tmp_path / 'execution_types.yaml'}:4: this is not valid YAML")


@pytest.mark.parametrize("text", ["", "- a list\n", "aliases: {}\n", "platforms: [linux]\n"])
def test_missing_platforms_mapping(tmp_path: Path, text: str) -> None:
    assert "no top-level 'platforms' mapping" in error_of(tmp_path, text).message


@pytest.mark.parametrize(
    "body, line, fragment",
    [
        ("    default_timeout: soon\n", 3, "default_timeout must be a positive number"),
        ("    default_timeout: 0\n", 3, "positive number"),
        ("    default_validation_timeout: true\n", 3, "positive number"),
        ("    default_exec_type: [a]\n", 3, "default_exec_type must be a string"),
        ("    x:\n      binary: x\n", 3, "platforms.linux.x has no 'command_template'"),
        ("    x:\n      command_template: [x]\n", 3, "platforms.linux.x has no 'binary'"),
        ("    x:\n      binary: x\n      command_template: []\n", 5, "non-empty list"),
        ("    x:\n      binary: x\n      command_template: [x, {a: 1}]\n", 5, "not a string"),
        ("    x:\n      binary: x\n      command_template: [x, '{host}']\n", 5,
         "unknown placeholder {host}"),
        ("    x:\n      binary: x\n      command_template: ['--{arguments_split}']\n", 5,
         "must be a list element of its own"),
        ("    x:\n      binary: x\n      command_template: [x]\n      timeout: -1\n", 6,
         "x.timeout must be a positive number"),
        ("    x:\n      binary: x\n      command_template: [x]\n      validation_test: yes\n", 6,
         "validation_test must be a mapping or null"),
        ("    x:\n      binary: x\n      command_template: [x]\n      validation_test: {}\n", 6,
         "validation_test has no 'command'"),
        ("    x:\n      binary: x\n      command_template: [x]\n"
         "      validation_test:\n        command: t\n        expected_exit: '0'\n", 8,
         "expected_exit must be an integer"),
    ],
)
def test_wrong_types_name_the_line(tmp_path: Path, body: str, line: int, fragment: str) -> None:
    error = error_of(tmp_path, "platforms:\n  linux:\n" + body)
    assert fragment in error.message
    assert error.line == line
    assert str(error) == f"{tmp_path / 'execution_types.yaml'}:{line}: {error.message}"


def test_bad_aliases(tmp_path: Path) -> None:
    error = error_of(tmp_path, "platforms: {}\naliases: [a]\n")
    assert "aliases must be a mapping" in error.message and error.line == 2
    error = error_of(tmp_path, "platforms: {}\naliases:\n  a: [b]\n")
    assert error.line == 3


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "execution_types.yaml"
    path.write_bytes(b"platforms: {linux: {\xff\xfe}}")
    with pytest.raises(ExecConfigError) as info:
        load_exec_config([tmp_path], "linux")
    assert "cannot be read" in str(info.value) and str(path) in str(info.value)


def test_importing_the_exec_package_does_not_import_yaml() -> None:
    code = (
        "import sys, tasker.exec.config, tasker.exec.process, tasker.exec.exectypes;"
        "print('yaml' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_row_can_name_the_ssh_transport(tmp_path: Path) -> None:
    config = load(tmp_path, """
platforms:
  linux:
    sudo_ssh:
      transport: ssh
      command_template: ["sudo", "-n", "{command}", "{arguments_split}"]
    plain_ssh:
      transport: SSH
""")
    assert config.types["sudo_ssh"].transport == "ssh"
    assert config.types["sudo_ssh"].template == ("sudo", "-n", "{command}", "{arguments_split}")
    assert config.types["plain_ssh"].template == ("{command}", "{arguments_split}")
    assert config.types["ssh"].transport == "ssh"  # built in, like local
    with pytest.raises(ExecConfigError, match="transport must be one of process, ssh"):
        load(tmp_path, "platforms:\n  linux:\n    x:\n      transport: telnet\n")
