"""Find experiment modules: every module of the experiments package that defines the contract.

The package is a parameter so tests can point the harness at fixture modules. Importing an
experiment must stay cheap and framework-free (``tasks()`` runs in the parent), which is
checked here rather than discovered later as a slow, noisy parent process.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from experiments.harness.errors import HarnessError

REQUIRED = ("NAME", "TITLE", "tasks", "run")
SKIPPED = ("harness", "models")
FORBIDDEN_IMPORTS = ("torch", "tensorflow", "keras", "jax")


@dataclass(frozen=True)
class Experiment:
    """A discovered experiment module and where it lives."""

    name: str
    title: str
    module: ModuleType
    path: Path          # the module's source file
    relpath: str        # its path relative to the search root, for the results file
    root: Path          # the sys.path entry the package was imported from


def discover(package: str = "experiments", search_path: str | Path | None = None
             ) -> dict[str, Experiment]:
    """All experiments of ``package`` by NAME, sorted; ``search_path`` is prepended to sys.path."""
    if search_path is not None and str(search_path) not in sys.path:
        sys.path.insert(0, str(search_path))
    try:
        pkg = importlib.import_module(package)
    except ImportError as exc:
        raise HarnessError(f"cannot import experiments package {package!r}: {exc}") from exc
    root = Path(pkg.__file__).resolve().parent.parents[len(package.split(".")) - 1]
    found: dict[str, Experiment] = {}
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if info.name in SKIPPED or info.name.startswith("_") or info.ispkg:
            continue
        before = set(sys.modules)
        try:
            module = importlib.import_module(f"{package}.{info.name}")
        except Exception as exc:  # a broken module is named in one line, not a traceback
            raise HarnessError(f"cannot import {package}.{info.name}: "
                               f"{type(exc).__name__}: {exc}") from exc
        if not all(hasattr(module, attr) for attr in REQUIRED):
            continue
        path = Path(module.__file__).resolve()
        heavy = [m for m in FORBIDDEN_IMPORTS if m in sys.modules and m not in before]
        if heavy:
            raise HarnessError(f"{path}: imports {heavy[0]} at module level; import it inside "
                               "run() (see experiments/README.md)")
        if module.NAME in found:
            raise HarnessError(f"{path}: NAME {module.NAME!r} is already used by "
                               f"{found[module.NAME].path}")
        found[module.NAME] = Experiment(module.NAME, module.TITLE, module, path,
                                        path.relative_to(root).as_posix(), root)
    return dict(sorted(found.items()))
