"""Helpers shared by the tests, imported as ``support`` (pytest fixtures live in conftest.py).

The layout of ``tests/`` mirrors the code: ``contract/`` (results_contract), ``report/`` (the
generator), ``harness/`` (experiments.harness), ``experiments/`` (the experiment modules) and
``e2e/`` (the real paper, the real suite, a real browser). Markers select subsets: ``frameworks``
(imports torch or TensorFlow), ``slow`` (runs experiments or builds the real paper), ``browser``
(headless Chromium). ``pytest -m "not frameworks and not slow and not browser"`` is the fast
subset for work on the report.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from report.errors import Problems
from report.safety import live_markup  # noqa: F401  (re-exported for tests)
from results_contract import ResultsError, parse

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
FIXTURE = FIXTURES / "project"
# The fixture uses the real layout and stylesheets, so the golden test covers them too.
SHARED_TEMPLATES = ("base.html.j2", "style.css", "print.css")
STEM = "fixture-paper-v1.2.3"  # the fixture paper's artifact name
SITE_FILES = ("mkdocs.yml", "docs", "CHANGELOG.md", "CITATION.cff")


def git(root: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "t@example.org",
           "GIT_AUTHOR_DATE": "2026-01-02T03:04:05Z", "GIT_COMMITTER_DATE": "2026-01-02T03:04:05Z"}
    return subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


def make_project(dest: Path) -> Path:
    shutil.copytree(FIXTURE, dest)
    for name in SHARED_TEMPLATES:
        shutil.copy(REPO / "templates" / name, dest / "templates" / name)
    git(dest, "init", "-q")
    git(dest, "add", "-A")
    git(dest, "commit", "-qm", "fixture")
    return dest


def run_build(root: Path, *args: str) -> subprocess.CompletedProcess:
    """Run the real CLI, as an author would, against ``root``: ``build.py [COMMAND] --root ROOT ...``."""
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    command = [args[0]] if args and not args[0].startswith("-") else []
    rest = list(args[len(command):])
    return subprocess.run([sys.executable, str(REPO / "build.py"), *command, "--root", str(root), *rest],
                          cwd=root, capture_output=True, text=True, env=env, timeout=300)


def snapshot(directory: Path) -> dict[str, bytes]:
    if not directory.exists():
        return {}
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def parse_results_text(text: str, where: str, problems: Problems):
    """``results_contract.parse`` with its problems recorded instead of raised (None if refused)."""
    try:
        return parse(text, where)
    except ResultsError as exc:
        for line in exc.problems:
            problems.error(line)
        return None


def run_site(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, str(REPO / "build.py"), "site", "--root", str(root), *args], cwd=root,
                          env=env, capture_output=True, text=True, timeout=300)


def add_site_sources(root: Path) -> None:
    for name in SITE_FILES:
        src = REPO / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, root / name)
    # The fixture paper is version 1.2.3; its CFF and changelog say so.
    cff = (root / "CITATION.cff").read_text()
    (root / "CITATION.cff").write_text(cff.replace("version: 0.1.0", "version: 1.2.3"))
    (root / "CHANGELOG.md").write_text((root / "CHANGELOG.md").read_text() + "\n## [1.2.3]\n\n- Fixture.\n")
    with (root / ".gitignore").open("a") as fh:
        fh.write("build/\nsite/\n")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "site sources")
