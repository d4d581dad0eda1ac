"""Read execution types from `execution_types.yaml`, in the original's schema.

    platforms:
      linux:
        default_exec_type: pbrun
        default_timeout: 300
        default_validation_timeout: 10
        pbrun:
          description: ...
          binary: pbrun
          command_template: ["{binary}", "-n", "-h", "{hostname}", "{command}", "{arguments_split}"]
          timeout: 600                # optional
          validation_test: {command: pbtest, expected_exit: 0, expected_output: OK}
    aliases: {bash: shell}            # optional, added to the built-in aliases

`local` is built in: it always exists and an entry of that name is ignored.
Unknown keys are ignored (the original ignores them too); wrong types, missing
required keys and unknown template placeholders are errors naming the file and
line. PyYAML is imported only when a file is actually read.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from tasker.exec.base import PROCESS, SSH
from tasker.exec.exectypes import (
    BUILTIN_ALIASES,
    SPLIT_ELEMENT,
    SSH_TYPE,
    ExecConfig,
    ExecType,
    ValidationTest,
    builtin_config,
    current_platform,
    make_config,
)

FILE_NAME = "execution_types.yaml"
PLATFORMS = ("linux", "windows", "darwin")
_SETTINGS = ("default_exec_type", "default_timeout", "default_validation_timeout")
_KNOWN_PLACEHOLDERS = {"{binary}", "{hostname}", "{command}", "{arguments}", SPLIT_ELEMENT}
_PLACEHOLDER_LIKE = re.compile(r"\{[A-Za-z_]+\}")
TRANSPORTS = (PROCESS, SSH)


class ExecConfigError(Exception):
    """An execution_types.yaml that cannot be used; names the file and line."""

    def __init__(self, path: object, message: str, line: Optional[int] = None) -> None:
        self.path = str(path)
        self.message = message
        self.line = line
        where = self.path if line is None else f"{self.path}:{line}"
        super().__init__(f"{where}: {message}")


class _LinedDict(dict):  # type: ignore[type-arg]
    """A YAML mapping that remembers the line (1-based) of each key."""

    lines: Dict[Any, int]


def default_search_dirs(tasker_dir: Path) -> List[Path]:
    """Where execution_types.yaml is looked for, first hit wins."""
    dirs = [Path.cwd() / "cfg", Path(tasker_dir) / "cfg"]
    try:
        dirs.append(Path.home() / ".config" / "tasker")
    except (RuntimeError, KeyError):  # no home directory to speak of
        pass
    return dirs


def find_config_file(search_dirs: Sequence[Path]) -> Optional[Path]:
    """The first execution_types.yaml found in `search_dirs`, or None."""
    for directory in search_dirs:
        candidate = Path(directory) / FILE_NAME
        if candidate.is_file():
            return candidate
    return None


def load_exec_config(search_dirs: Sequence[Path], platform: Optional[str] = None) -> ExecConfig:
    """The exec types for `platform` from the first file found, else the built-ins."""
    platform = platform or current_platform()
    path = find_config_file(search_dirs)
    if path is None:
        return builtin_config(platform)
    return load_exec_file(path, platform)


def load_exec_file(path: Path, platform: Optional[str] = None) -> ExecConfig:
    """Read one execution_types.yaml; ExecConfigError when it is unusable."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ExecConfigError(path, f"the file cannot be read ({reason})") from None
    return _Reader(str(path)).config(_parse_yaml(text, path), platform or current_platform())


def _parse_yaml(text: str, path: object) -> Any:
    """Parse YAML keeping key lines; syntax errors become ExecConfigError."""
    try:
        import yaml  # imported here: start-up time matters and most runs never need it
    except ImportError:
        raise ExecConfigError(
            path, "PyYAML is needed to read this file but is not installed") from None

    class Loader(yaml.SafeLoader):
        pass

    def construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> _LinedDict:
        loader.flatten_mapping(node)  # honour `<<:` merge keys
        mapping = _LinedDict(loader.construct_mapping(node, deep=True))
        mapping.lines = {}
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=True)  # cached: no second build
            mapping.lines[key] = key_node.start_mark.line + 1
        return mapping

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    try:
        return yaml.load(text, Loader=Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        line = None if mark is None else mark.line + 1
        raise ExecConfigError(path, f"this is not valid YAML: {problem}", line) from None


class _Reader:
    """Turns the parsed YAML into an ExecConfig, checking every type on the way."""

    def __init__(self, path: str) -> None:
        self.path = path

    def error(self, mapping: Any, key: Any, message: str) -> ExecConfigError:
        """An error pointing at the line of `key` in `mapping` (when known)."""
        line = getattr(mapping, "lines", {}).get(key)
        return ExecConfigError(self.path, message, line)

    def config(self, data: Any, platform: str) -> ExecConfig:
        """The ExecConfig for `platform`; every platform section is checked."""
        if not isinstance(data, dict) or not isinstance(data.get("platforms"), dict):
            raise ExecConfigError(self.path, "there is no top-level 'platforms' mapping")
        aliases = dict(BUILTIN_ALIASES)
        aliases.update(self.aliases(data))
        platforms = data["platforms"]
        sections = {}
        for name, section in platforms.items():
            if section is not None and not isinstance(section, _LinedDict):
                raise self.error(platforms, name, f"platforms.{name} must be a mapping")
            sections[str(name).strip().lower()] = section or _LinedDict()
        chosen = None
        for name, section in sections.items():
            built = self.platform(section, f"platforms.{name}", aliases)
            if name == platform:
                chosen = built
        # No section for this platform: like the original, only `local` exists.
        return chosen or make_config((), aliases, "local", None, 10.0, self.path)

    def aliases(self, data: Mapping[str, Any]) -> Dict[str, str]:
        """The top-level `aliases` mapping, names lower-cased."""
        raw = data.get("aliases")
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            raise self.error(data, "aliases", "aliases must be a mapping of name: exec type")
        result = {}
        for name, target in raw.items():
            if not isinstance(name, str) or not isinstance(target, str):
                raise self.error(raw, name, f"alias {name!r} must map a name to an exec type name")
            result[name.strip().lower()] = target.strip().lower()
        return result

    def platform(self, section: _LinedDict, where: str, aliases: Mapping[str, str]) -> ExecConfig:
        """One platform section: its settings and exec types."""
        types: List[ExecType] = []
        for key, value in section.items():
            if isinstance(key, str) and key not in _SETTINGS and isinstance(value, dict):
                types.append(self.exec_type(section, key, f"{where}.{key}"))
        default_type = self.text(section, "default_exec_type", where, "local").strip().lower()
        return make_config(
            tuple(types),
            aliases,
            default_type,
            self.number(section, "default_timeout", where, None),
            self.number(section, "default_validation_timeout", where, 10.0) or 10.0,
            self.path,
        )

    def exec_type(self, parent: _LinedDict, key: str, where: str) -> ExecType:
        """One exec type mapping.

        `transport: ssh` runs the template's words on the task's host over SSH; such
        a row needs no binary, and its template defaults to `{command} {arguments_split}`.
        """
        raw = parent[key]
        transport = self.transport(raw, where)
        if transport == PROCESS and "binary" not in raw:
            raise self.error(parent, key, f"{where} has no 'binary'")
        if transport == PROCESS and "command_template" not in raw:
            raise self.error(parent, key, f"{where} has no 'command_template'")
        template = SSH_TYPE.template if "command_template" not in raw else \
            self.template(raw, where)
        return ExecType(
            name=key.strip().lower(),
            binary=self.text(raw, "binary", where, ""),
            template=template,
            description=self.text(raw, "description", where, ""),
            timeout=self.number(raw, "timeout", where, None),
            validation=self.validation(raw, where),
            transport=transport,
        )

    def transport(self, raw: _LinedDict, where: str) -> str:
        """`transport`: `process` (the default) or `ssh`."""
        value = self.text(raw, "transport", where, PROCESS).strip().lower()
        if value not in TRANSPORTS:
            raise self.error(raw, "transport", f"{where}.transport must be one of "
                             f"{', '.join(TRANSPORTS)}, not {value!r}")
        return value

    def template(self, raw: _LinedDict, where: str) -> Tuple[str, ...]:
        """`command_template`: a non-empty list of strings with known placeholders."""
        value = raw["command_template"]
        name = f"{where}.command_template"
        if not isinstance(value, list) or not value:
            raise self.error(raw, "command_template", f"{name} must be a non-empty list of strings")
        elements = []
        for element in value:
            if not isinstance(element, (str, int, float)) or isinstance(element, bool):
                raise self.error(raw, "command_template", f"{name} holds {element!r}, not a string")
            elements.append(str(element))
            self.check_placeholders(raw, name, str(element))
        return tuple(elements)

    def check_placeholders(self, raw: _LinedDict, name: str, element: str) -> None:
        """Reject typos like `{host}`; a misspelt placeholder would run a wrong command."""
        for found in _PLACEHOLDER_LIKE.findall(element):
            if found not in _KNOWN_PLACEHOLDERS:
                known = ", ".join(sorted(_KNOWN_PLACEHOLDERS))
                message = f"{name} uses the unknown placeholder {found} (known: {known})"
                raise self.error(raw, "command_template", message)
            if found == SPLIT_ELEMENT and element != SPLIT_ELEMENT:
                message = f"{name}: {SPLIT_ELEMENT} must be a list element of its own"
                raise self.error(raw, "command_template", message)

    def validation(self, raw: _LinedDict, where: str) -> Optional[ValidationTest]:
        """`validation_test`: absent or null means no test."""
        test = raw.get("validation_test")
        where = f"{where}.validation_test"
        if test is None:
            return None
        if not isinstance(test, dict):
            raise self.error(raw, "validation_test", f"{where} must be a mapping or null")
        if "command" not in test:
            raise self.error(raw, "validation_test", f"{where} has no 'command'")
        expected: Optional[str] = None
        if test.get("expected_output") is not None:
            expected = self.text(test, "expected_output", where, "")
        return ValidationTest(
            command=self.text(test, "command", where, ""),
            arguments=self.text(test, "arguments", where, ""),
            expected_exit=self.integer(test, "expected_exit", where, 0),
            expected_output=expected,
            timeout=self.number(test, "timeout", where, None),
        )

    def text(self, raw: Mapping[str, Any], key: str, where: str, default: str) -> str:
        """A string setting; numbers are accepted as their text (YAML reads `1` as int)."""
        value = raw.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise self.error(raw, key, f"{where}.{key} must be a string, not {value!r}")
        return str(value)

    def number(
        self, raw: Mapping[str, Any], key: str, where: str, default: Optional[float]
    ) -> Optional[float]:
        """A positive number of seconds, or `default` when absent or null."""
        value = raw.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise self.error(raw, key, f"{where}.{key} must be a positive number, not {value!r}")
        return float(value)

    def integer(self, raw: Mapping[str, Any], key: str, where: str, default: int) -> int:
        """An integer setting (an exit code)."""
        value = raw.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(raw, key, f"{where}.{key} must be an integer, not {value!r}")
        return int(value)
