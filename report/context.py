"""The typed template context: every name a template can read besides the helpers.

``PaperContext`` is what ``paper.html.j2`` and its sections see as plain variables (``paper``,
``build``, ``environment``, ...). Paper constants (the numeric tolerance, how long a quoted error
may be, the smallest effect called a direction) come from ``[tool.paper]``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

from markupsafe import Markup

from report import listings
from report.config import PaperConfig
from report.provenance import Provenance
from report.results import ResultsSet
from results_contract.files import read_text


@dataclass(frozen=True)
class PaperContext:
    paper: PaperConfig            # [project] and [tool.paper]
    version: str                  # the paper's version, as cited
    build: Provenance             # commit, dirty flag, date
    css: Markup                   # the whole stylesheet, inlined
    results: ResultsSet           # every validated results file
    environment: Mapping[str, Any]  # the environment of the first results file (the host)
    cite_as: str                  # the how-to-cite sentence
    numeric_tolerance: float      # largest output difference still called rounding
    error_chars: int              # error texts in tables are cut to this length
    min_effect: float             # smallest relative difference called a direction

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _css_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def relative(config: PaperConfig, path) -> str:
    return str(path.relative_to(config.root)) if path.is_relative_to(config.root) else str(path)


def stylesheet(config: PaperConfig, prov: Provenance) -> Markup:
    """The page's CSS: the project stylesheet, pygments colours and the PDF page furniture."""
    parts = []
    for name in ("style.css", "print.css"):
        path = config.templates_dir / name
        if path.exists():
            parts.append(read_text(path, relative(config, path), config.max_input_bytes))
    parts.append(listings.pygments_css())
    footer = f"{config.title.split(':')[0]} · v{config.version} · {prov.date.isoformat()} · commit {prov.label}"
    parts.append("@page { @bottom-left { content: %s; } }" % _css_string(footer))
    return Markup("\n".join(parts).replace("</", "<\\/"))


def cite_as(config: PaperConfig, prov: Provenance) -> str:
    authors = ", ".join(config.authors)
    return (f"{authors}. {config.title}. Version {config.version}, {prov.date.isoformat()}. "
            f"Commit {prov.short_commit}.")


def build_context(config: PaperConfig, prov: Provenance, results: ResultsSet) -> PaperContext:
    first = next(iter(results.files.values()), None)
    return PaperContext(paper=config, version=config.version, build=prov, css=stylesheet(config, prov),
                        results=results, environment=first.environment if first else {},
                        cite_as=cite_as(config, prov), numeric_tolerance=config.numeric_tolerance,
                        error_chars=config.error_chars, min_effect=config.min_effect)


__all__ = ["PaperContext", "asdict", "build_context", "cite_as", "relative", "stylesheet"]
