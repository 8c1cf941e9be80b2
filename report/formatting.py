"""Numbers, units and comparison sentences, all computed from results cases.

The prose never states a measured value or a direction by hand: it calls these through the
template helpers, so the words change when the data does. Two cases whose 95% CIs overlap
are reported as "no clear difference".
"""

from __future__ import annotations

import math
from typing import Any

from report.results import Case

FRAMEWORK_NAMES = {
    "pytorch": "PyTorch",
    "tensorflow": "TensorFlow",
    "onnxruntime": "ONNX Runtime",
    "litert": "LiteRT",
    "keras": "Keras",
}
MODE_NAMES = {
    "eager": "eager",
    "compile": "torch.compile",
    "graph": "tf.function",
    "xla": "XLA",
}
TIME_UNITS = {"s", "ms", "us", "µs", "ns"}
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
    if unit in ("", "1", "count", "fraction", "ratio", "abs"):
        return fmt_number(x)
    if unit in ("x", "×"):
        return f"{fmt_number(x)}×"
    if unit == "%":
        return f"{fmt_number(x)}%"
    return f"{fmt_number(x)} {unit}"


def fmt_range(lo: float, hi: float, unit: str) -> str:
    if unit == "bytes":
        return f"{fmt_bytes(lo)}–{fmt_bytes(hi)}"
    return f"{fmt_number(lo)}–{fmt_quantity(hi, unit)}"


def case_label(case: Case) -> str:
    """A reader's name for a case: framework plus mode, e.g. "PyTorch torch.compile"."""
    fw = FRAMEWORK_NAMES.get(case.data["framework"], case.data["framework"])
    mode = MODE_NAMES.get(case.data["mode"], case.data["mode"].replace("_", " "))
    return f"{fw} {mode}"


def fmt_case(case: Case, *, stat: str = "median", ci: bool = True) -> str:
    """"0.123 ms (95% CI 0.120–0.125)", or "n/a (reason)" for a case that did not run."""
    if not case.ok:
        return f"n/a ({case.data['status']}: {case.data.get('error') or 'no reason recorded'})"
    value = case.data.get(stat)
    if value is None:
        return f"n/a ({stat} not recorded)"
    text = fmt_quantity(value, case.data["unit"])
    lo_hi = case.data.get("ci95")
    if ci and stat == "median" and lo_hi and case.data.get("n", len(case.data["samples"])) > 1:
        text += f" (95% CI {fmt_range(lo_hi[0], lo_hi[1], case.data['unit'])})"
    return text


def cis_overlap(a: Case, b: Case) -> bool:
    (alo, ahi), (blo, bhi) = a.data["ci95"], b.data["ci95"]
    return alo <= bhi and blo <= ahi


def ratio(a: Case, b: Case) -> float | None:
    """How many times better ``a`` is than ``b`` (>1 means a is better), or None."""
    if not (a.ok and b.ok) or not a.data["median"] or not b.data["median"]:
        return None
    if a.data["better"] == "lower":
        return b.data["median"] / a.data["median"]
    return a.data["median"] / b.data["median"]


def _adjectives(case: Case) -> tuple[str, str]:
    if case.data["better"] == "lower":
        return ("faster", "slower") if case.data["unit"] in TIME_UNITS else ("smaller", "larger")
    if case.data["unit"].endswith("/s"):  # throughputs: samples/s, GFLOP/s
        return ("faster", "slower")
    return ("higher", "lower")


def compare_sentence(a: Case, b: Case, a_name: str | None = None, b_name: str | None = None) -> str:
    """A one-clause comparison whose direction and size come from the data."""
    a_name, b_name = a_name or case_label(a), b_name or case_label(b)
    if not a.ok and not b.ok:
        return f"neither {a_name} nor {b_name} produced a result ({fmt_case(a)}; {fmt_case(b)})"
    if not a.ok or not b.ok:
        good, bad, bad_case = (a_name, b_name, b) if a.ok else (b_name, a_name, a)
        return f"{good} produced a result while {bad} did not ({fmt_case(bad_case)})"
    va = fmt_quantity(a.data["median"], a.data["unit"])
    vb = fmt_quantity(b.data["median"], b.data["unit"])
    if a.data["better"] == "none":
        return f"{a_name} measured {va} and {b_name} {vb}"
    if cis_overlap(a, b):
        return f"{a_name} ({va}) and {b_name} ({vb}) show no clear difference (their 95% CIs overlap)"
    r = ratio(a, b)
    better, worse = _adjectives(a)
    if r >= 1:
        return f"{a_name} ({va}) is {fmt_number(r)}× {better} than {b_name} ({vb})"
    return f"{a_name} ({va}) is {fmt_number(1 / r)}× {worse} than {b_name} ({vb})"


def describe_params(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(params.items()))
