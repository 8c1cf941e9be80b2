"""Content-addressed caches that make a warm build fast without changing what it produces.

Every entry is keyed by a sha256 of everything that decides its value (the inputs, the code
that computes it, the library versions), so a stale entry can never be found: a changed input
gives a new key. The caches live in the user's cache folder (``$XDG_CACHE_HOME``, else
``~/.cache``), never in the project tree, so a build never makes the working tree look
modified. Deleting the folder is always safe, and a cache that cannot be read or written is
ignored: the value is computed. ``PAPER_NO_CACHE=1`` turns every cache off (the build then
does all the work, which is how to time it cold).

Kinds: ``charts`` (matplotlib SVG), ``ratios`` (bootstrap CIs of speed-ups), ``references``
(CSL-formatted bibliography), ``jinja`` (compiled templates), ``includes`` (each template's
static includes, for the cycle check), ``deflate`` (the PDF's compressed attachment streams)
and ``validated`` (an empty file per results file that passed the contract's checks, keyed by
its bytes and the contract's code: ``ValidatedResults``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

PROJECT = "pt-vs-tf-survey"


def enabled() -> bool:
    return os.environ.get("PAPER_NO_CACHE", "") in ("", "0")


def cache_dir(kind: str) -> Path:
    """The folder of one kind of cache entry (not created here)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / PROJECT / kind


def fingerprint(*parts: Any) -> str:
    """sha256 over ``parts``: bytes as they are, anything else as sorted JSON."""
    h = hashlib.sha256()
    for part in parts:
        data = part if isinstance(part, bytes) else json.dumps(part, sort_keys=True, default=str).encode()
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()


def source_of(module_file: str) -> bytes:
    """A module's source, for keys that must change when the code that computes them does. Read
    once per version of the file (its modification time and size), not once per key: a build
    asks for the statistics code's source some 1,800 times."""
    stat = Path(module_file).stat()
    return _read_source(module_file, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=64)
def _read_source(module_file: str, _mtime_ns: int, _size: int) -> bytes:
    return Path(module_file).read_bytes()


def cached_text(kind: str, key: str, compute: Callable[[], str], suffix: str = ".txt") -> str:
    """The text stored under ``key``, or ``compute()`` (then stored)."""
    if not enabled():
        return compute()
    path = cache_dir(kind) / f"{key}{suffix}"
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        pass
    value = compute()
    _store(path, value.encode("utf-8"))
    return value


def cached_bytes(kind: str, key: str, compute: Callable[[], bytes], suffix: str = ".bin") -> bytes:
    """The bytes stored under ``key``, or ``compute()`` (then stored)."""
    if not enabled():
        return compute()
    path = cache_dir(kind) / f"{key}{suffix}"
    try:
        return path.read_bytes()
    except OSError:
        pass
    value = compute()
    _store(path, value)
    return value


def cached_json(kind: str, key: str, compute: Callable[[], T]) -> T:
    """The JSON value stored under ``key``, or ``compute()`` (then stored). Values must survive a
    JSON round trip unchanged (floats do: Python writes the shortest repr that reads back)."""
    if not enabled():
        return compute()
    path = cache_dir(kind) / f"{key}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))["value"]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
        pass
    value = compute()
    _store(path, json.dumps({"value": value}).encode("utf-8"))
    return value


def _store(path: Path, data: bytes) -> None:
    try:
        from results_contract.files import atomic_write

        atomic_write(path, data)
    except OSError:
        pass


class ValidatedResults:
    """The results contract's ``ValidationMemo`` kept in this cache: an empty file per key
    (``results_contract.model.validation_key``: the file's bytes and the contract's code)."""

    def known(self, key: str) -> bool:
        return enabled() and (cache_dir("validated") / key).is_file()

    def remember(self, key: str) -> None:
        if enabled():
            _store(cache_dir("validated") / key, b"")
