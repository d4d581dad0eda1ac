"""`--output-json -`: the JSON report owns standard output, everything else goes to stderr.

Taken before the log starts, so every console line, every informational print and every
child process that inherits descriptor 1 writes to stderr; the report is written once,
whole, when the session ends, and standard output is given back (for callers in the
same process, such as tests).
"""

from __future__ import annotations

import os
import sys
from typing import Any, BinaryIO, Dict, Optional, TextIO, Tuple


def wants_stdout(output_json: Optional[str]) -> bool:
    """True when `--output-json` names standard output (`-`)."""
    return output_json == "-"


class StdoutReport:
    """Standard output kept for the report while the rest of the run writes to stderr."""

    def __init__(self) -> None:
        sys.stdout.flush()
        self._saved: Tuple[TextIO, int] = (sys.stdout, os.dup(1))
        self._out: Optional[BinaryIO] = os.fdopen(os.dup(1), "wb")
        self.text: Optional[str] = None  # the latest report, written by close()
        os.dup2(2, 1)
        sys.stdout = sys.stderr

    def keep(self, report: Dict[str, Any]) -> None:
        """Keep `report` to be written at the end (a later one replaces it)."""
        import json  # (only `--output-json -` needs it: other runs do not load it here)

        # ASCII escapes: the report is valid JSON whatever the locale of the reader.
        self.text = json.dumps(report, indent=2, ensure_ascii=True) + "\n"

    def close(self) -> None:
        """Write the kept report to standard output and give standard output back."""
        out, self._out = self._out, None
        if out is None:
            return
        try:
            if self.text is not None:
                out.write(self.text.encode("ascii"))
            out.close()
        except OSError:  # the reader went away (`| head`): nothing more can be said there
            pass
        stream, fd = self._saved
        sys.stderr.flush()
        os.dup2(fd, 1)
        os.close(fd)
        sys.stdout = stream
