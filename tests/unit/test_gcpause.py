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


def test_preflight_pause_ends_once_and_freezes_when_asked():
    import gc

    from tasker.gcpause import PreflightPause

    assert gc.isenabled()
    pause = PreflightPause()
    assert not gc.isenabled()
    pause.end()
    pause.end()  # (idempotent)
    assert gc.isenabled() and gc.get_freeze_count() == 0
    frozen = PreflightPause(freeze=True)
    kept = [object() for _ in range(3)]
    try:
        frozen.end()
        assert gc.isenabled() and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
    assert kept


def test_cli_in_process_leaves_the_collector_as_it_found_it(tmp_path):
    import gc

    from tasker.cli import main

    f = tmp_path / "t.txt"
    f.write_text("task=0\nhostname=localhost\ncommand=true\nexec=local\n")
    assert main([str(f), "--validate-only", "--skip-host-validation", "-l",
                 str(tmp_path / "logs")]) == 0
    assert gc.isenabled() and gc.get_freeze_count() == 0
    assert main([str(tmp_path / "missing.txt")]) == 1
    assert gc.isenabled()


def test_the_program_freezes_what_it_loaded_and_exits_at_once(tmp_path):
    """Called as the program (no argv), the loaded file is frozen for the collector, and
    once every record is written the process ends without tearing its objects down."""
    import subprocess
    import sys
    from pathlib import Path

    f = tmp_path / "t.txt"
    f.write_text("task=0\nhostname=localhost\ncommand=true\nexec=local\n")
    report = tmp_path / "r.json"
    probe = ("import gc, os, sys; import tasker.cli as cli\n"
             "def fast(code):\n"
             "    print('exit', code, gc.isenabled(), gc.get_freeze_count() > 0, flush=True)\n"
             "    os._exit(code)\n"
             "cli._exit_now = fast\n"
             f"sys.argv = ['tasker', {str(f)!r}, '--validate-only', '--skip-host-validation', "
             f"'-l', {str(tmp_path / 'logs')!r}, '--output-json', {str(report)!r}]\n"
             "cli.main()\n"
             "print('returned')\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1].split() == ["exit", "0", "True", "True"], out.stderr
    assert report.read_text()  # (written before the process ended)
