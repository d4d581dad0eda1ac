"""Allow `python -m tasker`."""

import sys

from tasker.cli import entry

sys.exit(entry())
