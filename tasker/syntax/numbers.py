"""The number forms of field values, shared by the validator and the engines.

A value the validator accepts must mean the same at run time, when a
placeholder may have supplied it: so both read integers and seconds here.
Python's own int() and float() are too lenient for a file format: they take
"1_000", Arabic-Indic digits, "inf" and "nan".
"""

from __future__ import annotations

import re
from typing import Optional

# At most 300 digits: a longer "number" is a typing slip, and Python refuses to convert
# more than 4300 digits at all.
_INT = re.compile(r"[+-]?[0-9]{1,300}\Z")
_SECONDS = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")

# The longest sleep: about 31 years, well inside what a thread can wait for
# (threading.TIMEOUT_MAX); longer values are a typing slip, not a plan.
MAX_SLEEP = 10 ** 9
MAX_LOOP = 1000  # iterations of `loop=N` (II.2)


def parse_int(text: str) -> Optional[int]:
    """The decimal integer `text` denotes (blanks around allowed), else None."""
    text = text.strip()
    return int(text) if _INT.match(text) else None


def parse_seconds(text: str) -> Optional[float]:
    """The seconds `text` denotes: a decimal number, exponent allowed (`1.5`, `2e3`), else None."""
    text = text.strip()
    return float(text) if _SECONDS.match(text) else None
