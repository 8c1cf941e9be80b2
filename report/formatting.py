"""Numbers, units and comparison sentences, all computed from results cases.

The prose never states a measured value or a direction by hand: it calls these through the
template helpers, so the words change when the data does. Two cases whose 95% CIs overlap
are reported as "no clear difference".
"""

from __future__ import annotations

import math
from typing import Any

from results_contract import Case, format_params
from results_contract.vocabulary import FRAMEWORK_NAMES, MODE_NAMES, unit as unit_of
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def fmt_number(x: float, digits: int = 3) -> str:
    """Three significant digits, thousands separators for large values, no trailing zeros."""
    if x is None or not math.isfinite(x):
        return "n/a"
    if x == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(x)))
    if magnitude < -3:  # 4.47×10⁻⁷ rather than 0.000000447
        mantissa = fmt_number(x / 10 ** magnitude, digits)
        return f"{mantissa}×10{str(magnitude).translate(_SUPERSCRIPT)}"
    if magnitude >= digits - 1:
        return f"{round(x):,}"
    decimals = max(0, digits - 1 - magnitude)
    text = f"{x:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{fmt_number(n)} {unit}"
        n /= 1024
    return f"{n} B"  # pragma: no cover


def fmt_quantity(x: float, unit: str) -> str:
    if unit == "bytes":
        return fmt_bytes(x)
    symbol = unit_of(unit).symbol if unit else ""
    if not symbol or symbol == "1":
        return fmt_number(x)
    if symbol in ("×", "%"):
        return f"{fmt_number(x)}{symbol}"
    return f"{fmt_number(x)} {symbol}"


def fmt_range(lo: float, hi: float, unit: str) -> str:
    if unit == "bytes":
        return f"{fmt_bytes(lo)}–{fmt_bytes(hi)}"
    return f"{fmt_number(lo)}–{fmt_quantity(hi, unit)}"


def case_label(case: Case) -> str:
    """A reader's name for a case: framework plus mode, e.g. "PyTorch torch.compile"."""
    fw = FRAMEWORK_NAMES.get(case.framework, case.framework)
    mode = MODE_NAMES.get(case.mode, case.mode.replace("_", " "))
    return f"{fw} {mode}"


def fmt_case(case: Case, *, stat: str = "median", ci: bool = True) -> str:
    """"0.123 ms (95% CI 0.120–0.125)", or "n/a (reason)" for a case that did not run."""
    if not case.ok:
        return f"n/a ({case.status}: {case.error or 'no reason recorded'})"
    value = getattr(case, stat, None) if stat in CASE_STATS else None
    if value is None:
        return f"n/a ({stat} not recorded)"
    text = fmt_quantity(value, case.unit)
    lo_hi = case.ci95
    if ci and stat == "median" and lo_hi and case.sample_count > 1:
        text += f" (95% CI {fmt_range(lo_hi[0], lo_hi[1], case.unit)})"
    return text


CASE_STATS = ("median", "p90", "p99", "mean", "stdev")


def cis_overlap(a: Case, b: Case) -> bool:
    (alo, ahi), (blo, bhi) = a.ci95, b.ci95
    return alo <= bhi and blo <= ahi


def ratio(a: Case, b: Case) -> float | None:
    """How many times better ``a`` is than ``b`` (>1 means a is better), or None."""
    if not (a.ok and b.ok) or not a.median or not b.median:
        return None
    if a.better == "lower":
        return b.median / a.median
    return a.median / b.median


def _adjectives(case: Case) -> tuple[str, str]:
    return unit_of(case.unit).words(case.better)


def compare_sentence(a: Case, b: Case, a_name: str | None = None, b_name: str | None = None) -> str:
    """A one-clause comparison whose direction and size come from the data."""
    a_name, b_name = a_name or case_label(a), b_name or case_label(b)
    if not a.ok and not b.ok:
        return f"neither {a_name} nor {b_name} produced a result ({fmt_case(a)}; {fmt_case(b)})"
    if not a.ok or not b.ok:
        good, bad, bad_case = (a_name, b_name, b) if a.ok else (b_name, a_name, a)
        return f"{good} produced a result while {bad} did not ({fmt_case(bad_case)})"
    va = fmt_quantity(a.median, a.unit)
    vb = fmt_quantity(b.median, b.unit)
    if a.better == "none":
        return f"{a_name} measured {va} and {b_name} {vb}"
    if cis_overlap(a, b):
        return f"{a_name} ({va}) and {b_name} ({vb}) show no clear difference (their 95% CIs overlap)"
    r = ratio(a, b)
    better, worse = _adjectives(a)
    if r >= 1:
        return f"{a_name} ({va}) is {fmt_number(r)}× {better} than {b_name} ({vb})"
    return f"{a_name} ({va}) is {fmt_number(1 / r)}× {worse} than {b_name} ({vb})"


def describe_params(params: dict[str, Any]) -> str:
    return format_params(params, ", ")
