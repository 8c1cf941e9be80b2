"""Usability proxies: lines of code for the same model and training loop, and install footprint.

Neither number is a verdict on usability, but both are objective and reproducible. Lines of
code are counted from the real benchmark sources (the listings printed in the paper), with
``ast``, so the count cannot drift from the code. Install size and the number of transitive
dependencies are read from the installed distributions' metadata (``importlib.metadata``),
which is what a user pays in disk, download and supply-chain surface.
"""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

from experiments.harness.api import Measurement, Task
from results_contract.vocabulary import DEPENDENCIES, INSTALL_SIZE, INSTALL_SIZE_WITH_DEPS, LOC

NAME = "usability"
TITLE = "Usability proxies: lines of code, install size and dependencies"

MODELS_DIR = Path(__file__).resolve().parent / "models"

# Per model: the definitions a user writes (model, its helpers, the training function).
LISTING_FILES = {"pytorch": "torch_models.py", "tensorflow": "keras_models.py"}
LISTINGS = {
    "mlp": {"pytorch": ("MLP", "train_torch"), "tensorflow": ("mlp", "train_keras")},
    "cnn": {"pytorch": ("CNN", "train_torch"), "tensorflow": ("cnn", "train_keras")},
    "transformer": {"pytorch": ("TransformerClassifier", "train_torch"),
                    "tensorflow": ("PositionEmbedding", "encoder_layer", "transformer",
                                   "train_keras")},
    "lstm": {"pytorch": ("LSTMClassifier", "train_torch"),
             "tensorflow": ("lstm", "train_keras")},
}
# Distribution names as installed (tensorflow-cpu on this machine; keras comes with it).
DISTRIBUTIONS = {"pytorch": ("torch",), "tensorflow": ("tensorflow-cpu", "tensorflow")}

INSTALL = (INSTALL_SIZE, INSTALL_SIZE_WITH_DEPS, DEPENDENCIES)

LOC_RULE = ("non-blank lines of the named top-level definitions (decorators included), "
            "excluding comment-only lines and docstrings (of the definition and anything "
            "nested in it), counted with ast + tokenize")


def _docstring_lines(node: ast.AST) -> set[int]:
    lines: set[int] = set()
    for sub in ast.walk(node):
        if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module)):
            body = sub.body
            if (body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str)):
                lines.update(range(body[0].lineno, body[0].end_lineno + 1))
    return lines


def _code_lines(source: str) -> set[int]:
    """Lines holding at least one token that is not a comment, newline or indentation."""
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
            tokenize.DEDENT, tokenize.ENDMARKER}
    lines: set[int] = set()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type not in skip:
            lines.update(range(tok.start[0], tok.end[0] + 1))
    return lines


def count_loc(source: str, names: tuple[str, ...]) -> dict[str, int]:
    """Lines of code of each top-level function or class in ``names`` (see ``LOC_RULE``)."""
    tree = ast.parse(source)
    code = _code_lines(source)
    found: dict[str, int] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) \
                and node.name in names:
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            span = set(range(first, node.end_lineno + 1))
            found[node.name] = len((span & code) - _docstring_lines(node))
    missing = [n for n in names if n not in found]
    if missing:
        raise LookupError(f"no top-level definition named {', '.join(missing)}")
    return found


def _requirement_names(dist) -> list[str]:
    """Names of the distributions ``dist`` requires here, extras excluded, markers applied."""
    from packaging.requirements import Requirement

    names = []
    for line in dist.requires or []:
        req = Requirement(line)
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        names.append(req.name)
    return names


def _canonical(name: str) -> str:
    import re

    return re.sub(r"[-_.]+", "-", name).lower()


def _dist_bytes(dist) -> int:
    total = 0
    for f in dist.files or []:
        path = Path(dist.locate_file(f))
        if path.is_file():
            total += path.stat().st_size
    return total


def dependency_closure(root: str) -> tuple[list[str], list[str]]:
    """Unique installed distributions ``root`` pulls in (itself excluded), and missing ones."""
    from importlib import metadata

    seen: dict[str, object] = {}
    missing: set[str] = set()
    stack = [root]
    while stack:
        name = _canonical(stack.pop())
        if name in seen or name in missing:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            missing.add(name)
            continue
        seen[name] = dist
        stack.extend(_requirement_names(dist))
    seen.pop(_canonical(root), None)
    return sorted(seen), sorted(missing)


def tasks(quick: bool) -> list[Task]:
    out = [Task(framework=fw, mode="loc", model=model,
                params={"file": f"experiments/models/{LISTING_FILES[fw]}",
                        "definitions": ",".join(names)},
                rounds=1, metrics=(LOC,))
           for model, per_fw in LISTINGS.items() for fw, names in per_fw.items()]
    out += [Task(framework=fw, mode="install", model="distribution",
                 params={"distribution": dists[0]}, rounds=1, metrics=INSTALL)
            for fw, dists in DISTRIBUTIONS.items()]
    return out


def _run_loc(task: Task) -> list[Measurement]:
    file, names = LISTING_FILES[task.framework], LISTINGS[task.model][task.framework]
    source = (MODELS_DIR / file).read_text(encoding="utf-8")
    per_def = count_loc(source, names)
    return [Measurement(LOC, [float(sum(per_def.values()))], extra={"per_definition": per_def},
                        notes=f"{file}: {', '.join(names)}; rule: {LOC_RULE}")]


def _run_install(task: Task) -> list[Measurement]:
    from importlib import metadata

    for name in DISTRIBUTIONS[task.framework]:
        try:
            dist = metadata.distribution(name)
            break
        except metadata.PackageNotFoundError:
            continue
    else:
        raise LookupError(f"none of {DISTRIBUTIONS[task.framework]} is installed")
    deps, missing = dependency_closure(dist.metadata["Name"])
    own = _dist_bytes(dist)
    dep_bytes = {d: _dist_bytes(metadata.distribution(d)) for d in deps}
    mib = 1024.0 ** 2
    extra = {"distribution": dist.metadata["Name"], "version": dist.version,
             "dependencies": deps, "not_installed": missing,
             "dependency_mib": {d: round(b / mib, 2) for d, b in dep_bytes.items()}}
    how = ("sizes are the sum of the files listed in each distribution's RECORD "
           "(importlib.metadata); dependencies are the unique installed distributions "
           "reachable through Requires-Dist, extras excluded, environment markers evaluated")
    if "keras" in deps:
        how += "; keras is a dependency of tensorflow and is included in its closure"
    return [
        Measurement(INSTALL_SIZE, [own / mib], extra=extra, notes=how),
        Measurement(INSTALL_SIZE_WITH_DEPS, [(own + sum(dep_bytes.values())) / mib],
                    extra=extra, notes=how),
        Measurement(DEPENDENCIES, [float(len(deps))], extra=extra, notes=how),
    ]


def run(task: Task, ctx) -> list[Measurement]:
    if task.mode == "loc":
        return _run_loc(task)
    if task.mode == "install":
        return _run_install(task)
    raise ValueError(f"unknown mode {task.mode!r}")
