"""The one user-facing error type of the harness.

A ``HarnessError`` is a mistake the user can fix (unknown experiment name, a module that breaks
the contract, an unwritable output folder); the CLI prints it as one line and exits 1. Anything
else is a bug and shows its traceback.
"""

from __future__ import annotations


class HarnessError(Exception):
    """A user error: printed as one line, never with a traceback."""
