"""Output splitting: `stdout_split=DELIM,INDEX` keeps one field of a stream (SPEC II.4.5)."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import List, Optional, Tuple

# Keyword delimiters; runs for the whitespace-like ones, single characters otherwise.
DELIMITERS = {
    "space": r" +",
    "whitespace": r"\s+",
    "tab": r"\t+",
    "newline": r"\n+",
    "comma": r",",
    "colon": r":",
    "semicolon": r";",
    "semi": r";",
    "pipe": r"\|",
}


@lru_cache(maxsize=256)
def delimiter_pattern(delim: str) -> "re.Pattern[str]":
    """The pattern a delimiter keyword (or, failing that, a regular expression) means."""
    try:
        return re.compile(DELIMITERS.get(delim.lower(), delim))
    except re.error:
        return re.compile(re.escape(delim))


def parse_split_spec(spec: str) -> Optional[Tuple[str, int]]:
    """(delimiter, index) for `DELIM,INDEX`, or None when the spec is not of that form."""
    delim, sep, index = spec.strip().rpartition(",")
    if not sep or not delim:
        return None
    try:
        return delim, int(index.strip())
    except ValueError:
        return None


def split_fields(text: str, delim: str) -> List[str]:
    """The pieces of `text` separated by `delim`."""
    return delimiter_pattern(delim).split(text)


def apply_split(text: str, spec: str) -> str:
    """Apply a split spec; every no-op case of II.4.5 returns `text` unchanged."""
    parsed = parse_split_spec(spec)
    if parsed is None or not text:
        return text
    delim, index = parsed
    pieces = split_fields(text, delim)
    if index < 0 or index >= len(pieces):
        return text
    return pieces[index]
