"""The harness's user errors: one line, exit 1 (``build.py`` prints them), as every UserError.

A ``HarnessError`` is a mistake the user can fix (an experiment module that breaks the
contract, an unwritable output folder, frameworks not installed). Anything else is a bug and
shows its traceback.
"""

from __future__ import annotations

from results_contract.errors import UsageError, UserError


class HarnessError(UserError):
    """A user error found by the harness: printed as one line, never with a traceback."""


class UnknownExperiment(UsageError):
    """A name on the command line that matches no experiment (exit code 2, like argparse)."""
