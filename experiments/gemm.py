"""FP32 matrix-multiply throughput (GFLOP/s) against the machine's measured FMA peak.

Dense GEMM is the kernel both frameworks hand to a vendor library (oneDNN/MKL or Eigen on x86),
so this separates "the framework is slow" from "the machine is slow": if torch and TensorFlow
reach the same fraction of the machine's peak on a bare matmul, differences in model benchmarks
come from the framework layers above the kernel.

The peak is *measured*, not looked up: a register-only microkernel of independent fused
multiply-adds (12 AVX2 or 24 AVX-512 accumulators, enough to hide the FMA latency on two
ports), compiled at run time with the system C compiler. It runs on one core, and the peak of
``threads`` cores is that times ``threads``: a core's single-thread clock is at least its
all-core clock, and one thread cannot be slowed by a busy sibling, so this bounds what a GEMM on
those cores can issue from above. ``fraction_of_peak`` divides each GEMM sample by the best
single-core run *in the same process, just before*, times the thread count, and so stays at
most 1 by construction. The all-core run of the same loop is recorded beside it. The datasheet-style estimate from the
nominal clock in ``/proc/cpuinfo`` is kept beside it, labelled, because vCPUs boost above the
nominal clock (which is why the old estimate was exceeded).

Sizes: squares from 64 to 2048, plus the shapes the paper's MLP multiplies (its first layer at
batch 32 and 256). TensorFlow runs each matmul eagerly and inside ``tf.function``, which tells
its per-op dispatch cost apart from its kernel.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path

from experiments.harness.api import Measurement, Metric, Task
from results_contract.vocabulary import FRACTION_OF_PEAK as FRACTION, GFLOPS, THEORETICAL_PEAK

NAME = "gemm"
TITLE = "FP32 matrix multiply: measured GFLOP/s against the measured FMA peak"

FULL_SQUARES = (64, 128, 256, 512, 1024, 2048)
QUICK_SQUARES = (128, 256)
# (m, k, n, label): the paper's MLP, first layer (784 -> 256), at the throughput batch sizes.
MODEL_SHAPES = ((32, 784, 256, "mlp fc1, batch 32"), (256, 784, 256, "mlp fc1, batch 256"))
FMA_PEAK = Metric("fma_peak", "GFLOP/s", "none")
MODES = (("pytorch", "matmul"), ("tensorflow", "matmul"), ("tensorflow", "matmul_graph"))

_KERNEL = r"""
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <omp.h>
#ifdef WIDE
#define ACC 24
#define LANES 16
typedef __m512 vec;
#define SET1 _mm512_set1_ps
#define FMA _mm512_fmadd_ps
#define ADD _mm512_add_ps
#define STORE _mm512_storeu_ps
#else
#define ACC 12
#define LANES 8
typedef __m256 vec;
#define SET1 _mm256_set1_ps
#define FMA _mm256_fmadd_ps
#define ADD _mm256_add_ps
#define STORE _mm256_storeu_ps
#endif
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
int main(int argc, char **argv) {
  long iters = atol(argv[1]); int threads = atoi(argv[2]);
  omp_set_num_threads(threads);
  volatile float sink = 0;
  double t0 = now();
  #pragma omp parallel
  {
    vec a[ACC], x = SET1(1.0000001f), y = SET1(0.9999999f);
    for (int i = 0; i < ACC; i++) a[i] = SET1((float)i);
    for (long n = 0; n < iters; n++) {
      #pragma GCC unroll 24
      for (int i = 0; i < ACC; i++) a[i] = FMA(a[i], x, y);
    }
    vec s = a[0]; for (int i = 1; i < ACC; i++) s = ADD(s, a[i]);
    float o[LANES]; STORE(o, s); sink += o[0];
  }
  double t = now() - t0;
  printf("%.6f\n", (double)threads * iters * ACC * LANES * 2 / t / 1e9);
  return 0;
}
"""


# --- the machine's peak --------------------------------------------------------------------

def nominal_peak(cpuinfo: str) -> dict:
    """The datasheet-style estimate: logical CPUs x nominal clock x FP32 FLOPs/cycle (two FMA
    ports). A VM reports its base clock in ``cpu MHz``; boost clocks make this an underestimate."""
    logical = len(re.findall(r"^processor\s*:", cpuinfo, flags=re.M)) or 1
    mhz = [float(v) for v in re.findall(r"^cpu MHz\s*:\s*([\d.]+)", cpuinfo, flags=re.M)]
    flags_match = re.search(r"^flags\s*:\s*(.*)$", cpuinfo, flags=re.M)
    flags = set(flags_match.group(1).split()) if flags_match else set()
    lanes = 16 if "avx512f" in flags else 8 if "fma" in flags else 0
    ghz = (sum(mhz) / len(mhz) / 1000.0) if mhz else 0.0
    per_cycle = 2 * lanes * 2  # 2 FMA ports x lanes x 2 FLOPs per FMA
    return {"logical_cpus": logical, "nominal_clock_ghz": round(ghz, 4), "fp32_lanes": lanes,
            "flops_per_cycle_per_core": per_cycle, "peak_gflops": logical * ghz * per_cycle,
            "vector_extension": "avx512f" if lanes == 16 else "avx2+fma" if lanes == 8 else "none"}


_kernel: "FmaKernel | None" = None


def fma_kernel() -> "FmaKernel":
    """The microkernel, compiled on first use in this process."""
    global _kernel
    if _kernel is None:
        _kernel = FmaKernel()
    return _kernel


class FmaKernel:
    """The FMA microkernel, compiled once per process into a temporary folder."""

    def __init__(self) -> None:
        flags = Path("/proc/cpuinfo").read_text(errors="replace")
        self.wide = bool(re.search(r"\bavx512f\b", flags))
        if not re.search(r"\bfma\b", flags):
            raise RuntimeError("this CPU has no FMA instructions; the FMA peak is not measured")
        self.dir = tempfile.mkdtemp(prefix="fma-peak-")
        src, self.binary = Path(self.dir) / "fma.c", Path(self.dir) / "fma"
        src.write_text(_KERNEL)
        arch = ["-mavx512f", "-DWIDE"] if self.wide else ["-mavx2", "-mfma"]
        try:
            subprocess.run(["cc", "-O2", *arch, "-fopenmp", str(src), "-o", str(self.binary)],
                           check=True, capture_output=True, text=True, timeout=120)
        except FileNotFoundError:
            raise RuntimeError("no C compiler (cc) on PATH; the FMA peak is not measured") from None
        except subprocess.CalledProcessError as exc:
            raise RuntimeError(f"the FMA microkernel did not compile: {exc.stderr.strip()[-300:]}") from None

    def gflops(self, threads: int, seconds: float = 0.1) -> float:
        """One run of about ``seconds`` on ``threads`` threads."""
        cycles_per_iteration = (24 if self.wide else 12) / 2  # accumulators / 2 FMA ports
        iters = int(seconds * 3e9 / cycles_per_iteration)  # about ``seconds`` at ~3 GHz; time is measured
        out = subprocess.run([str(self.binary), str(iters), str(threads)], check=True,
                             capture_output=True, text=True, timeout=60)
        return float(out.stdout.strip())

    def best(self, threads: int, runs: int = 3, seconds: float = 0.1) -> float:
        return max(self.gflops(threads, seconds) for _ in range(runs))

    def peak(self, threads: int, runs: int = 3, seconds: float = 0.1) -> float:
        """``threads`` x the best single-core run: an upper bound for ``threads`` cores."""
        return threads * self.best(1, runs, seconds)


# --- tasks ---------------------------------------------------------------------------------

def _threads() -> int:
    return os.cpu_count() or 1


def _shapes(quick: bool) -> list[tuple[int, int, int, str]]:
    squares = [(n, n, n, "square") for n in (QUICK_SQUARES if quick else FULL_SQUARES)]
    return squares + ([] if quick else list(MODEL_SHAPES))


def tasks(quick: bool) -> list[Task]:
    threads = _threads()
    out = [Task(framework=fw, mode=mode, model="gemm",
                params={"m": m, "k": k, "n": n, "shape": label, "dtype": "float32"},
                threads=threads, metrics=(GFLOPS, FRACTION))
           for fw, mode in MODES for m, k, n, label in _shapes(quick)]
    # The peak is framework-independent; it rides in a pytorch worker only because every case
    # needs a framework. The nominal-clock estimate is deterministic; the FMA peak is measured.
    out.append(Task(framework="pytorch", mode="fma_peak", model="cpu", params={"dtype": "float32"},
                    threads=threads, metrics=(FMA_PEAK, THEORETICAL_PEAK)))
    return out


# --- measuring -----------------------------------------------------------------------------

def _peak_task(task: Task, ctx) -> list[Measurement]:
    nominal = nominal_peak(Path("/proc/cpuinfo").read_text(errors="replace"))
    threads = ctx.threads or _threads()
    seconds = 0.05 if ctx.quick else 0.2
    samples = [threads * fma_kernel().gflops(1, seconds) for _ in range(3 if ctx.quick else 7)]
    all_core = [fma_kernel().gflops(threads, seconds) for _ in range(3)]
    extra = {**nominal, "all_core_fma_gflops": all_core, "threads": threads}
    notes = (f"{threads} x one core's register-only FMA loop ({nominal['vector_extension']}), compiled with cc "
             f"at run time; each sample is one ~{seconds:g} s run; extra.all_core_fma_gflops runs the loop on "
             f"all {threads} cores at once")
    nominal_notes = ("estimate, not a measurement: logical CPUs x nominal clock (/proc/cpuinfo cpu MHz) x "
                     f"{nominal['flops_per_cycle_per_core']} FP32 FLOPs/cycle (2 FMA ports); vCPUs boost above "
                     "the nominal clock, so this underestimates the real peak")
    return [Measurement(FMA_PEAK, samples, extra=extra, notes=notes),
            Measurement(THEORETICAL_PEAK, [nominal["peak_gflops"]], extra=nominal, notes=nominal_notes)]


def _matmul(task: Task, ctx):
    """``(call, sync)`` for one (m x k) @ (k x n) product in the task's framework and mode."""
    m, k, n = (int(task.params[d]) for d in "mkn")
    if task.framework == "pytorch":
        import torch

        gen = torch.Generator().manual_seed(ctx.seed)
        a = torch.randn(m, k, generator=gen).to(ctx.device)
        b = torch.randn(k, n, generator=gen).to(ctx.device)
        return (lambda: torch.mm(a, b)), ctx.sync
    import tensorflow as tf

    device = "/GPU:0" if ctx.device == "cuda" else "/CPU:0"
    with tf.device(device):
        gen = tf.random.Generator.from_seed(ctx.seed)
        a, b = gen.normal((m, k), dtype=tf.float32), gen.normal((k, n), dtype=tf.float32)
    # A two-argument function, as a user writes one. ``tf.function(tf.linalg.matmul)`` itself
    # binds matmul's whole keyword signature on every call, which cost about 0.7 ms per call on
    # our 2-vCPU host (measured: 1.05 ms against 0.32 ms for the lambda, 64x64) and made small
    # products in graph mode look several times slower than they are.
    fn = tf.function(lambda x, y: tf.linalg.matmul(x, y)) if task.mode == "matmul_graph" else tf.linalg.matmul
    last = []

    def call():
        with tf.device(device):
            last[:] = [fn(a, b)]

    def sync():  # eager CPU ops finish before they return; a GPU result must be read back
        if ctx.device == "cuda" and last:
            last[0][0, 0].numpy()
    return call, sync


def run(task: Task, ctx) -> list[Measurement]:
    if task.mode == "fma_peak":
        return _peak_task(task, ctx)
    m, k, n = (int(task.params[d]) for d in "mkn")
    flops = 2.0 * m * k * n  # m*n outputs, k multiply-adds each
    notes = "2*m*k*n FLOPs per call / seconds per call"
    if ctx.device != "cpu":
        call, sync = _matmul(task, ctx)
        gflops = [flops / s / 1e9 for s in ctx.timeit(call, sync=sync)]
        return [Measurement(GFLOPS, gflops, notes=notes),
                Measurement(FRACTION, [], status="unsupported",
                            error=f"the FMA peak is measured on the CPU; this ran on {ctx.device}")]
    threads = ctx.threads or _threads()
    try:
        peak = fma_kernel().peak(threads, runs=3, seconds=0.05 if ctx.quick else 0.1)
        peak_error = None
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        peak, peak_error = None, str(exc)
    call, sync = _matmul(task, ctx)
    gflops = [flops / s / 1e9 for s in ctx.timeit(call, sync=sync)]
    extra = {"fma_peak_gflops_this_process": peak, "threads": threads}
    if peak is None:
        return [Measurement(GFLOPS, gflops, extra=extra, notes=notes),
                Measurement(FRACTION, [], status="failed", error=peak_error)]
    return [Measurement(GFLOPS, gflops, extra=extra, notes=notes),
            Measurement(FRACTION, [g / peak for g in gflops], extra=extra,
                        notes="measured GFLOP/s / (threads x the best of 3 single-core FMA-microkernel runs "
                              "in the same process, just before; see the fma_peak case)")]
