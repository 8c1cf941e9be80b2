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

from report.errors import UserError

MAX_EPOCH = 253402300799  # 9999-12-31T23:59:59Z: the last date a PDF or ISO date can carry


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
    epoch = source_date_epoch()
    if epoch is None and not dirty and (ct := _git(root, "log", "-1", "--format=%ct")):
        epoch = int(ct)
    if epoch is None:
        today = dt.datetime.now(dt.timezone.utc).date()
        epoch = int(dt.datetime(today.year, today.month, today.day, tzinfo=dt.timezone.utc).timestamp())
    date = dt.datetime.fromtimestamp(epoch, dt.timezone.utc).date()
    return Provenance(commit, dirty, date, epoch)


def source_date_epoch() -> int | None:
    """``SOURCE_DATE_EPOCH`` as an integer, None when unset; anything but ASCII digits in range
    (0 to the end of year 9999) is one clear error rather than a silently ignored value."""
    raw = os.environ.get("SOURCE_DATE_EPOCH")
    if raw is None or raw.strip() == "":
        return None
    value = raw.strip()
    if not (value.isascii() and value.isdigit()) or int(value) > MAX_EPOCH:
        shown = value if len(value) <= 40 else value[:40] + "…"
        raise UserError(f"SOURCE_DATE_EPOCH={shown!r} is not a Unix time in seconds (ASCII digits, "
                        f"0 to {MAX_EPOCH}); fix or unset it")
    return int(value)
