"""tasker: an interpreter for TASKER task files."""

__version__ = "3.0.0"
