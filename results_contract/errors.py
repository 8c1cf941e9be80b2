"""The one user-error type every part of the project raises (asv's habit).

A ``UserError`` is a mistake the user can fix: a bad input file, a wrong setting, an unknown
experiment name. ``build.py`` prints it as one line per problem and exits 1. Anything else is a
bug and shows its traceback. Subclasses say where the problem arose; the exit code is theirs.
"""

from __future__ import annotations

# Exit codes of build.py, documented in README.md.
EXIT_OK = 0
EXIT_USER_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def one_line(message: str) -> str:
    """Each problem is one line: fold any line break a quoted value brought in."""
    lines = message.splitlines()
    return " ".join(part.strip() for part in lines if part.strip()) if len(lines) > 1 else message


class UserError(Exception):
    """A problem the user can fix: one line per problem (file, where, what to do)."""

    exit_code = EXIT_USER_ERROR

    @property
    def lines(self) -> list[str]:
        return [line for line in str(self).splitlines() if line.strip()] or [type(self).__name__]


class UsageError(UserError):
    """A command line that names something that does not exist (exit 2, as argparse)."""

    exit_code = EXIT_USAGE


class ResultsError(UserError):
    """A results file that cannot be read, parsed or validated; one line per problem."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems
