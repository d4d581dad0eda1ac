"""Load a Lark grammar shipped as package data (`tasker.grammars`)."""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent
# Installed: the grammars are the package tasker/grammars/. From a checkout:
# the top-level grammars/ beside the tasker/ package.
_PLACES = (_HERE / "grammars", _HERE.parent / "grammars")


def load_grammar(name: str) -> str:
    """Text of `grammars/<name>.lark`, installed or from a checkout.

    Plain files are read directly (importlib.resources costs ~10 ms of
    imports at start-up); a zipped install falls back to importlib.resources.
    """
    for place in _PLACES:
        path = place / f"{name}.lark"
        if path.is_file():
            return path.read_text(encoding="utf-8")
    from importlib.resources import files

    return files("tasker.grammars").joinpath(f"{name}.lark").read_text(encoding="utf-8")
