"""The project's settings, read from ``pyproject.toml`` ([project] and [tool.paper])."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from report.errors import UserError


@dataclass(frozen=True)
class PaperConfig:
    """Everything the build needs to know about one paper project (all paths absolute)."""

    root: Path
    version: str
    slug: str
    title: str
    authors: tuple[str, ...]
    subject: str
    keywords: tuple[str, ...]
    templates_dir: Path
    main_template: str
    bibliography: Path
    results_dir: Path
    experiments_dir: Path
    csl_style: str

    @property
    def artifact_stem(self) -> str:
        """``<slug>-v<version>``: the name readers cite."""
        return f"{self.slug}-v{self.version}"


def load_config(root: Path) -> PaperConfig:
    """Read and check ``pyproject.toml`` under ``root``."""
    path = root / "pyproject.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: not found; run the build from the project root or pass --root")
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path}: invalid TOML ({exc}); fix the file") from None
    project = data.get("project", {})
    paper = data.get("tool", {}).get("paper", {})
    for table, key, where in (
        (project, "version", "[project]"),
        (paper, "slug", "[tool.paper]"),
        (paper, "title", "[tool.paper]"),
    ):
        if not isinstance(table.get(key), str) or not table[key]:
            raise UserError(f"{path}: {where} {key} is missing; add it")
    return PaperConfig(
        root=root,
        version=project["version"],
        slug=paper["slug"],
        title=paper["title"],
        authors=tuple(paper.get("authors", [a.get("name", "") for a in project.get("authors", [])])),
        subject=paper.get("subject", project.get("description", "")),
        keywords=tuple(paper.get("keywords", [])),
        templates_dir=root / paper.get("templates", "templates"),
        main_template=paper.get("main_template", "paper.html.j2"),
        bibliography=root / paper.get("bibliography", "references.bib"),
        results_dir=root / paper.get("results", "results"),
        experiments_dir=root / paper.get("experiments", "experiments"),
        csl_style=paper.get("csl_style", "ieee"),
    )
