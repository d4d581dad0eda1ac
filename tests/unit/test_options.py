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


def test_the_only_word_that_can_be_the_task_file_is_it():
    """--output-json's value is optional: when no other word can be the task file, it is."""
    from tasker.options import parse_cli

    parsed = parse_cli(["--output-json", "deploy.txt", "-r"])
    assert (parsed["task_file"], parsed["output_json"], parsed["run"]) == ("deploy.txt", "", True)
    both = parse_cli(["--output-json", "r.json", "deploy.txt"])
    assert (both["task_file"], both["output_json"]) == ("deploy.txt", "r.json")
    short = parse_cli(["--output-j", "deploy.txt"])  # (an abbreviation argparse accepts)
    assert (short["task_file"], short["output_json"]) == ("deploy.txt", "")


@pytest.mark.parametrize("argv, message", [
    ([], "no task file given"),
    (["--output-json=r.json", "-r"], "no task file given"),
    (["a", "b", "c"], "3 words could be the task file ('a', 'b', 'c')"),
    (["--bogus", "t.txt"], "unrecognized arguments: --bogus"),
    (["--start-from", "x", "t.txt"], "invalid int value: 'x'"),
])
def test_no_task_file_or_several_or_a_bad_option(argv, message):
    from tasker.options import UsageError, parse_cli

    with pytest.raises(UsageError) as info:
        parse_cli(argv)
    assert message in info.value.message and info.value.exit_code == 2
