"""Files that may hold secrets are 0600, directories tasker creates 0700, whatever the umask."""

import os
import stat

import pytest

from tasker.report.private import make_private_dirs, open_private


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("umask", [0o022, 0o000, 0o277])
def test_created_directories_are_0700_whatever_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        make_private_dirs(tmp_path / "a" / "b" / "c")
    finally:
        os.umask(old)
    for path in (tmp_path / "a", tmp_path / "a" / "b", tmp_path / "a" / "b" / "c"):
        assert mode(path) == 0o700


def test_existing_directories_keep_their_mode(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o755)
    make_private_dirs(shared / "mine")
    assert mode(shared) == 0o755
    assert mode(shared / "mine") == 0o700
    make_private_dirs(shared)  # nothing to create: nothing changes
    assert mode(shared) == 0o755


def test_a_file_in_the_way_is_an_oserror(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OSError):
        make_private_dirs(tmp_path / "file" / "sub")


@pytest.mark.parametrize("umask", [0o022, 0o277])
def test_created_files_are_0600_and_existing_ones_keep_their_mode(tmp_path, umask):
    old = os.umask(umask)
    try:
        fd = open_private(tmp_path / "new.log", os.O_WRONLY | os.O_APPEND)
    finally:
        os.umask(old)
    os.write(fd, b"line\n")
    os.close(fd)
    assert mode(tmp_path / "new.log") == 0o600
    existing = tmp_path / "old.log"
    existing.write_text("x")
    os.chmod(existing, 0o640)
    os.close(open_private(existing, os.O_WRONLY | os.O_APPEND))
    assert mode(existing) == 0o640
    with pytest.raises(FileExistsError):
        open_private(existing, os.O_WRONLY | os.O_EXCL)
