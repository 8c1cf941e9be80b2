"""``docs/helpers.md``: the template helper reference, generated from the helpers' docstrings.

``python -m report.helper_docs`` rewrites the file; a test fails when the committed file differs
from what the code would generate, so the reference cannot drift from the registry.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

from report.helpers import Helpers

DOC_PATH = Path(__file__).resolve().parent.parent / "docs" / "helpers.md"
INTRO = """\
# Template helpers

<!-- Generated from the docstrings in report/helpers.py by `python -m report.helper_docs`;
     do not edit by hand (a test compares this file with what the code generates). -->

Templates in `templates/` call these functions. Every number in the paper comes from one of
them, never typed by hand. A mistake (an unknown key, a filter that matches no case) is a build
error naming the template file and line; the helper leaves a visible `[??]` in the page.

Besides the helpers, templates can read these variables: `paper` (the `[tool.paper]` settings),
`version`, `build` (commit, date, whether the tree was modified), `environment` (the host of
the first results file), `results`, `cite_as`, `numeric_tolerance`, `error_chars` and
`min_effect` (see `report/context.py`).
"""


def _signature(name: str, fn) -> str:
    """``name(a, b="x", *keys, **filters)``: names and defaults, without type annotations."""
    sig = inspect.signature(fn)
    params = [p.replace(annotation=inspect.Parameter.empty)
              for p in sig.parameters.values() if p.name != "self"]
    text = ", ".join(str(p).replace("'", '"') for p in params)
    return f"{name}({text})"


def reference_markdown() -> str:
    """The whole reference page, one section per registered helper, in name order."""
    parts = [INTRO]
    for name, fn in Helpers.registry().items():
        doc = inspect.cleandoc(fn.__doc__ or "")
        parts.append(f"## `{name}`\n\n```jinja\n{{{{ {_signature(name, fn)} }}}}\n```\n\n{doc}\n")
    return "\n".join(parts)


def main() -> int:
    DOC_PATH.write_text(reference_markdown(), encoding="utf-8")
    print(f"wrote {DOC_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
