"""Summary statistics for raw samples: median, percentiles, bootstrap CI95 and a noisy flag.

Benchmark timings are skewed (a few slow outliers), so the paper reports the median with a
nonparametric confidence interval rather than mean and standard deviation. The bootstrap uses a
fixed seed so the same samples always give the same file (reproducible builds, stable diffs).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 20240601
NOISY_HALF_WIDTH = 0.05  # CI half-width above 5% of the median marks a case noisy


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation, numpy's default definition."""
    return float(np.percentile(np.asarray(samples, dtype=float), q))


def bootstrap_ci_median(samples: Sequence[float], *, resamples: int = BOOTSTRAP_RESAMPLES,
                        seed: int = BOOTSTRAP_SEED, level: float = 0.95) -> tuple[float, float]:
    """Percentile-bootstrap confidence interval of the median, deterministic for fixed data."""
    data = np.asarray(samples, dtype=float)
    if data.size == 1:
        return float(data[0]), float(data[0])
    rng = np.random.default_rng(seed)
    # Resample in chunks so thousands of per-call samples do not allocate a huge matrix.
    medians = []
    chunk = max(1, min(resamples, 4_000_000 // data.size))
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        idx = rng.integers(0, data.size, size=(size, data.size))
        medians.append(np.median(data[idx], axis=1))
    meds = np.concatenate(medians)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.percentile(meds, [100 * alpha, 100 * (1 - alpha)])
    return float(lo), float(hi)


def summarize(samples: Sequence[float]) -> dict:
    """All statistics a results case carries; every value is None when there are no samples."""
    if not samples:
        return {"n": 0, "median": None, "ci95": None, "p90": None, "p99": None,
                "mean": None, "stdev": None, "noisy": False}
    data = np.asarray(samples, dtype=float)
    median = float(np.median(data))
    lo, hi = bootstrap_ci_median(data)
    half_width = (hi - lo) / 2.0
    noisy = bool(half_width > NOISY_HALF_WIDTH * median) if median > 0 else bool(half_width > 0)
    return {
        "n": int(data.size),
        "median": median,
        "ci95": [lo, hi],
        "p90": percentile(data, 90),
        "p99": percentile(data, 99),
        "mean": float(data.mean()),
        "stdev": float(data.std(ddof=1)) if data.size > 1 else 0.0,
        "noisy": noisy,
    }


def is_valid_sample(value: object) -> bool:
    """Samples must be finite non-negative numbers (the schema and the statistics rely on it)."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value) and value >= 0)
