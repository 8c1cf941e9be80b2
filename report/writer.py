"""Atomic file writes, shared by the build and the experiment harness.

``atomic_write`` replaces one file: a temporary file in the same directory, fsync'd, then
renamed over the target, so a killed run leaves either the old file or the new one.

``replace_together`` replaces (or removes) several files as one change, the paper's HTML, PDF
and build stamp: every new file is staged first, then the old ones are moved aside and the new
ones moved in; if any step fails, the moves are undone, so the previous set stays as it was.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from report.errors import UserError

BACKUP_SUFFIX = ".prev"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(directory: Path) -> None:
    try:  # make renames durable; not possible on every file system
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


def _stage(path: Path, data: bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path``; returns the temporary path."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs are ordinary files
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        _unlink(Path(tmp))
        raise
    return Path(tmp)


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` all at once; on any failure the old file stays intact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _stage(path, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        _unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _why(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def check_target(path: Path) -> None:
    """A directory or special file where an output should go is a user error, found early."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise UserError(f"{path}: cannot inspect ({_why(exc)})") from None
    if not stat.S_ISREG(mode):
        what = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
        raise UserError(f"{path}: is {what}, where the build writes an output; move it away")


def recover(directory: Path) -> None:
    """Undo what a killed ``replace_together`` left: restore a moved-aside file whose target is
    missing, and drop stray temporary files."""
    if not directory.is_dir():
        return
    for backup in directory.glob(f".*{BACKUP_SUFFIX}"):
        target = directory / backup.name[1:-len(BACKUP_SUFFIX)]
        try:
            if target.exists():
                backup.unlink()
            else:
                os.replace(backup, target)
        except OSError:
            pass
    for tmp in directory.glob(".*.tmp"):
        try:
            tmp.unlink()
        except OSError:
            pass


def replace_together(changes: dict[Path, bytes | None]) -> list[Path]:
    """Write every ``path: bytes`` and remove every ``path: None`` as one change.

    Raises UserError (one line per the first failure) after restoring every file it touched.
    Returns the paths that were removed.
    """
    paths = list(changes)
    for path in paths:
        check_target(path)
    directory = paths[0].parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{directory}: cannot create the output folder ({_why(exc)})") from None
    staged: dict[Path, Path] = {}
    try:
        for path, data in changes.items():
            if data is not None:
                staged[path] = _stage(path, data)
    except OSError as exc:
        for tmp in staged.values():
            _unlink(tmp)
        raise UserError(f"{path}: cannot write ({_why(exc)}); previous outputs were left untouched") from None
    except BaseException:
        for tmp in staged.values():
            _unlink(tmp)
        raise

    moved: list[tuple[Path, Path | None, bool]] = []  # (target, backup or None, new file placed)
    removed: list[Path] = []
    try:
        for path in paths:
            backup = None
            if path.exists():
                backup = path.with_name(f".{path.name}{BACKUP_SUFFIX}")
                os.replace(path, backup)
            moved.append((path, backup, False))
            if path in staged:
                os.replace(staged[path], path)
                del staged[path]
                moved[-1] = (path, backup, True)
            elif backup is not None:
                removed.append(path)
    except BaseException as exc:
        for target, backup, placed in reversed(moved):
            try:
                if placed:
                    _unlink(target)
                if backup is not None:
                    os.replace(backup, target)
            except OSError:
                pass
        for tmp in staged.values():
            _unlink(tmp)
        if isinstance(exc, OSError):
            raise UserError(f"{path}: cannot replace ({_why(exc)}); previous outputs were left "
                            "untouched") from None
        raise
    for _, backup, _ in moved:
        if backup is not None:
            try:
                os.unlink(backup)
            except OSError:
                pass
    _fsync_dir(directory)
    return removed
