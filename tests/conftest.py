"""Shared fixtures: a small paper project built in a temporary directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "project"
# The fixture uses the real layout and stylesheets, so the golden test covers them too.
SHARED_TEMPLATES = ("base.html.j2", "style.css", "print.css")


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


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "paper")


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


@pytest.fixture(scope="session")
def built_fixture(tmp_path_factory) -> Path:
    """The fixture project, built once for the tests that only read its outputs."""
    root = make_project(tmp_path_factory.mktemp("golden") / "paper")
    result = run_build(root)
    assert result.returncode == 0, result.stderr
    return root



from report.safety import live_markup  # noqa: E402,F401  (tests import it from here)
