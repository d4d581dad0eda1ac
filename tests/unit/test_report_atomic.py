"""Atomic replacement of files (temp file in the same directory + rename)."""

from __future__ import annotations

import os
import stat

import pytest

from tasker.report.atomic import atomic_open, atomic_write


def test_write_creates_parents_and_content(tmp_path):
    path = tmp_path / "a" / "b" / "f.txt"
    atomic_write(path, "héllo\n")
    assert path.read_text("utf-8") == "héllo\n"
    atomic_write(path, b"\x00bytes")
    assert path.read_bytes() == b"\x00bytes"
    assert os.listdir(path.parent) == ["f.txt"]


def test_failure_inside_the_block_keeps_the_old_file_and_no_temp(tmp_path):
    path = tmp_path / "f.json"
    atomic_write(path, "old")
    with pytest.raises(RuntimeError):
        with atomic_open(path) as handle:
            handle.write("half of the new")
            raise RuntimeError("serialisation failed")
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["f.json"]


def test_failure_on_a_new_file_leaves_nothing(tmp_path):
    path = tmp_path / "new.json"
    with pytest.raises(KeyboardInterrupt):
        with atomic_open(path) as handle:
            handle.write("x")
            raise KeyboardInterrupt
    assert os.listdir(tmp_path) == []


def test_mode_and_fsync(tmp_path):
    """Reports and state files may hold outputs: 0600 by default, whatever the umask."""
    path = tmp_path / "secret.json"
    atomic_write(path, "{}", fsync=True, mode=0o644)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    old = os.umask(0o277)
    try:
        atomic_write(path, "{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_reader_holding_the_old_file_keeps_reading_it(tmp_path):
    path = tmp_path / "f"
    atomic_write(path, "old")
    with open(path) as reader:
        atomic_write(path, "new")
        assert reader.read() == "old"
    assert path.read_text() == "new"
