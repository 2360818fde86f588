"""Rounds' composition root: settings, the Starlette app, the CLI and every HTTP surface."""

__version__ = "0.1.0"
