"""The session owns the SSH pool: made once on first use, shared by validation and the run,
closed on every way out (finish, the instance lock's exit, an internal error in the CLI)."""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import List

import pytest

from tasker import cli
from tasker.exec.ssh.executor import SshExecutor
from tasker.exec.ssh.pool import SshPool
from tasker.options import merge, parse_cli
from tasker.report.logger import Log
from tasker.report.paths import run_paths
from tasker.session import Session


def make_session(tmp_path: Path, *args: str) -> Session:
    task_file = tmp_path / "t.txt"
    task_file.write_text("task=0\nhostname=h\nexec=ssh\ncommand=true\n")
    options = merge(parse_cli([str(task_file), *args]), {})
    paths = run_paths(tmp_path / "logs", task_file, 0.0, None)
    return Session(task_file, options, Log(stream=io.StringIO()), paths,
                   {"HOME": str(tmp_path), "USER": "someone"})


def test_one_pool_for_every_asker_and_its_options(tmp_path: Path) -> None:
    session = make_session(tmp_path, "--ssh-user", "ops", "--ssh-max-connect", "5")
    pools: List[SshPool] = []
    threads = [threading.Thread(target=lambda: pools.append(session.ssh_pool()))
               for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(pool is pools[0] for pool in pools)
    assert (pools[0].options.user, pools[0].options.max_connect) == ("ops", 5)
    executor = session.ssh_executor(tmp_path)
    assert isinstance(executor, SshExecutor) and executor.pool is pools[0]
    executor.close()  # (the router's close leaves the session's pool open)
    assert not pools[0]._closed
    session.close_ssh()
    session.close_ssh()
    assert pools[0]._closed
    assert session.ssh_pool() is not pools[0]  # (a new one, should anyone ask again)
    session.close_ssh()


def test_finish_closes_the_pool(tmp_path: Path) -> None:
    session = make_session(tmp_path)
    pool = session.ssh_pool()
    session.finish(0, "success")
    assert pool._closed


def test_the_locked_exit_closes_the_pool(tmp_path: Path) -> None:
    session = make_session(tmp_path)
    pool = session.ssh_pool()
    session.finish_locked(25, "workflow is already running")
    assert pool._closed


def test_the_cli_closes_the_pool_whatever_ends_the_pipeline(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made: List[SshPool] = []

    def pipeline_that_breaks(session: Session, *_: object) -> int:
        made.append(session.ssh_pool())
        raise KeyboardInterrupt  # (not even an Exception: the pool still closes)

    monkeypatch.setattr(cli, "_pipeline", pipeline_that_breaks)
    task_file = tmp_path / "t.txt"
    task_file.write_text("task=0\nhostname=h\nexec=ssh\ncommand=true\n")
    with pytest.raises(KeyboardInterrupt):
        cli.main([str(task_file), "-l", str(tmp_path / "logs")],
                 {"HOME": str(tmp_path), "USER": "someone"})
    assert made and made[0]._closed
