"""Statistics across independent processes: the process is the unit of replication.

Samples taken inside one process are not independent of each other (they share its memory
layout, JIT state, thread placement and frequency), so a CI built by pooling them overstates
precision (Georges et al. 2007; Kalibera and Jones 2013). Here a case's point estimate is the
median of its per-process medians, and its 95% CI comes from a hierarchical bootstrap:
resample processes with replacement, then samples within each chosen process, and take the
median of the resampled process medians. With fewer than ``MIN_PROCESSES`` processes there is
no CI at all. The bootstrap uses a fixed seed, so the same runs always give the same file.

``ratio_ci`` applies the same resampling to two cases at once, for comparisons (``build.py
compare`` and the paper's headline ratios).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 20240601
MIN_PROCESSES = 3   # fewer processes: no interval, the paper prints "n = k"


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation, numpy's default definition."""
    return float(np.percentile(np.asarray(samples, dtype=float), q))


def percentile_by_process(runs: Sequence[Sequence[float]], q: float) -> float | None:
    """The q-th percentile (0..100) of samples grouped by process, every process weighing the
    same whatever its number of samples.

    A process that times until a time budget runs out contributes fewer calls when it is slow,
    so percentiles of the pooled calls lean towards fast processes; here each of a process's
    ``n`` samples weighs ``1/n``. The weighted distribution is interpolated linearly between
    the midpoints of each sample's weight (with equal counts per process this is the Hazen
    percentile of the pooled samples). None without samples."""
    runs = [np.asarray(r, dtype=float) for r in runs if len(r)]
    if not runs:
        return None
    values = np.concatenate(runs)
    weights = np.concatenate([np.full(r.size, 1.0 / r.size) for r in runs])
    order = np.argsort(values, kind="stable")
    values, weights = values[order], weights[order]
    positions = (np.cumsum(weights) - weights / 2.0) / weights.sum()
    return float(np.interp(q / 100.0, positions, values))


def _within_run_medians(run: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """``resamples`` bootstrap medians of one process's samples (chunked: bounded memory)."""
    if run.size == 1:
        return np.full(resamples, float(run[0]))
    out = []
    chunk = max(1, min(resamples, 4_000_000 // run.size))
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        idx = rng.integers(0, run.size, size=(size, run.size))
        out.append(np.median(run[idx], axis=1))
    return np.concatenate(out)


def _hierarchical_stats(runs: Sequence[Sequence[float]], resamples: int, rng: np.random.Generator) -> np.ndarray:
    """The bootstrap distribution of the median of process medians."""
    arrays = [np.asarray(r, dtype=float) for r in runs]
    k = len(arrays)
    bank = np.stack([_within_run_medians(a, resamples, rng) for a in arrays])   # (k, B)
    pick_run = rng.integers(0, k, size=(resamples, k))
    pick_draw = rng.integers(0, resamples, size=(resamples, k))
    return np.median(bank[pick_run, pick_draw], axis=1)


def hierarchical_ci(runs: Sequence[Sequence[float]], *, resamples: int = BOOTSTRAP_RESAMPLES,
                    seed: int = BOOTSTRAP_SEED, level: float = 0.95) -> tuple[float, float] | None:
    """95% CI of the median of process medians; None with fewer than MIN_PROCESSES processes."""
    if len(runs) < MIN_PROCESSES:
        return None
    dist = _hierarchical_stats(runs, resamples, np.random.default_rng(seed))
    alpha = (1.0 - level) / 2.0
    lo, hi = np.percentile(dist, [100 * alpha, 100 * (1 - alpha)])
    return float(lo), float(hi)


def ratio_ci(a_runs: Sequence[Sequence[float]], b_runs: Sequence[Sequence[float]], *,
             resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED,
             level: float = 0.95) -> tuple[float, float] | None:
    """95% CI of median(b) / median(a) from independent hierarchical bootstraps of each side;
    None unless both have MIN_PROCESSES processes."""
    if len(a_runs) < MIN_PROCESSES or len(b_runs) < MIN_PROCESSES:
        return None
    rng = np.random.default_rng(seed)
    a = _hierarchical_stats(a_runs, resamples, rng)
    b = _hierarchical_stats(b_runs, resamples, rng)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = b / a
    ratios = ratios[np.isfinite(ratios)]
    if ratios.size == 0:
        return None
    alpha = (1.0 - level) / 2.0
    lo, hi = np.percentile(ratios, [100 * alpha, 100 * (1 - alpha)])
    return float(lo), float(hi)


def summarize(runs: Sequence[Sequence[float]], *, deterministic: bool = False,
              noise_threshold: float = 0.05) -> dict:
    """Every statistic a case carries, from its samples grouped by process.

    ``median`` is the median of process medians; p90/p99, mean and stdev describe the pooled
    samples (tail latency over every call measured). Deterministic metrics get no CI.
    """
    runs = [list(map(float, r)) for r in runs if len(r)]
    if not runs:
        return {"n": 0, "processes": 0, "median": None, "ci95": None, "p90": None, "p99": None,
                "mean": None, "stdev": None, "noisy": False, "runs": []}
    medians = [float(np.median(r)) for r in runs]
    pooled = np.asarray([s for r in runs for s in r], dtype=float)
    median = float(np.median(medians))
    ci = None if deterministic else hierarchical_ci(runs)
    noisy = False
    if ci is not None:
        half = (ci[1] - ci[0]) / 2.0
        noisy = bool(half > noise_threshold * median) if median > 0 else bool(half > 0)
    return {
        "n": int(pooled.size),
        "processes": len(runs),
        "median": median,
        "ci95": list(ci) if ci is not None else None,
        "p90": percentile(pooled, 90),
        "p99": percentile(pooled, 99),
        "mean": float(pooled.mean()),
        "stdev": float(pooled.std(ddof=1)) if pooled.size > 1 else 0.0,
        "noisy": noisy,
        "runs": [{"process": i, "samples": r, "median": m, "n": len(r)} for i, (r, m) in enumerate(zip(runs, medians))],
    }


def is_valid_sample(value: object) -> bool:
    """Samples must be finite non-negative numbers (the schema and the statistics rely on it)."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value) and value >= 0)
