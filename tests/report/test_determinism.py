"""Two builds of one commit are byte-identical (`make verify`), and the only date in the paper
is the commit's."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys

from support import REPO, git

STEM = "fixture-paper-v1.2.3"


def test_verify_builds_twice_and_finds_identical_bytes(project):
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    result = subprocess.run([sys.executable, str(REPO / "build.py"), "verify", "--root", str(project)],
                            cwd=project, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "verified: two builds are byte-identical" in result.stdout
    assert result.stdout.count("identical") >= 3  # html, pdf, summary line
    assert not (project / "dist").exists()  # verify builds into temporary directories only


def test_only_the_commit_date_appears(built_fixture):
    commit_date = dt.datetime.fromtimestamp(int(git(built_fixture, "log", "-1", "--format=%ct")),
                                            dt.timezone.utc).date().isoformat()
    page = (built_fixture / "dist" / f"{STEM}.html").read_text(encoding="utf-8")
    assert set(re.findall(r"\b\d{4}-\d{2}-\d{2}\b", page)) == {commit_date}
    # matplotlib writes no date, no creator and only salted (constant) ids into the charts.
    assert "<dc:date>" not in page and "Matplotlib v" not in page
    assert re.search(r'id="f1-[0-9a-f]{8,}"', page) or 'id="f1-' in page
    pdf = (built_fixture / "dist" / f"{STEM}.pdf").read_bytes()
    dates = set(re.findall(rb"D:(\d{8})", pdf))
    assert dates == {commit_date.replace("-", "").encode()}, dates  # info dict and attachments
