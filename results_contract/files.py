"""Files in and out, for every part of the project.

Reading: regular files only, bounded in size, UTF-8, no NUL. Every input (results, bibliography,
templates, pyproject) goes through ``read_text``, so a FIFO cannot hang a build, a symlink to
``/dev/zero`` cannot exhaust memory, and a NUL (the renderer's internal marker) never arrives.

Writing: ``atomic_write`` replaces one file through a temporary file in the same folder, fsync'd
and renamed, so a killed run leaves the old file or the new one. ``replace_together`` replaces
(or removes) several files as one change, the paper's HTML, PDF and build stamp: every new file
is staged first, the old ones are moved aside, the new ones moved in, and any failure undoes
the moves, so the previous set stays as it was.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from results_contract.errors import UserError

DEFAULT_MAX_BYTES = 200 * 1024 * 1024  # generous: the whole committed results set is ~2 MB


def file_kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def read_bytes(path: Path, where: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The bytes of ``path`` if it is a regular file (symlinks followed) of at most ``max_bytes``.

    Raises UserError with one line naming the file otherwise. The size is checked before and
    while reading, so a file that grows under us is still bounded.
    """
    where = where or str(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise UserError(f"{where}: not found") from None
    except OSError as exc:
        raise UserError(f"{where}: cannot read ({exc.strerror or exc})") from None
    if not stat.S_ISREG(st.st_mode):
        raise UserError(f"{where}: is {file_kind(st.st_mode)}, not a regular file; "
                        "replace it with a regular file or remove it")
    if st.st_size > max_bytes:
        raise UserError(f"{where}: {st.st_size:,} bytes is over the {max_bytes:,}-byte limit; "
                        "this cannot be a valid input (raise [tool.paper] max_input_bytes if it is)")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise UserError(f"{where}: cannot read ({exc.strerror or exc})") from None
    if len(data) > max_bytes:
        raise UserError(f"{where}: grew past the {max_bytes:,}-byte limit while being read")
    return data


def decode_text(data: bytes, where: str, advice: str = "save the file as UTF-8") -> str:
    """UTF-8 text without NUL; one clear line naming the line of a bad byte otherwise."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise UserError(f"{where}:{line}: not valid UTF-8 (byte 0x{data[exc.start]:02x}); {advice}") from None
    nul = text.find("\x00")
    if nul >= 0:
        raise UserError(f"{where}:{text.count(chr(10), 0, nul) + 1}: contains a NUL character; "
                        "remove it")
    return text


def read_text(path: Path, where: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    where = where or str(path)
    return decode_text(read_bytes(path, where, max_bytes), where)


# --- writing -------------------------------------------------------------------------------

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
