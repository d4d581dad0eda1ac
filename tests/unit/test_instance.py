"""The instance lock (--instance-check): one holder at a time, even in the open/lock race;
a home where the lock cannot live is a located error; private modes."""

from __future__ import annotations

import errno
import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from tasker.instance import InstanceLock, InstanceLocked, InstanceLockError

KEY = "0123456789abcdef"


def take(home: Path, **kw) -> InstanceLock:
    lock = InstanceLock(home, KEY, **kw)
    lock.acquire("/x/flow.txt", "P", {"A": "1"})
    return lock


def inode(path: Path) -> tuple:
    st = os.stat(path)
    return st.st_dev, st.st_ino


def held_inode(lock: InstanceLock) -> tuple:
    st = os.fstat(lock.fd)
    return st.st_dev, st.st_ino


def test_second_run_is_refused_with_the_holders_details(tmp_path: Path) -> None:
    first = take(tmp_path)
    with pytest.raises(InstanceLocked) as caught:
        take(tmp_path)
    assert json.loads(caught.value.holder)["pid"] == os.getpid()
    first.release()
    take(tmp_path).release()  # free again once released
    assert not first.path.exists()


def test_a_lock_on_a_removed_file_is_not_the_lock(tmp_path: Path) -> None:
    """B opens the file; before it locks, the holder A ends (unlink, close) and C takes
    the lock on a new file. B's flock on the old inode succeeds, but B must not run."""
    holder = take(tmp_path)
    third = InstanceLock(tmp_path, KEY)
    calls = []

    def window() -> None:
        calls.append(1)
        if len(calls) == 1:
            holder.release()
            third.acquire("/x/flow.txt", "C", {})

    with pytest.raises(InstanceLocked):
        take(tmp_path, before_lock=window)
    assert len(calls) == 2  # it looked again, at the file now at the path
    assert held_inode(third) == inode(third.path)  # C is the one holder
    third.release()


def test_a_file_removed_in_the_window_is_created_again_and_locked(tmp_path: Path) -> None:
    holder = take(tmp_path)
    calls = []

    def window() -> None:
        calls.append(1)
        if len(calls) == 1:
            holder.release()  # nobody takes its place

    lock = take(tmp_path, before_lock=window)
    assert len(calls) == 2
    assert held_inode(lock) == inode(lock.path)
    lock.release()


def test_race_with_another_process_in_the_window(tmp_path: Path) -> None:
    """The same race with the holder and the newcomer in another process: it unlinks the
    file (as a holder that ends) and creates and locks a new one, while B is paused."""
    holder = take(tmp_path)
    path = holder.path
    holder.release()
    path.write_text("")  # B will open this file...
    ready = tmp_path / "ready"
    script = (  # ...which the other process then replaces by a new, locked one
        "import fcntl, os, sys, time\n"
        f"os.unlink({str(path)!r})\n"
        f"fd = os.open({str(path)!r}, os.O_RDWR | os.O_CREAT, 0o600)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "os.write(fd, b'{\"pid\": %d}' % os.getpid())\n"
        f"open({str(ready)!r}, 'w').close()\n"
        "sys.stdin.read()\n")
    other = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE)
    try:
        def window() -> None:
            while other.poll() is None and not ready.exists():
                time.sleep(0.01)

        with pytest.raises(InstanceLocked) as caught:
            take(tmp_path, before_lock=window)
        assert json.loads(caught.value.holder)["pid"] == other.pid
    finally:
        other.communicate(b"", timeout=10)


@pytest.fixture
def umask_zero() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def test_lock_file_is_0600_and_created_directories_0700_whatever_the_umask(
        tmp_path: Path, umask_zero: None) -> None:
    home = tmp_path / "home"
    lock = take(home)
    assert stat.S_IMODE(os.stat(lock.path).st_mode) == 0o600
    for directory in (home, home / "TASKER", home / "TASKER" / "locks"):
        assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    lock.release()


def test_existing_directories_keep_their_mode(tmp_path: Path, umask_zero: None) -> None:
    locks = tmp_path / "TASKER" / "locks"
    locks.mkdir(parents=True)
    os.chmod(locks, 0o755)
    os.chmod(locks.parent, 0o751)
    take(tmp_path).release()
    assert stat.S_IMODE(os.stat(locks).st_mode) == 0o755
    assert stat.S_IMODE(os.stat(locks.parent).st_mode) == 0o751


def test_a_lock_file_left_0644_becomes_0600_when_taken(tmp_path: Path) -> None:
    stale = InstanceLock(tmp_path, KEY).path
    stale.parent.mkdir(parents=True)
    stale.write_text('{"pid": 1}')  # left by a run that was killed
    os.chmod(stale, 0o644)
    lock = take(tmp_path)
    assert stat.S_IMODE(os.stat(lock.path).st_mode) == 0o600
    assert json.loads(lock.path.read_text())["pid"] == os.getpid()
    lock.release()


def test_home_under_a_regular_file_is_a_lock_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(InstanceLockError) as caught:
        take(blocker / "home")
    sentence = caught.value.sentence
    assert str(blocker / "home" / "TASKER" / "locks") in sentence
    assert "Not a directory" in sentence and "Traceback" not in sentence


def _mount_read_only(target: Path) -> bool:
    target.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(target)],
                          capture_output=True)
    return done.returncode == 0


def test_read_only_home_is_a_lock_error(tmp_path: Path, monkeypatch) -> None:
    home = tmp_path / "home"
    mounted = _mount_read_only(home)
    if not mounted:  # no mounting here: the kernel's answer for a read-only home, injected
        def read_only(*_args, **_kw):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(home / "TASKER"))

        monkeypatch.setattr("tasker.instance.os.mkdir", read_only)
    try:
        with pytest.raises(InstanceLockError) as caught:
            take(home)
        assert "Read-only file system" in caught.value.sentence
        assert str(home / "TASKER") in caught.value.sentence
    finally:
        if mounted:
            subprocess.run(["umount", str(home)], check=True)


def test_lock_file_that_cannot_be_opened_is_a_lock_error(tmp_path: Path) -> None:
    path = InstanceLock(tmp_path, KEY).path
    path.mkdir(parents=True)  # a directory where the file goes: open fails (EISDIR)
    with pytest.raises(InstanceLockError) as caught:
        take(tmp_path)
    assert str(path) in caught.value.sentence
