"""Command-line options: the parser, file-defined arguments, and the merged value.

Every flag of the original (2.0 and 2.2) is accepted so wrapper scripts keep
working. Options can also come from `-` lines at the top of the task file
(SPEC II.7.6): built-in default < file < command line, flags OR-ed.
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from functools import lru_cache
from typing import Any, Callable, Dict, FrozenSet, List, NoReturn, Optional, Sequence, Tuple

from tasker import __version__
from tasker.record import record
from tasker.syntax.ast import CliArgLine

EXIT_CODES = """\
exit status:
  0        workflow completed (ran off the last task, next=never, return=0),
           --validate-only passed, plan declined, informational options
  1        a failed unrouted task whose own exit code was 0; unreadable task
           file; log directory or file cannot be created; an internal error
           (a bug: the log file has the details)
  2        command-line usage error; --show-plan with no terminal on stdin
           and no -y
  N        return=N, or the exit code of a failed unrouted task (exec=ssh: 127
           remote program missing, 255 no connection, login or host key)
  10       on_success-only task failed; block aggregate condition not met
           without on_failure
  12       --start-from names no task; state file invalid or changed
  20       task file invalid (syntax, validation, security); exec type not
           configured; program not found at run time; instance lock cannot
           be made (--instance-check)
  21       host validation: DNS failures only
  24       no tasks in the file
  25       the same workflow is already running (--instance-check)
  26       the run's records could not be written (the log file: a full disk,
           an I/O error); no further task was started
  60       host validation: ping failed
  61       host validation: connectivity test failed or wrapper binary missing
  124      a task timed out (its exit code propagated)
  129      interrupted by SIGHUP (e.g. the SSH session to the jumphost dropped)
  130/143  interrupted by SIGINT/SIGTERM
"""

# Options a task file may not set for itself (SPEC II.7.6).
FILE_FORBIDDEN = ("help", "version", "force_instance", "print_completion")
# Options a task file may name but which are ignored there, with a warning.
FILE_IGNORED = ("skip_security_validation", "skip_validation", "fire_and_forget")
LOG_LEVELS = ("ERROR", "WARN", "INFO", "DEBUG")


class UsageError(Exception):
    """A bad option: message and exit code (2 for usage, 20 for forbidden file options).

    `line` is the task-file line of a file-defined argument (0 for the command line).
    """

    def __init__(self, message: str, exit_code: int = 2, line: int = 0):
        super().__init__(message)
        self.message, self.exit_code, self.line = message, exit_code, line


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so the caller picks the exit path."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: error: {message}")


def _level(text: str) -> str:
    level = text.strip().upper()
    level = "WARN" if level == "WARNING" else level
    if level not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(f"invalid log level '{text}' "
                                         f"(choose from {', '.join(LOG_LEVELS)})")
    return level


def _assignment(text: str) -> Tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name.strip()):
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got '{text}'")
    return name.strip(), value


def _flags(p: argparse.ArgumentParser, *specs: Tuple[Sequence[str], str]) -> None:
    for names, help_text in specs:
        p.add_argument(*names, action="store_true", help=help_text)


@lru_cache(maxsize=None)
def build_parser(with_file: bool = True) -> argparse.ArgumentParser:
    """The argument parser; defaults are suppressed so we can tell what was given.

    Built once per process (parsing does not change it): the command line, the flag
    names and the task file's header lines share it, and each build costs a millisecond
    or two of every run's start-up."""
    p = _Parser(prog="tasker", argument_default=argparse.SUPPRESS, epilog=EXIT_CODES,
                formatter_class=argparse.RawDescriptionHelpFormatter,
                description="Run a TASKER task file. Without -r it is a dry run.")
    if with_file:
        p.add_argument("task_file", help="the task file to run")
    _flags(p, (("-r", "--run"), "really execute (default: dry run)"))
    p.add_argument("-l", "--log-dir", metavar="DIR", help="base directory for logs and state "
                   "(default: $TASK_EXECUTOR_LOG or ~/TASKER)")
    p.add_argument("--log-level", type=_level, metavar="LEVEL",
                   help="ERROR, WARN, INFO (default) or DEBUG")
    _flags(p, (("-d", "--debug"), "same as --log-level DEBUG"))
    p.add_argument("-t", "--type", metavar="TYPE", help="default execution type")
    p.add_argument("-p", "--project", metavar="NAME", help="append a line to the project "
                   "summary <logdir>/project/NAME.summary")
    p.add_argument("--start-from", type=int, metavar="ID", help="start at task ID, restoring "
                   "earlier results from the state file")
    p.add_argument("-o", "--timeout", type=int, metavar="SECONDS",
                   help="default command timeout (task timeout= wins)")
    p.add_argument("--alert-on-failure", metavar="SCRIPT", help="run SCRIPT when the run fails")
    p.add_argument("--output-json", nargs="?", const="", metavar="PATH",
                   help="write the JSON run report (default path under <logdir>/output/; "
                   "- writes it to stdout and the console log to stderr)")
    p.add_argument("--output-dir", metavar="DIR", type=_named,
                   help="keep every command's whole stdout and stderr as files in DIR "
                   "(secrets masked, mode 0600; real runs only; listed in the JSON report)")
    p.add_argument("--output-html", metavar="FILE", type=_html_file,
                   help="write a self-contained HTML report of the run (timeline, recap, "
                   "outputs) to FILE, mode 0600; FILE's directory must exist")
    p.add_argument("--set", dest="set", action="append", type=_assignment,
                   metavar="NAME=VALUE", help="override or add a global variable (repeatable)")
    p.add_argument("--graph", choices=("dot", "mermaid"), help="print the workflow as a graph")
    _flags(
        p,
        (("--validate-only",), "validate the file and its hosts, then exit"),
        (("--show-plan",), "print the execution plan and ask before running (without a "
         "terminal on stdin, -y is needed: else exit 2)"),
        (("--skip-task-validation",), "skip the task-file validator"),
        (("--skip-host-validation",), "skip DNS, ping and connectivity checks"),
        (("--skip-validation",), "skip all validation"),
        (("--skip-command-validation",), "do not check that wrapper binaries exist"),
        (("--skip-security-validation",), "skip the security rules for task fields"),
        (("--skip-unresolved-host-validation",), "resolve placeholder hostnames at run time"),
        (("--skip-subtask-range-validation",), "no warning for sub-task IDs out of range"),
        (("--strict-env-validation",), "globals may only use $TASKER_* variables"),
        (("--fire-and-forget",), "continue after unrouted failures"),
        (("--no-task-backup",), "do not copy the task file to <logdir>/backup"),
        (("--auto-recovery",), "resume a failed run from its state file"),
        (("--show-recovery-info",), "print the saved states of this task file and exit"),
        (("-y", "--yes"), "answer yes to prompts"),
        (("--instance-check",), "refuse to run the same workflow twice at once"),
        (("--force-instance",), "skip the instance check"),
        (("--show-effective-args",), "print the merged options and exit"),
        (("-c", "--connection-test"), "accepted for compatibility: connectivity is always tested"),
        (("--force",), "with --start-from: restore state even if the task file changed"),
        (("--ssh-accept-new",), "record the keys of SSH hosts that known_hosts does not know "
         "yet (a changed key is still refused)"),
    )
    _ssh_options(p)
    p.add_argument("--print-completion", action=_PrintCompletion, choices=COMPLETION_SHELLS,
                   help="print the completion script for SHELL (bash or zsh) and exit",
                   metavar="SHELL")
    p.add_argument("-V", "--version", action="version",
                   version=f"tasker {__version__} (TASKER 2.x task files)")
    return p


COMPLETION_SHELLS = ("bash", "zsh")
# What the shell completes after an option, by its metavar (shtab's names; others: nothing).
_COMPLETE_BY_METAVAR = {"DIR": "DIRECTORY", "FILE": "FILE", "PATH": "FILE", "SCRIPT": "FILE"}


class _PrintCompletion(argparse.Action):
    """`--print-completion SHELL`: the script is made from this parser, so it never lags it."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: Optional[str] = None) -> None:
        try:
            import shtab  # (imported here: only this option needs it)
        except ImportError:  # (a checkout run without installing tasker's requirements)
            raise UsageError(f"{parser.prog}: error: --print-completion needs the Python "
                             "package shtab, which installing tasker brings (in a checkout: "
                             "pip install shtab)", 1) from None
        for action in parser._actions:
            kind = _COMPLETE_BY_METAVAR.get(str(action.metavar))
            if action.dest == "task_file":
                kind = "FILE"
            if kind:
                action.complete = getattr(shtab, kind)  # type: ignore[attr-defined]
            if action.dest == "log_level":  # (for completion only: the parser takes any case)
                action.choices = LOG_LEVELS
        sys.stdout.write(shtab.complete(parser, shell=str(values)))
        parser.exit()


def _positive(kind: type) -> Any:
    """An argparse type: a number of `kind` greater than 0."""
    def convert(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not value > 0 or value != value:  # (nan is not a number here)
            raise argparse.ArgumentTypeError(f"expected a number greater than 0, got '{text}'")
        return value
    return convert


def _html_file(text: str) -> str:
    """An argparse type: the file of --output-html, never empty and never `-`."""
    if text == "-":
        raise argparse.ArgumentTypeError("'-' (standard output) is not offered for the HTML "
                                         "report: give the path of a file")
    return _named(text)


def _named(text: str) -> str:
    """An argparse type: a path that is not empty (an empty one would pass unnoticed)."""
    if not text:
        raise argparse.ArgumentTypeError("the path is empty: give one, or leave the option out")
    return text


def _ssh_options(p: argparse.ArgumentParser) -> None:
    """The options of exec=ssh (see README, "SSH")."""
    p.add_argument("--ssh-config", metavar="FILE", help="read this ssh_config instead of "
                   "~/.ssh/config and /etc/ssh/ssh_config")
    p.add_argument("--ssh-user", metavar="USER", help="SSH user when the task names none "
                   "(user@host wins; then ssh_config's User; then the local user)")
    p.add_argument("--ssh-connect-timeout", type=_positive(float), metavar="SECONDS",
                   help="limit of each SSH connection and login (default: ssh_config's "
                   "ConnectTimeout, else 10)")
    p.add_argument("--ssh-max-connect", type=_positive(int), metavar="N",
                   help="SSH handshakes at once (default 32)")
    p.add_argument("--ssh-max-transports", type=_positive(int), metavar="N",
                   help="SSH connections open at once; the least recently used idle one "
                   "closes first (default 256)")


DEFAULTS: Dict[str, Any] = {
    "run": False, "log_dir": None, "log_level": "INFO", "debug": False, "type": None,
    "project": None, "start_from": None, "timeout": None, "alert_on_failure": None,
    "output_json": None, "output_dir": None, "output_html": None, "set": [], "graph": None,
    "ssh_config": None, "ssh_user": None, "ssh_connect_timeout": None, "ssh_max_connect": 32,
    "ssh_max_transports": 256,
}


@record(frozen=True)
class Options:
    """The merged options of one run (defaults, task-file lines, command line)."""

    values: Dict[str, Any]
    from_file: Tuple[str, ...] = ()  # option names that came from the task file
    from_cli: Tuple[str, ...] = ()  # option names given on the command line
    ignored_from_file: Tuple[str, ...] = ()  # security-sensitive ones the file may not set
    flags: FrozenSet[str] = frozenset()  # names of on/off options (False when absent)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            if name in self.flags:
                return False
            raise AttributeError(name) from None


@lru_cache(maxsize=None)
def _flag_names() -> FrozenSet[str]:
    """Destinations of the on/off options (they are OR-ed when merged)."""
    return frozenset(a.dest for a in build_parser()._actions
                     if isinstance(a, argparse._StoreTrueAction))


def parse_cli(argv: Sequence[str]) -> Dict[str, Any]:
    """Parse the command line; UsageError on bad input (argparse prints --help itself)."""
    try:
        return vars(build_parser().parse_args(list(argv)))
    except UsageError as exc:
        return _with_task_file(list(argv), exc)


def _with_task_file(argv: List[str], failed: UsageError) -> Dict[str, Any]:
    """The command line again when argparse found no task file, or more than one word
    that could be it: the words that could be the task file are those no option took,
    and the value `--output-json` took when given as a word of its own (its value is
    optional, so `tasker --output-json FILE` gives argparse no task file). One such word
    is the task file (and `--output-json` writes to its default path); none or several
    is a clear usage error. Any other mistake keeps argparse's message."""
    parsed, rest = build_parser(with_file=False).parse_known_args(argv)
    known = vars(parsed)
    if any(word.startswith("-") and word not in ("-", "--") for word in rest):
        raise failed  # an unknown option: argparse's message names it
    words = [word for word in rest if word != "--"]
    taken = known.get("output_json")
    if not words and taken and _value_apart(argv, "--output-json", taken):
        words, known["output_json"] = [taken], ""
    if len(words) == 1:
        known["task_file"] = words[0]
        return known
    if not words:
        raise UsageError("tasker: error: no task file given (usage: tasker [options] "
                         "TASK_FILE; see tasker --help)")
    raise UsageError(f"tasker: error: {len(words)} words could be the task file "
                     f"({', '.join(repr(w) for w in words)}); give one task file (an "
                     "option's value goes right after the option)")


def _value_apart(argv: Sequence[str], option: str, value: str) -> bool:
    """True when `value` follows `option` (or an abbreviation argparse accepts) as the
    next word, rather than as `--option=value`."""
    return any(len(word) > 2 and option.startswith(word) and argv[i + 1] == value
               for i, word in enumerate(argv[:-1]))


def _words(text: str) -> List[str]:
    """The arguments of one header line, split as a shell would (`--set G="a b"`, `-r -d`).

    A line whose quotes do not pair up is split at blanks instead.
    """
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def parse_file_args(lines: Sequence[CliArgLine]) -> Dict[str, Any]:
    """Parse file-defined argument lines; unknown options are ignored (II.7.6).

    A bad line raises UsageError carrying the line number, so the message can name it.
    """
    words: List[Tuple[str, int]] = []  # (word, line)
    for arg in lines:
        text = arg.text
        if re.match(r"-[A-Za-z][A-Za-z-]+", text) and not text.startswith("--"):
            raise UsageError(f"task file argument '{text}': a long option needs two dashes "
                             f"(--{text.lstrip('-')})", line=arg.line)
        words.extend((w, arg.line) for w in _words(text))
    if not words:  # (most files have no header lines; defaults are suppressed anyway)
        return {}
    for name in ("-h", "--help", "-V", "--version", "--force-instance", "--print-completion"):
        for word, line in words:
            if word == name or word.startswith(name + "="):
                raise UsageError(f"task file argument '{name}' is only allowed on the command "
                                 "line", 20, line)
    known, _unknown = build_parser(with_file=False).parse_known_args([w for w, _ in words])
    return vars(known)


def merge(cli: Dict[str, Any], file: Dict[str, Any]) -> Options:
    """default < file < command line; flags are OR-ed; some flags are CLI-only."""
    flag_names = _flag_names()
    values = dict(DEFAULTS)
    values.update((name, False) for name in flag_names)
    ignored = tuple(k for k in FILE_IGNORED if file.get(k))
    for key, value in file.items():
        if key not in FILE_IGNORED:
            values[key] = value
    for key, value in cli.items():
        values[key] = (value or values.get(key, False)) if key in flag_names else value
    if file.get("set") and cli.get("set"):  # both apply, the command line's last (it wins)
        values["set"] = list(file["set"]) + list(cli["set"])
    if values.get("debug") and values["log_level"] == "INFO":  # (even an explicit INFO)
        values["log_level"] = "DEBUG"
    given = tuple(k for k, v in cli.items() if not (k in flag_names and not v))
    return Options(values, tuple(file), given, ignored, flag_names)


def effective_args(options: Options, mask: Callable[[str], str] = lambda text: text) -> str:
    """`--show-effective-args` text: each option, its value (secrets masked with `mask`),
    and where it came from."""
    lines = []
    for key in sorted(options.values):
        if key == "task_file":
            continue
        in_file = key in options.from_file and key not in options.ignored_from_file
        if key in options.from_cli:
            src = "file+cli" if in_file and key == "set" else "cli"
        else:
            src = "file" if in_file else "default"
        lines.append(f"  {key.replace('_', '-')}: {mask(repr(options.values[key]))} ({src})")
    return "Effective arguments:\n" + "\n".join(lines)
