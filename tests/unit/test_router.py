"""The executor router: one executor per transport, made on first use, all closed at the end."""

import threading

import pytest

from tasker.exec.base import PROCESS, SSH, CommandResult, CommandSpec
from tasker.exec.router import ExecutorRouter


class Recorder:
    def __init__(self, name, made):
        self.name, self.closed, self.ran = name, 0, []
        made.append(self)

    def run(self, spec, cancel):
        self.ran.append(spec.argv)
        return CommandResult(0, self.name, "", 0.0)

    def close(self):
        self.closed += 1


def router(made):
    return ExecutorRouter({PROCESS: lambda: Recorder("process", made),
                           SSH: lambda: Recorder("ssh", made)})


def spec(transport, *argv):
    return CommandSpec(argv=argv, timeout=5, display=" ".join(argv), transport=transport,
                       host="h")


def test_each_transport_is_made_once_and_only_when_needed():
    made = []
    with router(made) as executors:
        assert made == []
        assert executors.run(spec(PROCESS, "true"), threading.Event()).stdout == "process"
        executors.run(spec(PROCESS, "false"), threading.Event())
        assert [e.name for e in made] == ["process"]  # no SSH executor without an ssh task
        assert executors.run(spec(SSH, "uptime"), threading.Event()).stdout == "ssh"
    assert [(e.name, e.closed) for e in made] == [("process", 1), ("ssh", 1)]
    assert made[0].ran == [("true",), ("false",)]


def test_every_opened_executor_closes_even_when_one_fails_and_the_error_is_raised():
    made = []
    executors = router(made)
    executors.run(spec(PROCESS, "true"), threading.Event())
    executors.run(spec(SSH, "true"), threading.Event())
    made[0].close = lambda: (_ for _ in ()).throw(OSError("boom"))
    with pytest.raises(OSError):
        executors.close()
    assert made[1].closed == 1


def test_threads_asking_at_once_share_one_executor():
    made = []
    executors = router(made)
    barrier = threading.Barrier(20)

    def ask():
        barrier.wait()
        executors.run(spec(SSH, "true"), threading.Event())

    threads = [threading.Thread(target=ask) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(made) == 1 and len(made[0].ran) == 20
    executors.close()
    with pytest.raises(RuntimeError):  # a closed router runs nothing more
        executors.run(spec(PROCESS, "true"), threading.Event())


def test_an_ssh_command_is_shown_as_ssh_host_and_its_words_quoted(tmp_path):
    """The log line of an ssh task quotes the remote words as the remote shell reads them."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    task = tmp_path / "t.txt"
    task.write_text("task=0\nhostname=admin@web1:2222\nexec=ssh\ncommand=ls\n"
                    "arguments=-l \"two words\" it\\'s\n")
    proc = subprocess.run([sys.executable, str(root / "tasker.py"), str(task),
                           "--skip-host-validation", "-l", str(tmp_path / "logs")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert ("Task 0: [DRY RUN] Would execute: ssh admin@web1:2222 ls -l 'two words' "
            "'it'\"'\"'s'") in proc.stdout
