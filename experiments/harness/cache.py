"""Content hash deciding whether an experiment's results file is still current.

An experiment re-runs when its module, the harness, the shared model code, its parameters
(quick, rounds, seed, timing budgets) or the environment fingerprint changed. Times and the git
commit are left out on purpose: a new commit that touches nothing measured must not re-run.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

HARNESS_DIR = Path(__file__).resolve().parent


def _sources(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*.py") if "__pycache__" not in p.parts)


def cache_key(module_path: Path, parameters: dict, fingerprint: dict,
              models_dir: Path | None = None) -> str:
    """sha256 over sources (path and bytes), parameters and the environment fingerprint."""
    h = hashlib.sha256()
    files = [module_path, *_sources(HARNESS_DIR)]
    if models_dir is not None and models_dir.is_dir():
        files += _sources(models_dir)
    for path in files:
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    h.update(json.dumps({"parameters": parameters, "fingerprint": fingerprint},
                        sort_keys=True).encode())
    return h.hexdigest()


def cached_key(results_path: Path) -> str | None:
    """The cache key stored in an existing results file; None if absent or unreadable."""
    try:
        data = json.loads(results_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    key = data.get("cache_key") if isinstance(data, dict) else None
    return key if isinstance(key, str) else None
