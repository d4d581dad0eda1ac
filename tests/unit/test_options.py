"""Options: how the command line, the task file's argument lines and defaults combine."""

import pytest

from tasker import options


@pytest.mark.parametrize("argv, level", [
    (["-d"], "DEBUG"),
    (["-d", "--log-level", "INFO"], "DEBUG"),  # -d wins while the level is INFO (SPEC 7.1)
    (["-d", "--log-level", "WARN"], "WARN"),
    (["--log-level", "ERROR"], "ERROR"),
    ([], "INFO"),
])
def test_debug_raises_an_info_level_only(argv, level):
    merged = options.merge(options.parse_cli(argv + ["tasks.txt"]), {})
    assert merged.log_level == level



def test_effective_args_name_where_each_value_came_from():
    cli = options.parse_cli(["--log-level", "WARN", "--set", "B=2", "tasks.txt"])
    file = {"log_level": "DEBUG", "project": "FILEPROJ", "set": [("A", "1")]}
    text = options.effective_args(options.merge(cli, file))
    assert "log-level: 'WARN' (cli)" in text
    assert "project: 'FILEPROJ' (file)" in text
    assert "set: [('A', '1'), ('B', '2')] (file+cli)" in text
    assert "timeout: None (default)" in text
