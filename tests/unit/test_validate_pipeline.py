"""The validator gives the same findings whether or not its halves run on two cores."""

from tasker.syntax import lines as L
from tasker.syntax.taskfile import LoadOptions, build_task_file
from tasker.validate import pipeline


def _file(count):
    parts = ["G=1\n"]
    for i in range(count):
        parts.append(f"task={i}\nhostname=localhost\ncommand=echo\narguments=@{i + 1}_stdout@\n"
                     f"exec=local\ncondition=@{max(i - 1, 0)}_exit@=0\n")
        if i % 500 == 7:
            parts.append("timeout=abc\nbogus=1\non_success=3\n")  # errors and warnings
    return "".join(parts)


def test_forked_and_serial_validation_agree(monkeypatch):
    text = _file(2100)
    tf = build_task_file("big.txt", text, L.classify(text), LoadOptions())
    monkeypatch.setattr(pipeline, "FORK_FROM_TASKS", 10 ** 9)
    serial = pipeline.find_all(tf)
    monkeypatch.setattr(pipeline, "FORK_FROM_TASKS", 1)
    forked = pipeline.find_all(tf)
    assert forked == serial
    assert any(d.is_error for d in serial.diagnostics)
    assert any(not d.is_error for d in serial.diagnostics)
