"""Which task's routing a dry run decided on a simulated result (tasker/report/simulated.py)."""

from __future__ import annotations

from typing import List, Optional

from tasker.report.simulated import dry_run_note, first_simulated_decision
from tasker.syntax.taskfile import LoadOptions, build_task_file

HEAD = "task={id}\nhostname=h\ncommand=echo\nexec=local\n"


def first(extra_by_task: List[str], path: Optional[List[int]] = None) -> Optional[int]:
    text = "G=prod\n" + "".join(HEAD.format(id=i) + extra
                                for i, extra in enumerate(extra_by_task))
    tf = build_task_file("n.txt", text, LoadOptions())
    return first_simulated_decision(tf, path if path is not None else list(tf.tasks))


def test_plain_tasks_decide_nothing() -> None:
    assert first(["", "sleep=1\n", "next=always\n", "next=loop\nloop=2\n", "next=never\n"]) \
        is None


def test_each_decision_on_a_result_counts() -> None:
    for extra in ("success=exit_0\n", "failure=stderr~x\n", "next=exit_0\n",
                  "next=loop\nloop=3\nloop_break=stdout~3\n", "on_success=5\n",
                  "on_failure=5\n", "condition=@0_stdout@=x\n"):
        assert first(["", extra, ""]) == 1, extra


def test_a_condition_on_globals_only_is_no_guess() -> None:
    assert first(["", "condition=@G@=prod\n", ""]) is None


def test_only_tasks_on_the_path_count() -> None:
    assert first(["", "", "success=exit_0\n"], path=[0, 1]) is None
    assert first(["", "", "success=exit_0\n"], path=[0, 2]) == 2


def test_the_note_names_the_task() -> None:
    assert dry_run_note(7).startswith("Note: from task 7 on, the path of this dry run")
    assert dry_run_note(7).endswith("run with -r to follow the real path.")
