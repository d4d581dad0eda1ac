"""Execution types as data: argv templates expanded by one pure function.

An exec type (`local`, `shell`, `pbrun`, `p7s`, `wwrs`, or anything a YAML file
adds) is a row of data: a binary and an argv template. `build_argv` turns a
template plus a task's hostname, command and arguments into the argument vector;
there is no class per type. `builtin_config` is what tasker uses when no
`execution_types.yaml` is found; it equals the original's shipped file.
"""

from __future__ import annotations

import re
import sys
from types import MappingProxyType
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from tasker.exec.base import PROCESS, SSH

# (ArgumentsError and split_arguments live in words.py; the validator finds them here too)
from tasker.exec.words import ArgumentsError as ArgumentsError, split_arguments as split_arguments
from tasker.record import record

SPLIT_ELEMENT = "{arguments_split}"  # a template element that becomes 0..n elements
_PLACEHOLDER = re.compile(r"\{(binary|hostname|command|arguments)\}")


@record(frozen=True)
class ValidationTest:
    """The command run on a host to prove an exec type works there."""

    command: str
    arguments: str = ""
    expected_exit: int = 0
    expected_output: Optional[str] = "OK"  # must occur in stdout; None: not checked
    timeout: Optional[float] = None


@record(frozen=True)
class ExecType:
    """One execution type: how a command is wrapped into an argument vector, and which
    transport runs it (a local process, or an SSH channel to the task's host, where the
    vector is the remote command)."""

    name: str
    binary: str
    template: Tuple[str, ...]
    description: str = ""
    timeout: Optional[float] = None
    validation: Optional[ValidationTest] = None
    transport: str = PROCESS


@record(frozen=True)
class ExecConfig:
    """All exec types configured for this platform, with aliases and defaults."""

    types: Mapping[str, ExecType]  # canonical name -> ExecType ("local" always present)
    aliases: Mapping[str, str]     # alias -> canonical name
    default_exec_type: str
    default_timeout: Optional[float]
    default_validation_timeout: float
    source: Optional[str]          # the YAML file it came from; None when built in

    def canonical(self, name: str) -> Optional[str]:
        """The configured type `name` denotes (trimmed, any case, aliases), else None."""
        key = name.strip().lower()
        key = self.aliases.get(key, key)
        return key if key in self.types else None

    def get(self, name: str) -> Optional[ExecType]:
        """The ExecType `name` denotes, or None when it is not configured."""
        key = self.canonical(name)
        return None if key is None else self.types[key]


def current_platform() -> str:
    """The platform section this interpreter reads: linux, windows or darwin."""
    if sys.platform.startswith("win"):
        return "windows"
    return "darwin" if sys.platform == "darwin" else "linux"


def build_argv(xtype: ExecType, hostname: str, command: str, arguments: str,
               words: Optional[Sequence[str]] = None) -> Tuple[str, ...]:
    """Expand `xtype`'s template into an argument vector.

    `arguments` is the text an `{arguments}` element takes (with any results inserted
    verbatim), `words` what `{arguments_split}` becomes; without `words` the text is
    split here (ArgumentsError when its quotes do not balance).
    """
    values = {
        "binary": xtype.binary,
        "hostname": hostname,
        "command": command,
        "arguments": arguments,
    }
    argv: List[str] = []
    for element in xtype.template:
        if element == SPLIT_ELEMENT:
            argv.extend(split_arguments(arguments) if words is None else words)
            continue
        if not arguments:
            # "{command} {arguments}" with no arguments is just the command.
            element = element.replace(" {arguments}", "").replace("{arguments} ", "")
        # One pass, so a value that looks like a placeholder is never expanded again.
        argv.append(_PLACEHOLDER.sub(lambda match: values[match.group(1)], element))
    return tuple(argv)


LOCAL = ExecType(
    name="local",
    binary="",
    template=("{command}", SPLIT_ELEMENT),
    description="Run the command directly on this machine, without a shell",
)

SSH_TYPE = ExecType(
    name="ssh",
    binary="",
    template=("{command}", SPLIT_ELEMENT),
    description="Run the command on the task's host over SSH (paramiko, pooled connections)",
    transport=SSH,
)

_ECHO_TEST = ValidationTest(command="echo", arguments="OK")
_PB_TEST = ValidationTest(command="pbtest")


def _unix_types() -> Tuple[ExecType, ...]:
    """The exec types of the original's shipped `linux` section."""
    return (
        ExecType(
            "shell", "/bin/bash", ("{binary}", "-c", "{command} {arguments}"),
            "Run the command line through bash -c (pipes, redirections, globs)",
            validation=_ECHO_TEST,
        ),
        ExecType(
            "pbrun", "pbrun", ("{binary}", "-n", "-h", "{hostname}", "{command}", SPLIT_ELEMENT),
            "PowerBroker: run the command on the target host", validation=_PB_TEST,
        ),
        ExecType(
            "p7s", "p7s", ("{binary}", "{hostname}", "{command}", SPLIT_ELEMENT),
            "p7s: run the command on the target host", validation=_PB_TEST,
        ),
        ExecType(
            "wwrs", "wwrs_clir", ("{binary}", "{hostname}", "{command}", SPLIT_ELEMENT),
            "wwrs: run the command on the target host through wwrs_clir",
            validation=ValidationTest(command="wwrs_test", timeout=15),
        ),
    )


def _windows_types() -> Tuple[ExecType, ...]:
    """The exec types of the shipped `windows` section."""
    return (
        ExecType(
            "shell", "cmd.exe", ("{binary}", "/c", "{command} {arguments}"),
            "Run the command line through cmd.exe /c", validation=_ECHO_TEST,
        ),
    )


BUILTIN_ALIASES: Mapping[str, str] = MappingProxyType(
    {"bash": "shell", "sh": "shell", "/bin/bash": "shell", "/bin/sh": "shell", "cmd": "shell"}
)


def make_config(
    types: Tuple[ExecType, ...],
    aliases: Mapping[str, str],
    default_exec_type: str,
    default_timeout: Optional[float],
    default_validation_timeout: float,
    source: Optional[str],
) -> ExecConfig:
    """An immutable ExecConfig; `local` is always added, `ssh` unless a row names it
    (both are built in)."""
    table: Dict[str, ExecType] = {xtype.name: xtype for xtype in types}
    table["local"] = LOCAL
    table.setdefault("ssh", SSH_TYPE)
    return ExecConfig(
        types=MappingProxyType(table),
        aliases=MappingProxyType(dict(aliases)),
        default_exec_type=default_exec_type,
        default_timeout=default_timeout,
        default_validation_timeout=default_validation_timeout,
        source=source,
    )


def builtin_config(platform: Optional[str] = None) -> ExecConfig:
    """The configuration used when no execution_types.yaml exists."""
    platform = platform or current_platform()
    if platform == "linux":
        return make_config(_unix_types(), BUILTIN_ALIASES, "pbrun", 300.0, 10.0, None)
    if platform == "windows":
        return make_config(_windows_types(), BUILTIN_ALIASES, "shell", 300.0, 10.0, None)
    # The shipped file has no darwin section: only `local` exists there.
    return make_config((), BUILTIN_ALIASES, "local", None, 10.0, None)
