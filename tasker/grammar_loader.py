"""Load a Lark grammar shipped as package data (`tasker.grammars`)."""

from __future__ import annotations

from pathlib import Path


def load_grammar(name: str) -> str:
    """Text of `grammars/<name>.lark`, installed or from a checkout."""
    try:
        from importlib.resources import files

        return files("tasker.grammars").joinpath(f"{name}.lark").read_text(encoding="utf-8")
    except ModuleNotFoundError:  # running from a checkout: tasker.grammars is ../grammars
        here = Path(__file__).resolve().parent.parent / "grammars"
        return (here / f"{name}.lark").read_text(encoding="utf-8")
