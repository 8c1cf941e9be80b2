"""Fuzz the input loaders with random bytes and mutations of valid inputs for N seconds.

    python scripts/fuzz_loaders.py [seconds] [seed]

Every input must either load or be refused with the project's own one-line problems; any other
exception is a bug and is printed with the input that caused it (exit 1).
"""

from __future__ import annotations

import random
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from report.bibliography import format_entries, parse_bibliography  # noqa: E402
from report.errors import Problems, UserError  # noqa: E402
from report.results import parse_results_text  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "project"
SEEDS = {
    "results": [p.read_text() for p in sorted((FIXTURE / "results").glob("*.json"))],
    "bib": [(FIXTURE / "references.bib").read_text()],
}
SPLICE = ['NaN', '1e999', '-1', '""', '{', '}', '[', ']', ',', ':', '"\\u0000"', 'null', 'true', '0', '\\',
          '@misc{', '@string{x = "', '\\"o', '{\\foo', '$', '%', '<script>', '&', '\n', 'and others', '10.1/x']


def mutate(text: str, rng: random.Random) -> str:
    data = list(text)
    for _ in range(rng.randint(1, 8)):
        op = rng.randrange(5)
        pos = rng.randrange(len(data) + 1)
        if op == 0 and data:
            del data[pos % len(data): pos % len(data) + rng.randint(1, 20)]
        elif op == 1:
            data[pos:pos] = list(rng.choice(SPLICE))
        elif op == 2 and data:
            data[pos % len(data)] = chr(rng.randrange(0, 0x3000))
        elif op == 3 and data:  # duplicate a chunk
            start = rng.randrange(len(data))
            data[pos:pos] = data[start:start + rng.randint(1, 200)]
        else:
            data = data[:pos]  # truncate
    return "".join(data)


def check_results(text: str) -> None:
    problems = Problems()
    data = parse_results_text(text, "results/x.json", problems)
    if data is None:
        assert problems.errors and all("\n" not in e and e.startswith("results/x.json") for e in problems.errors)


def check_bib(text: str) -> None:
    problems = Problems()
    entries = parse_bibliography(text, "refs.bib", problems)
    assert all("\n" not in m for m in problems.errors + problems.warnings)
    if entries and not problems.errors:
        format_entries(entries, list(entries)[:5], "ieee")


def main(seconds: float = 20.0, seed: int = 0) -> int:
    rng = random.Random(seed)
    counts = {"results": 0, "bib": 0}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        kind = rng.choice(["results", "results", "bib"])
        if rng.random() < 0.1:
            text = bytes(rng.randrange(256) for _ in range(rng.randrange(200))).decode("utf-8", "replace")
        else:
            text = mutate(rng.choice(SEEDS[kind]), rng)
        try:
            (check_results if kind == "results" else check_bib)(text)
        except UserError:
            pass
        except Exception:
            print(f"BUG on {kind} input {text[:500]!r}", file=sys.stderr)
            traceback.print_exc()
            return 1
        counts[kind] += 1
    print(f"fuzzed {sum(counts.values())} inputs in {seconds:.0f} s "
          f"({counts['results']} results, {counts['bib']} bibliography), no crashes")
    return 0


if __name__ == "__main__":
    sys.exit(main(float(sys.argv[1]) if len(sys.argv) > 1 else 20.0, int(sys.argv[2]) if len(sys.argv) > 2 else 0))
