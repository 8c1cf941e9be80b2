"""Every process the harness or an experiment starts gets its environment from here.

One place decides what a child needs: the repository root on ``PYTHONPATH`` (so
``experiments`` and ``results_contract`` import), a fixed hash seed, quiet TensorFlow logs and,
when a thread count is given, the native thread pools pinned before the child's first import
(OpenMP and MKL read their variables once, at load time).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Mapping

from experiments.harness.framework_setup import thread_env

REPO_ROOT = Path(__file__).resolve().parents[2]

# glibc's mmap and trim thresholds are dynamic: they rise only after the process has freed a
# large mapped block, so whether a PyTorch forward page-faults its activations anew on every
# call depends on what ran before it in the process (up to 1.8x on the CNN). Fixing them makes
# every measurement independent of task order; the setting is recorded with the results.
ALLOCATOR_ENV = {"MALLOC_MMAP_THRESHOLD_": str(32 * 1024 * 1024), "MALLOC_TRIM_THRESHOLD_": str(1024 ** 3)}


# Settings every worker gets, so that tasks which name them explicitly (the Keras paths of the
# deployment experiment, the torch.compile modes) still share a worker with tasks that do not:
# Keras on TensorFlow unless a task chooses another back end, and Inductor compiling in-process
# (its compile workers would compete with the measurement for the two cores).
SHARED_DEFAULTS = {"KERAS_BACKEND": "tensorflow", "TORCHINDUCTOR_COMPILE_THREADS": "1"}


def child_env(*, threads: int | None = None, extra: Mapping[str, str] | None = None,
              search_root: Path | None = None, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a child process (``base`` defaults to this process's)."""
    env = dict(os.environ if base is None else base)
    paths = [str(REPO_ROOT)] + ([str(search_root)] if search_root else [])
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    env.setdefault("PYTHONHASHSEED", "0")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    for name, value in {**ALLOCATOR_ENV, **SHARED_DEFAULTS}.items():
        env.setdefault(name, value)
    env.update(thread_env(threads))
    env.update(extra or {})
    return env


def run_python(args: list[str], *, env: Mapping[str, str], timeout: float, what: str) -> str:
    """Run ``python ARGS`` from the repository root; its stdout, or RuntimeError naming ``what``
    with the end of its stderr (the experiment records that as the case's failure)."""
    proc = subprocess.run([sys.executable, *args], cwd=REPO_ROOT, env=dict(env), capture_output=True,
                          text=True, timeout=timeout)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"{what} exited with code {proc.returncode}: {tail[-1500:]}")
    return proc.stdout
