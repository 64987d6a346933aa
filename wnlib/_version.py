"""The version of wnlib, defined once (read by pyproject.toml and by the run
metadata)."""

__version__ = "0.2.0"
