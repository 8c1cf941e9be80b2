"""Two kinds of failure: a user error prints one line and exits 1; anything else is a bug.

``Problems`` collects every user error and warning of a build so an author sees them all at once
instead of fixing one per run (mkdocs' habit).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from results_contract.errors import UserError, one_line

__all__ = ["Problems", "UserError", "one_line"]


@dataclass
class Problems:
    """Errors, warnings and notes gathered while loading and rendering."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # facts about the data, never fatal

    def error(self, message: str) -> None:
        message = one_line(message)
        if message not in self.errors:
            self.errors.append(message)

    def warn(self, message: str) -> None:
        message = one_line(message)
        if message not in self.warnings:
            self.warnings.append(message)

    def note(self, message: str) -> None:
        """Something a reader of the build log should know that no author edit can fix (for
        example measurements whose CIs are wide on a noisy machine); not fatal even with --strict."""
        message = one_line(message)
        if message not in self.notes:
            self.notes.append(message)

    def raise_if_errors(self, strict: bool = False) -> None:
        """Raise one UserError carrying every error (and every warning when strict)."""
        lines = list(self.errors)
        if strict:
            lines += [f"{w} (warning, fatal with --strict)" for w in self.warnings]
        if lines:
            raise UserError("\n".join(lines))
