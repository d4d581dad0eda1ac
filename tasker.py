#!/usr/bin/env python3
"""Thin entry point: `./tasker.py FILE` from a checkout."""

import sys

from tasker.cli import entry

if __name__ == "__main__":
    sys.exit(entry())
