"""``build.py verify`` and ``build.py release``: reproducibility check and release artifacts.

verify   build the paper twice, each into a fresh temporary directory (``build.py --out DIR
         --force``), and compare the SHA-256 of every file; exit 1 if any differs.
release  refuse unless the tree is clean, the version is new (no tag ``v<version>``),
         CHANGELOG.md has an entry for it and CITATION.cff is valid and agrees; then build
         into dist/ and write dist/SHA256SUMS (``sha256sum -c`` format).

Both pin ``SOURCE_DATE_EPOCH`` to the commit's time unless it is already set.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable

from report.config import load_config
from report.errors import UserError

BUILD_PY = Path(__file__).resolve().parent.parent / "build.py"
SUMS = "SHA256SUMS"


def _git(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)


def build_env(root: Path) -> dict[str, str]:
    from report.provenance import source_date_epoch

    env = dict(os.environ)
    if source_date_epoch() is None:
        ct = _git(root, "log", "-1", "--format=%ct")
        if ct.returncode == 0 and ct.stdout.strip().isdigit():
            env["SOURCE_DATE_EPOCH"] = ct.stdout.strip()
    return env


def run_build(root: Path, out: Path, env: dict[str, str]) -> None:
    proc = subprocess.run([sys.executable, str(BUILD_PY), "report", "--root", str(root), "--out", str(out),
                           "--force", "-q"],
                          cwd=root, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise UserError(f"build into {out} failed:\n{proc.stderr.strip()}")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def artifacts(out: Path, stem: str) -> list[Path]:
    return [out / f"{stem}.html", out / f"{stem}.pdf"]


def verify(root: Path, log: Callable[[str], None] = print) -> bool:
    """Two clean builds, compared byte for byte. True when identical."""
    root = root.resolve()
    stem = load_config(root).artifact_stem
    env = build_env(root)
    with tempfile.TemporaryDirectory(prefix="verify-a-") as a, tempfile.TemporaryDirectory(prefix="verify-b-") as b:
        hashes = []
        for out in (Path(a), Path(b)):
            run_build(root, out, env)
            hashes.append({p.name: sha256(p) for p in artifacts(out, stem)})
    same = hashes[0] == hashes[1]
    for name in hashes[0]:
        mark = "identical" if hashes[0][name] == hashes[1][name] else f"DIFFERS (second: {hashes[1][name]})"
        log(f"{hashes[0][name]}  {name}  {mark}")
    return same


def release_problems(root: Path) -> list[str]:
    """Why this tree cannot be released (empty when it can)."""
    from report.cff import cff_problems

    config = load_config(root)
    problems = []
    status = _git(root, "status", "--porcelain", "--untracked-files=normal")
    if status.returncode != 0:
        problems.append("not a git repository: a release must be built from a commit")
    elif status.stdout.strip():
        changed = status.stdout.rstrip("\n").splitlines()
        problems.append(f"the working tree is not clean ({len(changed)} changed or untracked file(s), e.g. "
                        f"{changed[0][3:]}); commit or remove them first")
    tag = f"v{config.version}"
    if _git(root, "rev-parse", "-q", "--verify", f"refs/tags/{tag}").returncode == 0:
        problems.append(f"tag {tag} already exists: bump [project] version in pyproject.toml "
                        "(and CITATION.cff, with a CHANGELOG.md entry)")
    changelog = root / "CHANGELOG.md"
    heading = re.compile(r"^##\s+\[?v?" + re.escape(config.version) + r"\]?(\s|$)", re.M)
    if not changelog.is_file():
        problems.append("CHANGELOG.md is missing; add it with an entry '## [%s]'" % config.version)
    elif not heading.search(changelog.read_text(encoding="utf-8")):
        problems.append(f"CHANGELOG.md has no entry for {config.version}; add '## [{config.version}]'")
    problems += cff_problems(root / "CITATION.cff", root / "pyproject.toml")
    return problems


def release(root: Path, log: Callable[[str], None] = print) -> Path:
    root = root.resolve()
    problems = release_problems(root)
    if problems:
        raise UserError("cannot release:\n" + "\n".join(f"- {p}" for p in problems))
    config = load_config(root)
    dist = root / "dist"
    run_build(root, dist, build_env(root))
    from results_contract.files import atomic_write

    lines = [f"{sha256(p)}  {p.name}\n" for p in artifacts(dist, config.artifact_stem)]
    atomic_write(dist / SUMS, "".join(lines).encode())
    for line in lines:
        log(line.rstrip())
    log(f"wrote {dist / SUMS}; tag the commit: git tag -a v{config.version} -m 'Version {config.version}'")
    return dist / SUMS
