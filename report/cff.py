"""Check ``CITATION.cff``: valid against the Citation File Format 1.2.0 schema, and citing the
version in ``pyproject.toml``.

The schema (``report/schemas/citation-file-format-1.2.0.json``, CC-BY-4.0, from
https://github.com/citation-file-format/citation-file-format, byte-identical to the copy
shipped in cffconvert 2.0.0) is checked with the pinned ``jsonschema`` 4. We do not depend on
cffconvert itself: 2.0.0 declares ``jsonschema<4``, which conflicts with our pin, and needs
pykwalify and ruamel.yaml as well.

``python -m report.cff [PATH]`` prints every problem and exits 1 if there is one.
"""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path
from typing import Any

SCHEMA = Path(__file__).resolve().parent / "schemas" / "citation-file-format-1.2.0.json"


def _loader():
    import yaml

    class Loader(yaml.SafeLoader):
        """YAML 1.1 turns 2026-01-02 into a date; the CFF schema wants the string."""

    Loader.add_constructor("tag:yaml.org,2002:timestamp", Loader.construct_yaml_str)
    return Loader


def load_cff(path: Path) -> Any:
    import yaml

    return yaml.load(path.read_text(encoding="utf-8"), Loader=_loader())


def cff_problems(path: Path, pyproject: Path | None = None) -> list[str]:
    """Every problem with ``path`` (empty when valid); with ``pyproject``, the version too."""
    import jsonschema

    try:
        data = load_cff(path)
    except FileNotFoundError:
        return [f"{path}: not found"]
    except Exception as exc:  # yaml.YAMLError and friends
        return [f"{path}: not valid YAML: {exc}"]
    if not isinstance(data, dict):
        return [f"{path}: expected a mapping at the top level"]
    if data.get("cff-version") != "1.2.0":
        return [f"{path}: cff-version must be 1.2.0 (the schema this project checks against)"]
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    problems = []
    for err in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        where = "/".join(map(str, err.absolute_path)) or "(top level)"
        problems.append(f"{path.name}: {where}: {err.message}")
    if pyproject is not None:
        version = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {}).get("version")
        if str(data.get("version")) != str(version):
            problems.append(f"{path.name}: version is {data.get('version')!r} but {pyproject.name} says "
                            f"{version!r}; bump both together")
        for ref in [data.get("preferred-citation")] if isinstance(data.get("preferred-citation"), dict) else []:
            if "version" in ref and str(ref["version"]) != str(version):
                problems.append(f"{path.name}: preferred-citation/version is {ref['version']!r} but "
                                f"{pyproject.name} says {version!r}")
    return problems


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    path = Path(argv[0]) if argv else Path("CITATION.cff")
    pyproject = path.resolve().parent / "pyproject.toml"
    problems = cff_problems(path, pyproject if pyproject.is_file() else None)
    for p in problems:
        print(f"error: {p}", file=sys.stderr)
    if not problems:
        print(f"{path}: valid CFF 1.2.0")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
