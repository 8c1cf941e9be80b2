"""Where this build comes from: the git commit, whether the tree differs from it, and the date.

The date printed in the paper is ``SOURCE_DATE_EPOCH`` when set, else the commit's date when
the tree is clean (so two builds of one commit are identical), else today's date, because a
modified tree is not any commit.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Provenance:
    commit: str          # full hash, or "unknown" outside git
    dirty: bool          # the working tree differs from the commit
    date: dt.date        # the date printed on the paper
    epoch: int           # the same moment as seconds, for SOURCE_DATE_EPOCH

    @property
    def short_commit(self) -> str:
        return self.commit[:10]

    @property
    def label(self) -> str:
        return self.short_commit + (" (modified: working tree differs from this commit)" if self.dirty else "")


def _git(root: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def read_provenance(root: Path) -> Provenance:
    commit = _git(root, "rev-parse", "HEAD") or "unknown"
    status = _git(root, "status", "--porcelain", "--untracked-files=normal")
    dirty = commit == "unknown" or bool(status)
    env_epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if env_epoch.isdigit():
        epoch = int(env_epoch)
    elif not dirty and (ct := _git(root, "log", "-1", "--format=%ct")):
        epoch = int(ct)
    else:
        today = dt.datetime.now(dt.timezone.utc).date()
        epoch = int(dt.datetime(today.year, today.month, today.day, tzinfo=dt.timezone.utc).timestamp())
    date = dt.datetime.fromtimestamp(epoch, dt.timezone.utc).date()
    return Provenance(commit, dirty, date, epoch)
