"""A case's identity, written one way: ``framework/mode/model/metric/k=v,...``.

Parameters are sorted by key and joined as ``k=v`` with commas; the same text is used in ids,
progress lines, error messages and tables, so a reader can grep for what they see.
"""

from __future__ import annotations

from typing import Any, Mapping


def format_params(params: Mapping[str, Any], sep: str = ",") -> str:
    """``batch_size=1,threads=2``: keys sorted, values as ``str()`` writes them."""
    return sep.join(f"{k}={v}" for k, v in sorted(params.items()))


def case_id(framework: str, mode: str, model: str, metric: str, params: Mapping[str, Any]) -> str:
    """The id of one case, unique within its results file."""
    return f"{framework}/{mode}/{model}/{metric}/{format_params(params)}"


def short_id(framework: str, mode: str, model: str, metric: str) -> str:
    """The id without parameters, for messages that name a group of cases."""
    return f"{framework}/{mode}/{model}/{metric}"
