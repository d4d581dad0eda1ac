"""forkjoin.both: the same answer as calling both functions, whatever the child does."""

import os

import pytest

from tasker.forkjoin import both


def test_results_come_back_in_order():
    assert both(lambda: [1, 2], lambda: {"a": (3, "x")}) == ([1, 2], {"a": (3, "x")})


def test_the_second_function_runs_in_another_process_when_forking():
    parent = os.getpid()
    _, child = both(lambda: None, os.getpid)
    assert child != parent or os.cpu_count() == 1


def test_without_fork_both_run_here():
    assert both(os.getpid, os.getpid, fork=False) == (os.getpid(), os.getpid())


def test_a_failing_child_is_computed_again_here():
    calls = []

    def second():
        calls.append(os.getpid())
        if os.getpid() != me:
            raise RuntimeError("only in the child")
        return "here"

    me = os.getpid()
    assert both(lambda: 1, second) == (1, "here")
    assert calls == [me]  # (the child's append is lost with the child)


def test_a_result_that_does_not_pickle_is_computed_again_here():
    a, b = both(lambda: 1, lambda: (lambda: 2))
    assert a == 1 and b() == 2


def test_an_error_in_the_first_function_stops_the_child_and_propagates():
    import time

    with pytest.raises(ZeroDivisionError):
        both(lambda: 1 / 0, lambda: time.sleep(30))
