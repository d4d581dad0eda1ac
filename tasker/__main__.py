"""Allow `python -m tasker`."""

import sys

from tasker.cli import main

sys.exit(main())
