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
    """Three significant digits, thousands separators for large values. Trailing zeros are kept
    where they are significant: a measured 2.6996 prints "2.70" and 3.401 ms "3.40 ms". A value
    that the shorter form states exactly prints without them: a whole number ("12", "2 threads"),
    a declared setting (0.25 cores, not "0.250") or a value recorded at that precision (0.006)."""
    if x is None or not math.isfinite(x):
        return "n/a"
    if x == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(x)))
    rounded = round(x, digits - 1 - magnitude)
    if rounded:  # 0.99996 rounds to 1.00: three digits from the new magnitude on, not "1.000"
        magnitude = math.floor(math.log10(abs(rounded)))
    if magnitude < -3:  # 4.47×10⁻⁷ rather than 0.000000447
        mantissa = fmt_number(x / 10 ** magnitude, digits)
        return f"{mantissa}×10{str(magnitude).translate(_SUPERSCRIPT)}"
    if magnitude >= digits - 1:
        return f"{round(x):,}"
    decimals = max(0, digits - 1 - magnitude)
    text = f"{x:,.{decimals}f}"
    short = text.rstrip("0").rstrip(".")
    if short != text and abs(float(short.replace(",", "")) - x) <= 1e-9 * abs(x):
        return short  # exact without the zeros (allowing for binary rounding, as in 0.05 * 100)
    return text


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{fmt_number(n)} {unit}"
        n /= 1024
    return f"{n} B"  # pragma: no cover


# Units printed as percentages (a fraction of the whole: share of peak, accuracy).
PERCENT_UNITS = {"ratio"}


def _scale(x: float, unit: str) -> tuple[float, str]:
    """(factor, symbol) to print ``x``: short times in ms or µs rather than powers of ten."""
    if unit in PERCENT_UNITS:
        return 100.0, "%"
    symbol = unit_of(unit).symbol if unit else ""
    if symbol == "s" and abs(x) < 1:
        symbol, unit = "ms", "ms"
        x, factor = x * 1e3, 1e3
    else:
        factor = 1.0
    if symbol == "ms" and 0 < abs(x) < 0.1:
        return factor * 1e3, "µs"
    return factor, symbol


def _with_symbol(text: str, symbol: str) -> str:
    if not symbol or symbol == "1":
        return text
    return f"{text}{symbol}" if symbol in ("×", "%") else f"{text} {symbol}"


def fmt_quantity(x: float, unit: str) -> str:
    if unit == "bytes":
        return fmt_bytes(x)
    factor, symbol = _scale(x, unit)
    return _with_symbol(fmt_number(x * factor), symbol)


def _ratio_bound(x: float) -> str:
    """A ratio's interval bound: three significant digits, or more when those would print 1.00
    for a bound on the other side of one (0.9997 as "0.9997", not "1.00"), since whether the
    interval contains one is what a ratio interval is read for."""
    text = fmt_number(x)
    digits = 3
    while text.rstrip("0").rstrip(".") == "1" and x != 1 and digits < 7:
        digits += 1
        text = fmt_number(x, digits)
    return text


def fmt_range(lo: float, hi: float, unit: str) -> str:
    if unit == "bytes":
        return f"{fmt_bytes(lo)}–{fmt_bytes(hi)}"
    if unit in ("x", "×"):
        return f"{_ratio_bound(lo)}–{_ratio_bound(hi)}×"
    factor, symbol = _scale(hi, unit)
    return f"{fmt_number(lo * factor)}–" + _with_symbol(fmt_number(hi * factor), symbol)


def case_label(case: Case) -> str:
    """A reader's name for a case: framework plus mode, e.g. "PyTorch torch.compile"."""
    fw = FRAMEWORK_NAMES.get(case.framework, case.framework)
    mode = MODE_NAMES.get(case.mode, case.mode.replace("_", " "))
    return fw if mode.lower() == fw.lower() else f"{fw} {mode}"  # "LiteRT", not "LiteRT LiteRT"


def fmt_case(case: Case, *, stat: str = "median", ci: bool = True) -> str:
    """"0.123 ms (95% CI 0.120–0.125)", or "n/a (reason)" for a case that did not run."""
    if not case.ok:
        return f"n/a ({case.status}: {case.error or 'no reason recorded'})"
    value = getattr(case, stat, None) if stat in CASE_STATS else None
    if value is None:
        return f"n/a ({stat} not recorded)"
    text = fmt_quantity(value, case.unit)
    if not ci or stat != "median" or case.deterministic:
        return text
    if case.ci95:
        return text + f" (95% CI {fmt_range(case.ci95[0], case.ci95[1], case.unit)})"
    if case.processes is None:
        return text + " (no CI: pooled version-1 data)"
    return text + f" (n = {case.processes})"


CASE_STATS = ("median", "p90", "p99", "p90_by_process", "p99_by_process", "mean", "stdev")


def cis_overlap(a: Case, b: Case) -> bool:
    (alo, ahi), (blo, bhi) = a.ci95, b.ci95
    return alo <= bhi and blo <= ahi


def advantage(a: float, b: float, better: str) -> float:
    """How many times better the value ``a`` is than ``b`` for a metric where ``better`` is
    "lower" (a time) or "higher" (a rate); above 1 means ``a`` is better."""
    return b / a if better == "lower" else a / b


def ratio(a: Case, b: Case) -> float | None:
    """How many times better ``a`` is than ``b`` (>1 means a is better), or None."""
    if not (a.ok and b.ok) or not a.median or not b.median:
        return None
    return advantage(a.median, b.median, a.better)


# What a comparison of two cases may conclude (``verdict``).
BETTER, WORSE, WITHIN, UNCLEAR, NO_CI, MISSING, NOT_RANKED = (
    "better", "worse", "within", "unclear", "no_ci", "missing", "not_ranked")


def verdict(a: Case, b: Case, min_effect: float = 0.05) -> str:
    """The one comparison rule of the paper.

    A direction ("better"/"worse", from ``a``'s side) is stated only when both cases have
    process-level 95% CIs that do not overlap *and* the ratio is at least ``1 + min_effect``;
    a non-overlapping gap below that is "within", overlapping CIs are "unclear", a case with
    fewer than three processes is "no_ci". Deterministic metrics (sizes, counts) have no
    sampling noise: their values are compared against the threshold directly.
    """
    if not (a.ok and b.ok) or a.median is None or b.median is None:
        return MISSING
    if a.better == "none":
        return NOT_RANKED
    r = ratio(a, b)
    if r is None:
        return MISSING
    if not (a.deterministic and b.deterministic):
        if not (a.ci95 and b.ci95):
            return NO_CI
        if cis_overlap(a, b):
            return UNCLEAR
    if max(r, 1 / r) < 1 + min_effect:
        return WITHIN
    return BETTER if r > 1 else WORSE


def fmt_ratio(r: float, better_word: str, worse_word: str) -> str:
    """Speed words for a speed ratio ``r`` (>1: faster): "2.5× faster", "12% faster", and
    symmetrically "12% slower" when it takes 1.12 times as long, "3× slower". The switch to "×"
    happens where the percentage would *print* as 100% or more (a ratio of 1.995), so 1.999 reads
    "2× faster", not "100% faster"."""
    word = better_word if r >= 1 else worse_word
    x = r if r >= 1 else 1 / r
    percent = fmt_number((x - 1) * 100, 2)
    if x >= 2 or float(percent.replace(",", "")) >= 100:
        return f"{fmt_number(x)}× {word}"
    return f"{percent}% {word}"


def fmt_change(a_value: float, b_value: float, unit: str, better: str) -> str:
    """How ``a_value`` compares with ``b_value``, in the words of ``unit``'s kind.

    Times and rates use speed words (see ``fmt_ratio``). Other quantities use the plain change
    of the value: "44% smaller" is 0.56 times the size, "78% larger" 1.78 times, "3.6× smaller"
    a quarter or so; "higher"/"lower" likewise.
    """
    u = unit_of(unit)
    up, down = (("larger", "smaller") if better == "lower" else ("higher", "lower")) if u.kind not in ("time", "rate") \
        else (None, None)
    if unit == "lines":
        up, down = "longer", "shorter"
    elif u.kind == "count" and up is not None:
        up, down = "more", "fewer"
    if up is None:
        speed = b_value / a_value if better == "lower" else a_value / b_value
        good, bad = u.words(better)
        return fmt_ratio(speed, good, bad)
    v = a_value / b_value
    if v >= 1:
        return f"{fmt_number(v)}× {up}" if v >= 2 else f"{fmt_number((v - 1) * 100, 2)}% {up}"
    return f"{fmt_number(1 / v)}× {down}" if 1 / v >= 2 else f"{fmt_number((1 - v) * 100, 2)}% {down}"


def compare_sentence(a: Case, b: Case, a_name: str | None = None, b_name: str | None = None,
                     min_effect: float = 0.05) -> str:
    """A one-clause comparison whose direction and size come from the data, by ``verdict``."""
    a_name, b_name = a_name or case_label(a), b_name or case_label(b)
    if not a.ok and not b.ok:
        return f"neither {a_name} nor {b_name} produced a result ({fmt_case(a)}; {fmt_case(b)})"
    if not a.ok or not b.ok:
        good, bad, bad_case = (a_name, b_name, b) if a.ok else (b_name, a_name, a)
        return f"{good} produced a result while {bad} did not ({fmt_case(bad_case)})"
    va = fmt_quantity(a.median, a.unit)
    vb = fmt_quantity(b.median, b.unit)
    if a.unit == "ratio" and b.unit == "ratio" and a.deterministic and b.deterministic:
        # Shares such as accuracy: a relative threshold would call 97% and 92.5% "within 5%";
        # the difference in percentage points is what a reader compares.
        points = (a.median - b.median) * 100
        if points == 0:
            return f"{a_name} and {b_name} are equal ({va})"
        n = (a.extra or {}).get("test_samples")
        if isinstance(n, int) and n > 0 and n == (b.extra or {}).get("test_samples"):
            # One evaluation on n samples: say how many samples apart, which is what it means.
            k = round(abs(a.median - b.median) * n)
            return (f"{a_name} ({va}) classifies {k} {'more' if points > 0 else 'fewer'} of the {n} test samples "
                    f"correctly than {b_name} ({vb})")
        return (f"{a_name} ({va}) is {fmt_number(abs(points), 2)} percentage point{'s' if abs(points) != 1 else ''} "
                f"{'higher' if points > 0 else 'lower'} than {b_name} ({vb})")
    found = verdict(a, b, min_effect)
    if found == NOT_RANKED:
        return f"{a_name} measured {va} and {b_name} {vb}"
    if found == NO_CI:
        return (f"{a_name} ({va}) and {b_name} ({vb}) cannot be ranked: fewer than three processes "
                "measured at least one of them")
    if found in (UNCLEAR, WITHIN) and va == vb:
        return (f"{a_name} and {b_name} have the same median ({va})" if a.median == b.median else
                f"{a_name} and {b_name} have medians that round to the same value ({va})")
    if found == UNCLEAR:
        return f"{a_name} ({va}) and {b_name} ({vb}) show no clear difference (their 95% CIs overlap)"
    if found == WITHIN:
        return f"{a_name} ({va}) and {b_name} ({vb}) are within {fmt_number(min_effect * 100)}% of each other"
    verb = "has" if a.unit == "count" else "is"  # "PyTorch (9) has 3.44× fewer than TensorFlow (31)"
    return f"{a_name} ({va}) {verb} {fmt_change(a.median, b.median, a.unit, a.better)} than {b_name} ({vb})"


def describe_params(params: dict[str, Any]) -> str:
    return format_params(params, ", ")
