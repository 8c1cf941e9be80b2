"""FP32 matrix-multiply throughput (GFLOP/s) against an estimate of the CPU's peak.

Dense GEMM is the kernel that both frameworks hand to a vendor BLAS (oneDNN/MKL for both on
x86), so this separates "the framework is slow" from "the machine is slow": if torch and
TensorFlow reach the same fraction of the machine's peak on a bare matmul, differences in
model benchmarks come from the framework layers above the kernel. The peak is an estimate
from ``/proc/cpuinfo`` (cores x clock x FLOPs/cycle from the widest vector extension); its
inputs and assumptions are recorded with it.
"""

from __future__ import annotations

import os
import re

from experiments.harness.api import Measurement, Task
from results_contract.vocabulary import FRACTION_OF_PEAK as FRACTION, GFLOPS, THEORETICAL_PEAK as PEAK

NAME = "gemm"
TITLE = "FP32 matrix multiply: measured GFLOP/s and theoretical peak"

FULL_SIZES = (256, 512, 1024, 2048)
QUICK_SIZES = (128, 256)


# FP32 FLOPs per cycle per core for the widest extension present. One FMA counts as two
# FLOPs; we assume two FMA ports per core, which holds for most server cores since Haswell
# (some AVX-512 SKUs have only one 512-bit FMA unit: their true peak is half of this).
_FLOPS_PER_CYCLE = (
    ("avx512f", 2 * 16 * 2, "2 FMA ports x 16 fp32 lanes (512-bit) x 2 FLOPs/FMA"),
    ("fma", 2 * 8 * 2, "2 FMA ports x 8 fp32 lanes (256-bit AVX2) x 2 FLOPs/FMA"),
    ("avx", 2 * 8, "1 add + 1 mul port x 8 fp32 lanes (256-bit AVX, no FMA)"),
    ("sse", 2 * 4, "1 add + 1 mul port x 4 fp32 lanes (128-bit SSE)"),
)


def theoretical_peak(cpuinfo: str, max_mhz: float | None = None) -> dict:
    """Estimate FP32 peak GFLOP/s from the text of ``/proc/cpuinfo``.

    Cores are the ``processor`` entries (logical CPUs: in a VM these may be hyperthreads,
    which share one core's FMA units, so the estimate is then an upper bound). The clock is
    ``max_mhz`` when given (``lscpu``'s max MHz), else the mean ``cpu MHz`` reported, which
    in a VM is usually the nominal base clock; turbo and AVX-512 down-clocking are ignored.
    """
    logical = len(re.findall(r"^processor\s*:", cpuinfo, flags=re.M)) or 1
    mhz_values = [float(v) for v in re.findall(r"^cpu MHz\s*:\s*([\d.]+)", cpuinfo, flags=re.M)]
    flags_match = re.search(r"^flags\s*:\s*(.*)$", cpuinfo, flags=re.M)
    flags = set(flags_match.group(1).split()) if flags_match else set()
    siblings = re.search(r"^siblings\s*:\s*(\d+)", cpuinfo, flags=re.M)
    cpu_cores = re.search(r"^cpu cores\s*:\s*(\d+)", cpuinfo, flags=re.M)
    smt = bool(siblings and cpu_cores and int(siblings.group(1)) > int(cpu_cores.group(1)))

    if max_mhz:
        mhz, clock_source = float(max_mhz), "lscpu max MHz"
    elif mhz_values:
        mhz, clock_source = sum(mhz_values) / len(mhz_values), "/proc/cpuinfo cpu MHz (mean)"
    else:
        raise ValueError("no clock found: /proc/cpuinfo has no 'cpu MHz' and no max MHz given")

    for flag, per_cycle, why in _FLOPS_PER_CYCLE:
        if flag in flags or (flag == "sse" and any(f.startswith("sse") for f in flags)):
            vector, flops_per_cycle, rule = flag, per_cycle, why
            break
    else:
        vector, flops_per_cycle, rule = "scalar", 2, "scalar: 1 add + 1 mul per cycle"
    ghz = mhz / 1000.0
    return {
        "logical_cpus": logical,
        "smt_detected": smt,
        "clock_ghz": round(ghz, 4),
        "clock_source": clock_source,
        "vector_extension": vector,
        "flops_per_cycle_per_core": flops_per_cycle,
        "flops_per_cycle_rule": rule,
        "peak_gflops_per_core": ghz * flops_per_cycle,
        "peak_gflops": logical * ghz * flops_per_cycle,
    }


def _machine_peak() -> dict:
    with open("/proc/cpuinfo", encoding="utf-8") as fh:
        text = fh.read()
    max_mhz = None
    try:  # lscpu's max MHz, when the hypervisor exposes it (often it does not)
        import subprocess

        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        m = re.search(r"^CPU max MHz:\s*([\d.]+)", out, flags=re.M)
        max_mhz = float(m.group(1)) if m else None
    except (OSError, subprocess.SubprocessError):
        pass
    return theoretical_peak(text, max_mhz)


def _threads() -> int:
    return os.cpu_count() or 1


def tasks(quick: bool) -> list[Task]:
    sizes = QUICK_SIZES if quick else FULL_SIZES
    threads = _threads()
    out = [
        Task(framework=fw, mode="matmul", model="gemm", params={"n": n, "dtype": "float32"},
             threads=threads, metrics=(GFLOPS, FRACTION))
        for fw in ("pytorch", "tensorflow") for n in sizes
    ]
    # The peak is framework-independent; it rides in a pytorch worker only because every
    # case needs a framework. It also times numpy's matmul as a reference (in `extra`).
    out.append(Task(framework="pytorch", mode="theoretical_peak", model="cpu",
                    params={"dtype": "float32", "numpy_n": max(sizes)},
                    threads=threads, rounds=1, metrics=(PEAK,)))
    return out


def _peak_for(threads: int, peak: dict) -> float:
    """Peak of the cores a run with ``threads`` threads can use."""
    return min(threads, peak["logical_cpus"]) * peak["peak_gflops_per_core"]


def run(task: Task, ctx) -> list[Measurement]:
    peak = _machine_peak()
    threads = ctx.threads or _threads()
    if task.mode == "theoretical_peak":
        import numpy as np

        n = int(task.params["numpy_n"])
        rng = np.random.default_rng(ctx.seed)
        a = rng.standard_normal((n, n), dtype=np.float32)
        b = rng.standard_normal((n, n), dtype=np.float32)
        secs = ctx.timeit(lambda: a @ b)
        numpy_gflops = sorted(2 * n**3 / s / 1e9 for s in secs)[len(secs) // 2]
        extra = dict(peak, numpy_n=n, numpy_gflops_median=numpy_gflops,
                     numpy_version=np.__version__)
        notes = ("Estimate, not a measurement: logical CPUs x clock x FP32 FLOPs/cycle/core. "
                 f"{peak['flops_per_cycle_rule']}; assumes two FMA ports per core, ignores "
                 "turbo and AVX-512 down-clocking; if vCPUs are hyperthreads the real peak "
                 "is lower. extra.numpy_gflops_median is numpy's matmul at n=numpy_n.")
        return [Measurement(PEAK, [peak["peak_gflops"]], extra=extra,
                            notes=notes)]

    n = int(task.params["n"])
    flops = 2.0 * n**3  # n^2 outputs, n multiply-adds each
    if task.framework == "pytorch":
        import torch

        gen = torch.Generator().manual_seed(ctx.seed)
        a = torch.randn(n, n, generator=gen).to(ctx.device)
        b = torch.randn(n, n, generator=gen).to(ctx.device)

        def step():
            torch.mm(a, b)
            ctx.sync()
    elif task.framework == "tensorflow":
        import tensorflow as tf

        device = "/GPU:0" if ctx.device == "cuda" else "/CPU:0"
        with tf.device(device):
            gen = tf.random.Generator.from_seed(ctx.seed)
            a = gen.normal((n, n), dtype=tf.float32)
            b = gen.normal((n, n), dtype=tf.float32)

        def step():
            # Eager CPU ops run synchronously; on GPU, reading one element forces completion.
            with tf.device(device):
                c = tf.linalg.matmul(a, b)
            if ctx.device == "cuda":
                c[0, 0].numpy()
    else:
        raise ValueError(f"unknown framework {task.framework!r}")

    secs = ctx.timeit(step)
    gflops = [flops / s / 1e9 for s in secs]
    if ctx.device != "cpu":
        return [Measurement(GFLOPS, gflops, notes="2*n^3 FLOPs per call / seconds per call"),
                Measurement(FRACTION, [], status="unsupported",
                            error="the peak estimate is for the CPU; this ran on "
                                  f"{ctx.device}")]
    usable_peak = _peak_for(threads, peak)
    extra = {"peak_gflops_for_threads": usable_peak, "threads": threads}
    frac_notes = (f"measured / estimated peak of {min(threads, peak['logical_cpus'])} "
                  "core(s); see the theoretical_peak case for how the peak is estimated")
    return [
        Measurement(GFLOPS, gflops, extra=extra, notes="2*n^3 FLOPs per call / seconds per call"),
        Measurement(FRACTION, [g / usable_peak for g in gflops], extra=extra,
                    notes=frac_notes),
    ]
