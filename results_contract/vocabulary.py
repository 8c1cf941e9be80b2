"""The words both sides of the contract use: frameworks, modes, statuses, units and metrics.

One registry, as pyperf's ``METADATA``: each unit says how a value is written and which words
compare two values; each metric says its unit, which direction is better and whether it is
deterministic (measured once, so it carries no confidence interval). Experiments declare their
metrics from here, the harness records them, and the report formats and compares them by the
same entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Better = Literal["higher", "lower", "none"]

FRAMEWORKS = ("pytorch", "tensorflow", "onnxruntime", "litert", "keras")
STATUSES = ("ok", "failed", "unsupported")
BETTER = ("higher", "lower", "none")

# A case is "noisy" when its CI half-width exceeds this share of its median.
NOISE_THRESHOLD = 0.05
# A process measured while other processes kept more than this many cores busy on average
# (``runs[i].load.other_cpu_cores``) was disturbed from outside the suite.
BUSY_OTHER_CORES = 0.25
# Two runs' medians of a case agree when they are within this share of each other (the
# repeatability benchmark, ``build.py compare``); a process this much slower than its case's
# median is counted as a slow process.
REPEAT_TOLERANCE = 0.10
# Bands of hypervisor steal (cores taken from the guest, ``runs[i].load.steal_cores``) over
# which the paper reports how much slower processes ran.
STEAL_BANDS = (0.0, 0.05, 0.2)

FRAMEWORK_NAMES = {
    "pytorch": "PyTorch",
    "tensorflow": "TensorFlow",
    "onnxruntime": "ONNX Runtime",
    "litert": "LiteRT",
    "keras": "Keras",
}
# How the paper writes the models' ids in prose, tables and charts.
MODEL_NAMES = {"mlp": "MLP", "cnn": "CNN", "transformer": "Transformer", "lstm": "LSTM", "gemm": "GEMM"}

# What each framework's own tutorials run: PyTorch eagerly; Keras fit/predict run the model as a
# tf.function by default (run_eagerly=False). The paper's "default vs default" pairing.
DEFAULT_MODES = {"pytorch": "eager", "tensorflow": "graph"}

MODE_NAMES = {
    "eager": "eager",
    "compile": "torch.compile",
    "compile_model": "torch.compile (model only)",
    "eager_cl": "eager with channels_last",
    "graph": "tf.function",
    "xla": "XLA",
    # Deployment paths (the framework is the runtime that loads the artefact).
    "torchscript": "TorchScript",
    "torch_export": "torch.export",
    "executorch": "ExecuTorch",
    "savedmodel": "SavedModel",
    "litert": "LiteRT",
    "litert_static": "(batch fixed at one)",
    "onnx": "(exported from PyTorch)",
    "keras_onnx": "(exported from Keras)",
}


@dataclass(frozen=True)
class Unit:
    """How a unit is written and compared: ``kind`` decides the words of a comparison."""

    name: str
    kind: Literal["time", "rate", "size", "score", "count"]
    symbol: str          # printed after the number ("" for pure numbers)

    def words(self, better: Better) -> tuple[str, str]:
        """(better word, worse word): "faster"/"slower", "smaller"/"larger", "higher"/"lower"."""
        if self.kind in ("time", "rate"):
            return ("faster", "slower")
        if better == "lower":
            return ("smaller", "larger")
        return ("higher", "lower")


UNITS = {u.name: u for u in (
    Unit("s", "time", "s"), Unit("ms", "time", "ms"), Unit("us", "time", "µs"),
    Unit("µs", "time", "µs"), Unit("ns", "time", "ns"),
    Unit("samples/s", "rate", "samples/s"), Unit("GFLOP/s", "rate", "GFLOP/s"),
    Unit("bytes", "size", ""), Unit("MiB", "size", "MiB"),
    Unit("ratio", "score", ""), Unit("fraction", "score", ""), Unit("abs", "score", ""),
    Unit("logit", "score", ""), Unit("%", "score", "%"), Unit("x", "score", "×"),
    Unit("count", "count", ""), Unit("lines", "count", "lines"), Unit("epochs", "count", "epochs"),
)}


def unit(name: str) -> Unit:
    """The registered unit, or a plain number-and-symbol unit for one not registered."""
    return UNITS.get(name) or Unit(name, "score", name)


@dataclass(frozen=True)
class Metric:
    """A quantity an experiment reports. ``deterministic`` metrics (sizes, counts, differences
    of outputs) are measured once and carry no confidence interval."""

    name: str
    unit: str
    better: Better = "lower"
    deterministic: bool = False


# Metrics experiments use; declare them from here so the words and statistics agree.
LATENCY = Metric("latency", "ms", "lower")
THROUGHPUT = Metric("throughput", "samples/s", "higher")
COMPILE_TIME = Metric("compile_time", "s", "lower")
ARTIFACT_SIZE = Metric("artifact_size", "bytes", "lower", deterministic=True)
CONVERT_TIME = Metric("convert_time", "s", "lower")
LOAD_TIME = Metric("load_time", "s", "lower")
MAX_ABS_DIFF = Metric("max_abs_diff", "abs", "lower", deterministic=True)
MAX_ABS_LOGIT_DIFF = Metric("max_abs_diff", "logit", "lower", deterministic=True)
MAX_REL_DIFF = Metric("max_rel_diff", "fraction", "lower", deterministic=True)
LABEL_AGREEMENT = Metric("label_agreement", "fraction", "higher", deterministic=True)
IMPORT_TIME = Metric("import_time", "s", "lower")
FIRST_PREDICTION = Metric("first_prediction", "s", "lower")
GFLOPS = Metric("gflops", "GFLOP/s", "higher")
FRACTION_OF_PEAK = Metric("fraction_of_peak", "ratio", "higher")
THEORETICAL_PEAK = Metric("theoretical_peak", "GFLOP/s", "none", deterministic=True)
TIMER_TIME = Metric("time", "us", "lower")
BLOCK_TIME = Metric("block_time", "us", "lower")
BLOCK_SPREAD = Metric("block_spread", "x", "lower")
PREDICT_THROUGHPUT = Metric("predict_throughput", "samples/s", "higher")
TRAIN_THROUGHPUT = Metric("train_throughput", "samples/s", "higher")
PEAK_RSS = Metric("peak_rss", "MiB", "lower")
PEAK_RSS_OVER_IMPORT = Metric("peak_rss_over_import", "MiB", "lower")
PEAK_RSS_OVER_RUNTIME = Metric("peak_rss_over_runtime", "MiB", "lower")
WALL_TIME = Metric("wall_time", "s", "lower")
EPOCHS = Metric("epochs", "epochs", "lower")
EPOCH_TIME = Metric("epoch_time", "s", "lower")
FINAL_ACCURACY = Metric("final_accuracy", "ratio", "higher")
LOC = Metric("loc", "lines", "lower", deterministic=True)
INSTALL_SIZE = Metric("install_size", "MiB", "lower", deterministic=True)
INSTALL_SIZE_WITH_DEPS = Metric("install_size_with_deps", "MiB", "lower", deterministic=True)
DEPENDENCIES = Metric("dependencies", "count", "lower", deterministic=True)

METRICS: dict[tuple[str, str], Metric] = {
    (m.name, m.unit): m for m in globals().values() if isinstance(m, Metric)}


def is_deterministic(name: str, unit_name: str) -> bool:
    """Whether a recorded (metric, unit) pair is one measured once, without a CI."""
    found = METRICS.get((name, unit_name))
    return bool(found and found.deterministic)
