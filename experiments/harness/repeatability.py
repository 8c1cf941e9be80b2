"""Compare two runs of the suite: the share of ok cases whose medians agree within a tolerance.

    python -m experiments.harness.repeatability results/ build/results-run2/ [--tolerance 0.10]

Cases are matched by experiment and case id. Prints one line per experiment and the total, and
lists the cases that moved most, so a reader can see which measurements are unstable.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Agreement:
    experiment: str
    compared: int
    within: int
    worst: list[tuple[float, str]]

    @property
    def share(self) -> float:
        return self.within / self.compared if self.compared else 1.0


def _ok_medians(path: Path) -> dict[str, float]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return {c["id"]: c["median"] for c in data["cases"] if c["status"] == "ok" and c["median"] is not None}


def compare_files(a: Path, b: Path, tolerance: float) -> Agreement:
    ma, mb = _ok_medians(a), _ok_medians(b)
    common = sorted(set(ma) & set(mb))
    changes = []
    for case_id in common:
        base = max(abs(ma[case_id]), abs(mb[case_id]))
        rel = abs(ma[case_id] - mb[case_id]) / base if base else 0.0
        changes.append((rel, case_id))
    within = sum(1 for rel, _ in changes if rel <= tolerance)
    return Agreement(a.stem, len(common), within, sorted(changes, reverse=True)[:3])


def compare_dirs(a: Path, b: Path, tolerance: float = 0.10) -> list[Agreement]:
    names = sorted({p.name for p in a.glob("*.json")} & {p.name for p in b.glob("*.json")})
    return [compare_files(a / n, b / n, tolerance) for n in names]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m experiments.harness.repeatability", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_a", type=Path)
    p.add_argument("run_b", type=Path)
    p.add_argument("--tolerance", type=float, default=0.10, help="relative difference allowed (default 0.10)")
    args = p.parse_args(argv)
    rows = compare_dirs(args.run_a, args.run_b, args.tolerance)
    if not rows:
        print(f"error: no results files in common between {args.run_a} and {args.run_b}", file=sys.stderr)
        return 1
    for r in rows:
        worst = ", ".join(f"{cid} ({rel:.0%})" for rel, cid in r.worst if rel > args.tolerance)
        print(f"{r.experiment:18} {r.within:4}/{r.compared:<4} within {args.tolerance:.0%}"
              + (f"; most changed: {worst}" if worst else ""))
    within, compared = sum(r.within for r in rows), sum(r.compared for r in rows)
    print(f"{'total':18} {within:4}/{compared:<4} = {within / max(compared, 1):.1%} of ok cases within "
          f"{args.tolerance:.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
