"""`make release` (python -m report.release release): refuses what must not be released, and
writes dist/SHA256SUMS for what may."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from support import REPO, git, make_project
from support import STEM, add_site_sources


def run_release(root: Path, command: str = "release") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, str(REPO / "build.py"), command, "--root", str(root)], cwd=root,
                          env=env, capture_output=True, text=True, timeout=300)


def releasable(tmp_path: Path) -> Path:
    root = make_project(tmp_path / "paper")
    add_site_sources(root)  # CITATION.cff and CHANGELOG.md for 1.2.3, committed
    return root


def test_release_writes_artifacts_and_sums(tmp_path):
    root = releasable(tmp_path)
    result = run_release(root)
    assert result.returncode == 0, result.stderr
    sums = (root / "dist" / "SHA256SUMS").read_text().splitlines()
    assert [line.split("  ")[1] for line in sums] == [f"{STEM}.html", f"{STEM}.pdf"]
    for line in sums:
        digest, name = line.split("  ")
        assert hashlib.sha256((root / "dist" / name).read_bytes()).hexdigest() == digest
    assert "git tag -a v1.2.3" in result.stdout


def test_release_refuses_dirty_tree_existing_tag_and_missing_changelog(tmp_path):
    root = releasable(tmp_path)
    (root / "CHANGELOG.md").write_text("# Changelog\n\n## [1.2.2]\n\n- Older.\n")
    (root / "CITATION.cff").write_text((root / "CITATION.cff").read_text().replace("version: 1.2.3", "version: 1.2.2"))
    git(root, "commit", "-qam", "forgot to bump")
    git(root, "tag", "v1.2.3")
    (root / "references.bib").write_text((root / "references.bib").read_text() + "\n")
    result = run_release(root)
    assert result.returncode == 1
    err = result.stderr
    assert "working tree is not clean" in err and "references.bib" in err
    assert "tag v1.2.3 already exists" in err
    assert "CHANGELOG.md has no entry for 1.2.3" in err
    assert "CITATION.cff: version is '1.2.2' but pyproject.toml says '1.2.3'" in err
    assert not (root / "dist").exists()
