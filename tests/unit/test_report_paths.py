"""File names and the directory layout (SPEC I.7, II.7.4)."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from tasker.report.paths import (
    NAME_LIMIT,
    RunPaths,
    bounded_name,
    default_base,
    file_prefix,
    legacy_state_file_name,
    project_name,
    run_paths,
    run_stamp,
    state_file_name,
)

STARTED = time.mktime((2025, 10, 5, 14, 3, 11, 0, 0, -1)) + 0.123456


@pytest.mark.parametrize(
    "task_file, prefix",
    [
        ("deploy.txt", "deploy"),
        ("/a/b/my tasks.txt", "my_tasks"),
        ("release.v2.txt", "release.v2"),
        ("noext", "noext"),
        ("ünï©ode.txt", "_n__ode"),
        ("a+b@c!.cfg", "a_b_c_"),
        ("x" * 80 + ".txt", "x" * 50),
        (".txt", ".txt"),
    ],
)
def test_file_prefix(task_file, prefix):
    assert file_prefix(Path(task_file)) == prefix


def test_file_prefix_empty_becomes_task():
    assert file_prefix(Path("")) == "task"


@pytest.mark.parametrize(
    "name, expected",
    [("REL_1.2", "REL_1"), ("nightly", "nightly"), ("my project", "my_project"), ("", "task")],
)
def test_project_name(name, expected):
    assert project_name(name) == expected


def test_run_stamp_has_microseconds():
    assert run_stamp(STARTED) == "20251005_140311_123456"


def test_state_file_name_hashes_the_absolute_path_and_the_globals(tmp_path, monkeypatch):
    """I.4a: one state per task file (absolute path) and set of expanded globals."""
    monkeypatch.chdir(tmp_path)
    absolute = os.path.join(str(tmp_path), "flow.txt")
    key = absolute + "\0" + '{"A":"1","REGION":"eu"}'
    digest = hashlib.sha256(key.encode()).hexdigest()[:8]
    globals_ = {"REGION": "eu", "A": "1"}  # (order does not matter: canonical JSON)
    assert state_file_name(Path("flow.txt"), globals_) == f"flow_{digest}.recovery.json"
    assert state_file_name(Path(absolute), globals_) == f"flow_{digest}.recovery.json"
    other = state_file_name(Path(absolute), {"REGION": "us", "A": "1"})
    assert other != f"flow_{digest}.recovery.json" and other.startswith("flow_")
    assert state_file_name(Path("/x/flow.tasks"), {}).startswith("flow.tasks_")


def test_legacy_state_file_name_hashes_the_absolute_path_only(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    absolute = os.path.join(str(tmp_path), "flow.txt")
    digest = hashlib.sha256(absolute.encode()).hexdigest()[:8]
    assert legacy_state_file_name(Path("flow.txt")) == f"flow_{digest}.recovery.json"


NAMES = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/\0"),
                min_size=1, max_size=400)


@given(NAMES, st.integers(min_value=0, max_value=60))
def test_bounded_names_fit_and_stay_distinct(name, room):
    bounded = bounded_name(name, room)
    assert len(bounded.encode("utf-8")) <= NAME_LIMIT - room
    if len(name.encode("utf-8")) <= NAME_LIMIT - room:
        assert bounded == name
    else:
        assert bounded != bounded_name(name + "x", room)  # the hash covers the whole name
        assert name.startswith(bounded.rsplit("-", 1)[0])


@pytest.mark.parametrize("base", ["x" * 240, "é" * 200, "t" * 254])
def test_every_derived_name_leaves_room_for_a_temp_file(tmp_path, base):
    """A task file name of 240+ bytes: state, log, JSON, backup names stay under 255
    bytes with the 14 bytes of an atomic write's `.NAME.XXXXXXXX.tmp` to spare."""
    from tasker.report.backup import backup_base_name

    task = Path("/d") / (base + ".txt")
    paths = run_paths(tmp_path, task, STARTED, base)
    stamp = run_stamp(STARTED)
    names = [paths.log_file.name, paths.json_file.name, paths.project_file.name,
             state_file_name(task, {"G": "v"}), f"{backup_base_name(task)}_{stamp}.99"]
    for name in names:
        assert len(name.encode("utf-8")) + 14 <= 255, name
    assert state_file_name(task, {}).endswith(".recovery.json")


def test_run_paths_layout(tmp_path):
    paths = run_paths(tmp_path, Path("/src/my flow.txt"), STARTED, "REL_1.2")
    assert isinstance(paths, RunPaths)
    assert paths.base == tmp_path
    assert paths.log_file == tmp_path / "log" / "my_flow_20251005_140311_123456.log"
    assert paths.backup_dir == tmp_path / "backup"
    assert paths.project_file == tmp_path / "project" / "REL_1.summary"
    assert paths.state_file.parent == tmp_path / "recovery"
    assert paths.state_file.name.startswith("my flow_")
    assert paths.output_dir == tmp_path / "output"
    assert paths.json_file == tmp_path / "output" / "my_flow_20251005_140311_123456.json"


def test_run_paths_without_project(tmp_path):
    assert run_paths(tmp_path, Path("a.txt"), STARTED, None).project_file is None
    assert run_paths(tmp_path, Path("a.txt"), STARTED, "").project_file is None


def test_default_base_precedence(tmp_path):
    env = {"TASK_EXECUTOR_LOG": str(tmp_path / "env"), "HOME": str(tmp_path / "home")}
    assert default_base(str(tmp_path / "cli"), env) == tmp_path / "cli"
    assert default_base(None, env) == tmp_path / "env"
    assert default_base(None, {"HOME": str(tmp_path / "home")}) == tmp_path / "home" / "TASKER"
    assert default_base("", {"TASK_EXECUTOR_LOG": "", "HOME": "/h"}) == Path("/h/TASKER")
