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
