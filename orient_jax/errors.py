"""Errors a user can cause and fix: the CLI prints them as one line, never a traceback."""


class UserError(Exception):
    """Bad input (unknown name, value out of range, missing or corrupt file)."""
