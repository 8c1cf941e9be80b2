"""The helper reference in docs/ is generated from the registry and cannot drift from it."""

from __future__ import annotations

from report.helper_docs import DOC_PATH, reference_markdown
from report.helpers import Helpers


def test_committed_reference_matches_the_code():
    assert DOC_PATH.read_text(encoding="utf-8") == reference_markdown(), \
        "docs/helpers.md is out of date: run `python -m report.helper_docs` and commit it"


def test_every_helper_is_documented_and_bound():
    registry = Helpers.registry()
    assert {"cite", "ref", "value", "compare", "figure", "table", "listing", "best_per_framework",
            "which_of", "verdict", "toc", "bibliography"} <= set(registry)
    assert all((fn.__doc__ or "").strip() for fn in registry.values())
    assert "pivot_table" not in registry  # removed: no template used it
