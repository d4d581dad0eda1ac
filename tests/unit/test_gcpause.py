"""The cycle collector pause restores the collector's state, also after an error."""

import gc

import pytest

from tasker.gcpause import gc_paused


def test_collector_is_off_inside_and_back_on_after():
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():  # nested pauses (loader inside the CLI's stage) keep it off
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
