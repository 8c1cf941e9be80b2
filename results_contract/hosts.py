"""Results are stored per host: ``results/<host>/<experiment>.json``.

A host label is readable and stable: a slug of the CPU model plus a short hash of the
machine's identity (machine id, host name, MAC, CPU signature and flags;
``experiments.harness.environment.machine_identity``), so two VMs with the same CPU model get different labels
(``amd-epyc-3f2a1c``, ``intel-xeon-9b01e4``). A user may name the host instead
(``build.py experiments --host NAME``). Folders written before per-host results existed are
moved into a host folder by ``migrate_flat``; their label is derived from the environment
record they carry, since the machine's identity was not recorded then.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

from results_contract.errors import UserError

LABEL_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
_NOISE = re.compile(r"\((r|tm|c)\)|\b(processor|cpu|core|with|radeon|graphics)\b|@.*$|\d+-core", re.I)


def cpu_slug(cpu_model: str) -> str:
    """``Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz`` -> ``intel-xeon-platinum-8375c``."""
    text = _NOISE.sub(" ", cpu_model or "unknown-cpu").lower()
    slug = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    return (slug or "unknown-cpu")[:40].strip("-")


def host_label(cpu_model: str, identity: str) -> str:
    """``<cpu slug>-<6 hex digits of sha256(identity)>``."""
    return f"{cpu_slug(cpu_model)}-{hashlib.sha256(identity.encode()).hexdigest()[:6]}"


def check_label(label: str, where: str = "--host") -> str:
    if not LABEL_RE.match(label):
        raise UserError(f"{where} {label!r} is not a host label; use lower-case letters, digits, "
                        "'.', '_' and '-' (for example amd-epyc-lab1)")
    return label


def legacy_label(environment: dict) -> str:
    """The label of a results file written before hosts were recorded: its CPU model and a
    hash of what it recorded about the machine (OS, memory, cores)."""
    if environment.get("host"):
        return environment["host"]
    identity = json.dumps([environment.get(k) for k in ("cpu_model", "os", "memory_bytes",
                                                         "cpu_cores_logical")], default=str)
    return host_label(environment.get("cpu_model", ""), "legacy:" + identity)


def host_folders(results_dir: Path) -> list[Path]:
    """The host folders under ``results_dir`` (folders holding ``*.json``), sorted."""
    if not results_dir.is_dir():
        return []
    return sorted(p for p in results_dir.iterdir() if p.is_dir() and LABEL_RE.match(p.name)
                  and any(p.glob("*.json")))


def flat_files(results_dir: Path) -> list[Path]:
    """Results files directly in ``results_dir``: the layout before per-host folders."""
    return sorted(results_dir.glob("*.json")) if results_dir.is_dir() else []


def migrate_flat(results_dir: Path) -> dict[str, list[str]]:
    """Move flat ``results/*.json`` into ``results/<host>/``; returns {label: [file names]}.
    A file whose target exists is left where it is (nothing is overwritten)."""
    moved: dict[str, list[str]] = {}
    for path in flat_files(results_dir):
        try:
            environment = json.loads(path.read_text(encoding="utf-8")).get("environment", {})
        except (OSError, ValueError, AttributeError):
            raise UserError(f"{path}: cannot read its environment to find its host; fix or remove "
                            "the file, then migrate again") from None
        label = legacy_label(environment if isinstance(environment, dict) else {})
        target = results_dir / label / path.name
        if target.exists():
            raise UserError(f"{path}: {target} already exists; remove one of them, then migrate again")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
        moved.setdefault(label, []).append(path.name)
    return moved
