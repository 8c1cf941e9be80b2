"""Code listings pulled from the real experiment sources by module and name, highlighted by pygments.

Sources are read as text and located with ``ast``, never imported, so a listing always shows
the code that ran and the build needs no framework installed.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

from report.errors import UserError

PYGMENTS_STYLE = "friendly"


@dataclass(frozen=True)
class Listing:
    module: str
    name: str
    path: Path
    first_line: int
    last_line: int
    source: str

    @property
    def line_count(self) -> int:
        return self.last_line - self.first_line + 1


def module_path(root: Path, module: str) -> Path:
    """``experiments.models.torch_models`` -> ``<root>/experiments/models/torch_models.py``."""
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    raise UserError(f"module '{module}' not found (looked for {base.relative_to(root)}.py); check the name")


def _find(tree: ast.AST, dotted: str) -> ast.AST | None:
    node: ast.AST | None = tree
    for part in dotted.split("."):
        body = getattr(node, "body", [])
        node = next((n for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                     and n.name == part), None)
        if node is None:
            return None
    return node


def extract(root: Path, module: str, name: str) -> Listing:
    """Source of function or class ``name`` (``Class.method`` allowed) in ``module``."""
    path = module_path(root, module)
    text = path.read_text(encoding="utf-8")
    try:
        tree = ast.parse(text, filename=str(path))
    except SyntaxError as exc:
        raise UserError(f"{path.relative_to(root)}:{exc.lineno}: cannot parse for a listing ({exc.msg})") from None
    node = _find(tree, name)
    if node is None:
        raise UserError(f"{path.relative_to(root)}: no function or class '{name}' to list; check the name")
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    lines = text.splitlines()[first - 1:node.end_lineno]
    indent = min((len(l) - len(l.lstrip()) for l in lines if l.strip()), default=0)
    source = "\n".join(l[indent:] for l in lines)
    return Listing(module, name, path, first, node.end_lineno, source)


def highlight_html(source: str, first_line: int = 1) -> str:
    formatter = HtmlFormatter(style=PYGMENTS_STYLE, cssclass="highlight", linenos="inline",
                              linenostart=first_line)
    return highlight(source, PythonLexer(), formatter)


def pygments_css() -> str:
    return HtmlFormatter(style=PYGMENTS_STYLE).get_style_defs(".highlight")
