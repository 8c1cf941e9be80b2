"""The paper's one comparison rule: ``headline`` pairs fastest with fastest and default with
default (never a hand-picked pair), and a direction needs non-overlapping process-level CIs *and*
a gap of at least ``min_effect``."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from report.document import DocumentState
from report.errors import Problems
from report.formatting import compare_sentence, verdict
from report.helpers import Helpers, Sources
from report.results import Case, load_results
from results_contract import dump
from results_contract.stats import summarize
from support import FIXTURE

BASE = json.loads((FIXTURE / "results" / "fixture-host" / "latency.json").read_text())

# model -> framework -> mode -> median latency (ms). TF eager is the slowest mode: a rule that
# compared PyTorch eager with TF eager (what the old abstract did) would give another answer.
LATENCY = {
    "cnn": {"pytorch": {"eager": 2.0, "compile": 1.0}, "tensorflow": {"eager": 9.0, "graph": 1.5, "xla": 1.2}},
    "mlp": {"pytorch": {"eager": 1.00, "compile": 1.40}, "tensorflow": {"eager": 5.0, "graph": 1.03, "xla": 1.30}},
}


def _case(fw: str, mode: str, model: str, centre: float, spread: float = 0.002) -> dict:
    case = copy.deepcopy(BASE["cases"][0])
    case.update(id=f"{fw}/{mode}/{model}/latency/batch_size=1", framework=fw, mode=mode, model=model)
    case.update(summarize([[centre * (1 + spread * k) for k in (-1, 0, 1)] for _ in range(5)]))
    return case


def _helpers(tmp_path: Path, table: dict) -> Helpers:
    doc = copy.deepcopy(BASE)
    doc.update(experiment="inference", cases=[_case(fw, mode, model, v) for model, fws in table.items()
                                               for fw, modes in fws.items() for mode, v in modes.items()])
    dump(doc, tmp_path / "results" / "host" / "inference.json")
    problems = Problems()
    results = load_results(tmp_path / "results", problems, tmp_path)
    assert not problems.errors
    return Helpers(Sources(tmp_path, results, bib=None), problems, DocumentState())


def test_fastest_pairs_each_frameworks_best_mode_and_default_pairs_the_tutorial_modes(tmp_path):
    h = _helpers(tmp_path, LATENCY)
    cnn = h.headline("inference", "latency", model="cnn")
    assert (cnn.fastest.a.mode, cnn.fastest.b.mode) == ("compile", "xla")
    assert cnn.fastest.verdict == "better"
    assert cnn.fastest.sentence.startswith("PyTorch torch.compile (1 ms) is 20% faster than TensorFlow XLA")
    assert (cnn.default.a.mode, cnn.default.b.mode) == ("eager", "graph")  # Keras fit/predict: tf.function
    assert cnn.default.verdict == "worse" and "33% slower than TensorFlow tf.function" in cnn.default.sentence
    value, lo, hi = cnn.fastest.speedup
    assert value == pytest.approx(1.2) and lo < 1.2 < hi


def test_a_gap_below_the_threshold_is_within_even_with_separate_cis(tmp_path):
    h = _helpers(tmp_path, LATENCY)
    mlp = h.headline("inference", "latency", model="mlp")
    a, b = mlp.default.a, mlp.default.b  # 1.00 ms against 1.03 ms, each CI about ±0.2%
    assert a.ci95[1] < b.ci95[0]  # the intervals do not overlap ...
    assert mlp.default.verdict == "within"  # ... but 3% is under min_effect = 5%
    assert "are within 5% of each other" in mlp.default.sentence


def test_tally_counts_models_per_direction(tmp_path):
    h = _helpers(tmp_path, LATENCY)
    assert h.tally("inference", "latency")["pytorch"] == ["cnn"]
    assert h.tally("inference", "latency", rule="default")["within"] == ["mlp"]
    assert h.tally("inference", "latency", rule="default")["tensorflow"] == ["cnn"]


def test_which_of_accepts_a_one_pass_iterator(tmp_path):
    """Templates pass filter output (``kdiff | unique``, a generator): every member must count."""
    h = _helpers(tmp_path, LATENCY)
    assert h.which_of(iter(["mlp", "cnn"]), ["cnn", "mlp", "lstm"]) == "the CNN and the MLP"
    assert h.which_of(["mlp"], ["cnn", "mlp", "lstm"], article=False) == "MLP"
    assert h.which_of((m for m in ["cnn", "mlp"]), ["cnn", "mlp"]) == "both models"


def test_perturbation_flips_the_headline(tmp_path):
    table = copy.deepcopy(LATENCY)
    table["cnn"]["tensorflow"]["xla"] = 0.5
    flipped = _helpers(tmp_path, table).headline("inference", "latency", model="cnn")
    assert flipped.fastest.verdict == "worse" and "2× slower than TensorFlow XLA" in flipped.fastest.sentence


def _pair(a_centre, b_centre, a_spread=0.002, b_spread=0.002, deterministic=False):
    def one(fw, centre, spread):
        data = _case(fw, "eager", "mlp", centre, spread)
        if deterministic:
            data.update(summarize([[centre]], deterministic=True), deterministic=True)
        return Case.from_dict("inference", Path("results/inference.json"), data)
    return one("pytorch", a_centre, a_spread), one("tensorflow", b_centre, b_spread)


@pytest.mark.parametrize("a,b,min_effect,expected", [
    (1.0, 1.10, 0.05, "better"),     # 10% apart, separate CIs
    (1.0, 1.04, 0.05, "within"),     # separate CIs, but only 4% apart
    (1.0, 1.04, 0.03, "better"),     # the same gap passes a 3% threshold
    (1.10, 1.0, 0.05, "worse"),
])
def test_effect_threshold(a, b, min_effect, expected):
    assert verdict(*_pair(a, b), min_effect=min_effect) == expected


def test_overlapping_cis_are_unclear_whatever_the_gap():
    assert verdict(*_pair(1.0, 1.2, a_spread=0.3, b_spread=0.3)) == "unclear"


def test_fewer_than_three_processes_cannot_be_ranked():
    a, b = _pair(1.0, 2.0)
    short = Case.from_dict("inference", Path("x.json"), {**_case("pytorch", "eager", "mlp", 1.0),
                                                         **summarize([[1.0, 1.0], [1.0, 1.0]])})
    assert short.ci95 is None and verdict(short, b) == "no_ci"
    assert "cannot be ranked" in compare_sentence(short, b)


def test_deterministic_metrics_are_compared_against_the_threshold_directly():
    assert verdict(*_pair(100.0, 103.0, deterministic=True)) == "within"
    assert verdict(*_pair(100.0, 150.0, deterministic=True)) == "better"


def test_shares_such_as_accuracy_compare_in_percentage_points():
    """A relative threshold would call 97% against 92.5% "within 5%"; shares differ in points."""
    import dataclasses

    a, b = (dataclasses.replace(c, unit="ratio") for c in _pair(0.97, 0.925, deterministic=True))
    sentence = compare_sentence(a, b, "int8", "float32")
    assert "4.5 percentage points higher than float32" in sentence and "within" not in sentence
    assert "equal" in compare_sentence(a, a, "int8", "float32")


def test_failure_reasons_are_words_for_known_classes_and_cut_otherwise(tmp_path):
    h = _helpers(tmp_path, LATENCY)
    flex = "load failed: RuntimeError: ai_edge_litert: Select TensorFlow op(s), included in the given model, is(are) not"
    assert "(s)" not in h.failure_reason(flex) and "Flex" in h.failure_reason(flex)
    long = "ValueError: " + "x" * 1000
    assert len(h.failure_reason(long)) == h.error_chars and h.failure_reason(long).endswith("...")
    assert h.failure_reason(None) == "no reason recorded"
