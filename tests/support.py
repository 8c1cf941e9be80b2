"""Helpers shared by the tests (imported as ``support``; fixtures live in conftest.py)."""

from __future__ import annotations

from report.errors import Problems
from results_contract import ResultsError, parse


def parse_results_text(text: str, where: str, problems: Problems):
    """``results_contract.parse`` with its problems recorded instead of raised (None if refused)."""
    try:
        return parse(text, where)
    except ResultsError as exc:
        for line in exc.problems:
            problems.error(line)
        return None
