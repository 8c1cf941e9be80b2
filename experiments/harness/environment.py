"""The environment record every results file carries (see ENVIRONMENT_SCHEMA in report/schema).

Collected in the parent, which never imports a framework: package versions come from
``importlib.metadata`` and the device from what workers report. ``fingerprint()`` is the part
that decides whether old results are still valid (versions, CPU, Python), without times or git.
"""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

PACKAGES = ("torch", "tensorflow", "keras", "onnx", "onnxruntime", "numpy", "ai-edge-litert",
            "scikit-learn", "onnxscript", "tf2onnx", "jax", "jaxlib", "executorch", "torchao")
# A package may be installed under another distribution name (tensorflow-cpu on CPU machines).
ALIASES = {"tensorflow": ("tensorflow", "tensorflow-cpu", "tensorflow-intel", "tf-nightly"),
           "onnxruntime": ("onnxruntime", "onnxruntime-gpu")}
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
               "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "KERAS_BACKEND",
               "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")


def now_utc() -> str:
    """ISO 8601 UTC with a Z suffix, second precision."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        versions[name] = None
        for dist in ALIASES.get(name, (name,)):
            try:
                versions[name] = metadata.version(dist)
                break
            except metadata.PackageNotFoundError:
                continue
    return versions


def _cpuinfo() -> list[dict[str, str]]:
    """/proc/cpuinfo as one dict per logical CPU (empty off Linux)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    cpus = []
    for block in text.strip().split("\n\n"):
        entry = {}
        for line in block.splitlines():
            key, _, value = line.partition(":")
            entry[key.strip()] = value.strip()
        cpus.append(entry)
    return cpus


def cpu_model() -> str:
    for cpu in _cpuinfo():
        if cpu.get("model name"):
            return cpu["model name"]
    return platform.processor() or platform.machine() or "unknown"


def cpu_cores() -> tuple[int, int]:
    """(physical, logical) core counts."""
    logical = os.cpu_count() or 1
    try:
        import psutil

        physical = psutil.cpu_count(logical=False)
    except ImportError:
        physical = None
    if not physical:
        cores = {(c.get("physical id"), c.get("core id")) for c in _cpuinfo() if "core id" in c}
        physical = len(cores) or logical
    return int(physical), int(logical)


def memory_bytes() -> int:
    try:
        import psutil

        return int(psutil.virtual_memory().total)
    except ImportError:
        pass
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def git_state(cwd: str | Path | None = None) -> tuple[str, bool]:
    """(commit, dirty). Without git or commits: ("unknown", True), since the results then
    cannot be traced to a clean commit. ``results/`` is left out of the dirty check: a suite
    rewrites it as it goes, and its own output must not mark the code it ran as modified."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                              check=True, timeout=30).stdout
    try:
        commit = git("rev-parse", "HEAD").strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown", True
    try:
        dirty = bool(git("status", "--porcelain", "--", ".", ":(exclude)results").strip())
    except (OSError, subprocess.SubprocessError):
        dirty = True
    return commit, dirty


def thread_settings() -> dict[str, int | str | None]:
    """What every worker starts with (before a task pins its pools): the CPU count and the
    variables set for it. A task's thread count is in its case's params; a pinned task also
    fixes the inter-op pools to one thread (TF_NUM_INTEROP_THREADS, torch's interop threads)."""
    from experiments.harness.children import child_env

    worker = child_env()
    settings: dict[str, int | str | None] = {"default": os.cpu_count() or 1, "inter_op_when_pinned": 1}
    for var in THREAD_VARS:
        settings[var] = worker.get(var)
    return settings


def cpu_signature() -> str | None:
    """The processor's vendor, family, model and stepping as the kernel reports them
    (``AuthenticAMD 26/2/1``). A cloud VM's model name can be as vague as ``AMD EPYC`` for two
    different microarchitectures; the signature tells them apart. None off Linux."""
    cpus = _cpuinfo()
    fields = [cpus[0].get(k) for k in ("cpu family", "model", "stepping")] if cpus else []
    if not any(fields):
        return None
    return f"{cpus[0].get('vendor_id') or 'unknown'} " + "/".join(f or "?" for f in fields)


def machine_identity() -> str:
    """What tells this machine from another with the same CPU model name: the systemd machine
    id, the host name, the primary MAC address, the CPU signature and every CPU flag the
    kernel reports. VMs cloned from one image share the first three, so without the last two
    two VMs with different processors (one with AVX-512, one without) got one label."""
    import hashlib
    import socket
    import uuid

    try:
        machine_id = Path("/etc/machine-id").read_text(encoding="utf-8").strip()
    except OSError:
        machine_id = ""
    cpus = _cpuinfo()
    flags = " ".join(sorted(set(cpus[0].get("flags", "").split()))) if cpus else ""
    return (f"{machine_id}|{socket.gethostname()}|{uuid.getnode():012x}|{cpu_signature()}"
            f"|{hashlib.sha256(flags.encode()).hexdigest()[:16]}")


def host_label(override: str | None = None) -> str:
    """This machine's results folder name: ``--host`` if given, else CPU slug + identity hash."""
    from results_contract.hosts import check_label, host_label as label

    return check_label(override) if override else label(cpu_model(), machine_identity())


def cpu_details() -> dict:
    """The clock the OS reports (a VM's is usually the nominal base clock) and the vector
    extensions present, which decide what the kernels can use."""
    cpus = _cpuinfo()
    mhz = [float(c["cpu MHz"]) for c in cpus if c.get("cpu MHz", "").replace(".", "", 1).isdigit()]
    flags = set(cpus[0].get("flags", "").split()) if cpus else set()
    wanted = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_int8")
    return {"cpu_mhz": round(sum(mhz) / len(mhz), 1) if mhz else None,
            "cpu_flags": [f for f in wanted if f in flags], "cpu_signature": cpu_signature()}


def fingerprint() -> dict:
    """What must match for cached results to stay valid; no times, no git."""
    physical, logical = cpu_cores()
    return {"packages": package_versions(), "python": platform.python_version(),
            "implementation": platform.python_implementation(), "machine": platform.machine(),
            "cpu_model": cpu_model(), "cpu_signature": cpu_signature(), "cpu_cores_physical": physical,
            "cpu_cores_logical": logical}


def collect(*, started_at: str, device: str = "cpu", cwd: str | Path | None = None,
            host: str | None = None) -> dict:
    """The full environment record; ``finished_at`` is now."""
    import hashlib

    physical, logical = cpu_cores()
    commit, dirty = git_state(cwd)
    return {
        "host": host or host_label(),
        "machine_id": hashlib.sha256(machine_identity().encode()).hexdigest()[:16],
        **cpu_details(),
        "cpu_model": cpu_model(), "cpu_cores_physical": physical, "cpu_cores_logical": logical,
        "memory_bytes": memory_bytes(), "os": platform.platform(),
        "python": platform.python_version(), "device": device,
        "packages": package_versions(), "threads": thread_settings(),
        "git_commit": commit, "git_dirty": dirty,
        "started_at": started_at, "finished_at": now_utc(),
    }
