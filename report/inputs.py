"""Read an author's input files safely: regular files only, bounded in size, UTF-8, no NUL.

Every input the build reads (results, bibliography, templates, pyproject) goes through here, so
a FIFO cannot hang the build, a symlink to ``/dev/zero`` cannot exhaust memory, and a control
character that the renderer uses internally (NUL) can never arrive from data.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from report.errors import UserError

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
