"""The cycle collector pause restores the collector's state, also after an error."""

import gc

import pytest

from tasker.gcpause import gc_paused


def test_collector_is_off_inside_and_back_on_after():
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():  # nested pauses keep it off
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_collector_is_restored_when_the_body_raises():
    with pytest.raises(ValueError):
        with gc_paused():
            raise ValueError("bad file")
    assert gc.isenabled()


def test_a_disabled_collector_stays_disabled():
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_cli_in_process_leaves_the_collector_as_it_found_it(tmp_path):
    from tasker.cli import main

    f = tmp_path / "t.txt"
    f.write_text("task=0\nhostname=localhost\ncommand=true\nexec=local\n")
    assert main([str(f), "--validate-only", "--skip-host-validation", "-l",
                 str(tmp_path / "logs")]) == 0
    assert gc.isenabled()
    assert main([str(tmp_path / "missing.txt")]) == 1
    assert gc.isenabled()
