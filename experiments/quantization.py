"""Post-training quantisation on real data: PyTorch dynamic int8 versus LiteRT dynamic range.

Quantisation is where the deployment stories of the two ecosystems differ most. This trains
the benchmark MLP and LSTM (the same classes as everywhere else, sized for scikit-learn's
``load_digits``, which ships with scikit-learn) once in PyTorch, copies the trained weights
into the Keras twins, so both frameworks start from the *same* float model, and then applies
each framework's one-line post-training recipe without calibration data:

* PyTorch: ``torch.ao.quantization.quantize_dynamic(model, {nn.Linear, nn.LSTM}, qint8)``
  (int8 weights, activations quantised on the fly), run eagerly;
* LiteRT: ``tf.lite.TFLiteConverter.from_keras_model`` with ``optimizations=[Optimize.DEFAULT]``
  and no representative dataset (dynamic-range quantisation), run by the LiteRT interpreter.

For float32, int8 and, where the CPU has native bfloat16 (``avx512_bf16`` or ``amx_bf16``),
bfloat16, it records the serialized artifact size, batch-1 latency, test accuracy on the
held-out digits split (evaluated one sample at a time, as the latency is measured, because
dynamic quantisation picks activation scales per call) and the largest absolute difference
of the logits from the PyTorch float32 model. Deprecation warnings the APIs print are recorded
in the notes: they are part of what a user meets.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import tempfile
import warnings
from importlib import metadata
from pathlib import Path

from experiments.harness.api import Measurement, Metric, Task
from experiments.harness.children import child_env, run_python
from results_contract.vocabulary import ARTIFACT_SIZE, LATENCY, MAX_ABS_DIFF

NAME = "quantization"
TITLE = "Post-training quantisation: PyTorch dynamic int8 and LiteRT dynamic range on digits"

MODELS = ("mlp", "lstm")
QUICK_MODELS = ("mlp",)
SPLIT_SEED = 0
TEST_FRACTION = 0.25
TRAIN_BATCH = 32
LR = 1e-3
EPOCHS = {True: 5, False: 20}
# Digits-sized versions of the benchmark models (same classes, other sizes).
MLP_SIZES = {"n_in": 64, "hidden": (256, 128), "classes": 10}
LSTM_SIZES = {"vocab": 256, "seq_len": 8, "embed": 32, "hidden": 64, "classes": 10}
INPUTS = {
    "mlp": "64 pixel intensities / 16 (in [0, 1])",
    "lstm": "8 row tokens: each 8-pixel row binarised (pixel > 7) and read as an 8-bit "
            "integer, vocabulary 256, sequence length 8",
}

# (framework, mode) -> what runs it
VARIANTS = {
    ("pytorch", "float32"): "torch eager, float32",
    ("pytorch", "int8_dynamic"): "torch.ao.quantization.quantize_dynamic({nn.Linear, nn.LSTM}, "
                                 "dtype=torch.qint8), eager",
    ("pytorch", "bfloat16"): "model.to(torch.bfloat16), eager",
    ("litert", "float32"): "TFLiteConverter.from_keras_model, no optimizations; "
                           "ai_edge_litert Interpreter",
    ("litert", "int8_dynamic"): "TFLiteConverter.from_keras_model, optimizations=[DEFAULT], "
                                "no representative dataset; ai_edge_litert Interpreter",
    ("tensorflow", "float32"): "Keras model under tf.function, float32",
    ("tensorflow", "bfloat16"): "Keras model built under dtype policy 'bfloat16', tf.function",
}
BF16_FLAGS = ("avx512_bf16", "amx_bf16")
FORCE_BF16_ENV = "QUANTIZATION_FORCE_BF16"  # development only: run bf16 on a CPU without it

ACCURACY = Metric("accuracy", "ratio", "higher", deterministic=True)
METRICS = (ARTIFACT_SIZE, LATENCY, ACCURACY, MAX_ABS_DIFF)


def tasks(quick: bool) -> list[Task]:
    threads = os.cpu_count() or 1
    out = []
    for model in QUICK_MODELS if quick else MODELS:
        for framework, mode in VARIANTS:
            if quick and framework == "tensorflow":
                continue  # a third worker (TensorFlow import) would push --quick past 30 s
            env = {} if framework == "pytorch" else {"KERAS_BACKEND": "tensorflow"}
            out.append(Task(
                framework=framework, mode=mode, model=model, metrics=METRICS,
                params={"batch_size": 1, "dataset": "digits", "test_fraction": TEST_FRACTION,
                        "split_seed": SPLIT_SEED, "train_epochs": EPOCHS[quick],
                        "train_batch": TRAIN_BATCH, "lr": LR},
                threads=threads, env=env, timeout_s=240))
    return out


# --------------------------------------------------------------------------- data, models


def load_digits_split():
    """(x_train, y_train, x_test, y_test): raw pixels 0..16 as float32, labels int64."""
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=TEST_FRACTION,
                                          random_state=SPLIT_SEED, stratify=y)
    return (xtr.astype(np.float32), ytr.astype(np.int64),
            xte.astype(np.float32), yte.astype(np.int64))


def model_inputs(model: str, pixels):
    """What model ``model`` reads: scaled pixels (MLP) or row tokens (LSTM)."""
    import numpy as np

    if model == "mlp":
        return (pixels / 16.0).astype(np.float32)
    bits = (pixels.reshape(-1, 8, 8) > 7).astype(np.int64)
    return (bits * (2 ** np.arange(8, dtype=np.int64))).sum(-1)


def torch_model(model: str):
    from experiments.models.torch_models import MLP, LSTMClassifier

    if model == "mlp":
        return MLP(MLP_SIZES["n_in"], MLP_SIZES["hidden"], MLP_SIZES["classes"])
    s = LSTM_SIZES
    return LSTMClassifier(s["vocab"], s["embed"], s["hidden"], s["classes"])


def keras_model(model: str, weights: dict, dtype_policy: str | None = None,
                unroll: bool = False):
    """The Keras twin with the trained PyTorch ``weights`` (PyTorch layout).

    ``unroll=True`` builds the LSTM with ``layers.LSTM(unroll=True)``: the project's builder has
    no such argument, and LiteRT's converter needs it (see ``_convert_litert``).
    """
    import keras

    from experiments.models import keras_models

    old = keras.config.dtype_policy()
    if dtype_policy:
        keras.config.set_dtype_policy(dtype_policy)
    try:
        if model == "mlp":
            net = keras_models.mlp(MLP_SIZES["n_in"], MLP_SIZES["hidden"], MLP_SIZES["classes"])
        elif not unroll and not dtype_policy:
            s = LSTM_SIZES
            net = keras_models.lstm(s["vocab"], s["seq_len"], s["embed"], s["hidden"],
                                    s["classes"])
        else:
            # The twin of keras_models.lstm. Under a bfloat16 policy the default orthogonal
            # recurrent initializer fails on TensorFlow (no bfloat16 Qr kernel), so it starts
            # from zeros: the trained weights overwrite it anyway.
            s = LSTM_SIZES
            layers = keras.layers
            init = "zeros" if dtype_policy else "orthogonal"
            net = keras.Sequential([
                keras.Input((s["seq_len"],), dtype="int64"),
                layers.Embedding(s["vocab"], s["embed"], name="embed"),
                layers.LSTM(s["hidden"], name="lstm", unroll=unroll,
                            recurrent_initializer=init),
                layers.Dense(s["classes"], name="head"),
            ], name="lstm")
    finally:
        keras.config.set_dtype_policy(old)
    converted = keras_models.keras_weights(model, weights)
    variables = {v.path.removeprefix(f"{net.name}/"): v for v in net.weights}
    if set(variables) != set(converted):
        raise ValueError(f"{model}: Keras variables {sorted(variables)} do not match "
                         f"{sorted(converted)}")
    for path, value in converted.items():
        variables[path].assign(value.astype("float32"))
    return net


# --------------------------------------------------------------------------- training


def _train_torch(model: str, seed: int, epochs: int) -> dict:
    """Train in PyTorch on one thread (bitwise repeatable); weights and float32 test logits."""
    import numpy as np
    import torch
    from torch import nn

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(seed)
        net = torch_model(model)
        xtr, ytr, xte, _ = load_digits_split()
        x = torch.from_numpy(model_inputs(model, xtr))
        y = torch.from_numpy(ytr)
        optimizer = torch.optim.Adam(net.parameters(), lr=LR)
        loss_fn = nn.CrossEntropyLoss()
        rng = np.random.default_rng(seed + 7919)
        net.train()
        for _ in range(epochs):
            order = torch.from_numpy(rng.permutation(len(x)))
            for i in range(0, len(order), TRAIN_BATCH):
                idx = order[i:i + TRAIN_BATCH]
                optimizer.zero_grad()
                loss_fn(net(x[idx]), y[idx]).backward()
                optimizer.step()
        net.eval()
        with torch.no_grad():
            logits = net(torch.from_numpy(model_inputs(model, xte))).numpy()
    finally:
        torch.set_num_threads(threads)
    out = {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}
    out["__reference_logits__"] = logits
    return out


def _cache_path(model: str, seed: int, epochs: int) -> Path:
    """Trained weights are deterministic, so every worker of a run shares one training."""
    try:
        torch_version = metadata.version("torch")
    except metadata.PackageNotFoundError:
        torch_version = "?"
    key = hashlib.sha256(Path(__file__).read_bytes() + json.dumps(
        [model, seed, epochs, torch_version, metadata.version("scikit-learn")]).encode())
    return (Path(tempfile.gettempdir()) / "pvt-quantization-weights"
            / f"{model}-{key.hexdigest()[:16]}.npz")


def _train_child(argv: list[str]) -> None:
    import numpy as np

    model, seed, epochs, out = argv[0], int(argv[1]), int(argv[2]), argv[3]
    np.savez(out, **_train_torch(model, seed, epochs))


def trained(model: str, seed: int, epochs: int, in_process: bool):
    """(weights, reference float32 logits on the test set), from the cache or by training.

    A PyTorch worker trains in-process; a TensorFlow/LiteRT worker trains in a child
    process, so that it never imports torch next to TensorFlow.
    """
    import numpy as np

    path = _cache_path(model, seed, epochs)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
        if in_process:
            np.savez(tmp, **_train_torch(model, seed, epochs))
        else:
            code = "import importlib, sys; importlib.import_module(sys.argv[1])._train_child(sys.argv[2:])"
            run_python(["-c", code, __name__, model, str(seed), str(epochs), str(tmp)],
                       env=child_env(threads=1), timeout=180, what="training child")
        os.replace(tmp, path)
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    reference = arrays.pop("__reference_logits__")
    return arrays, reference


# --------------------------------------------------------------------------- helpers


def _short(exc: BaseException, lines: int = 4, chars: int = 700) -> str:
    text = " ".join(str(exc).strip().splitlines()[:lines])
    return f"{type(exc).__name__}: {text[:chars]}"


@contextlib.contextmanager
def _warnings_into(notes: list[str], stage: str):
    """Record the distinct warnings ``stage`` raises (first line, shortened) into ``notes``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for w in caught:
        first = str(w.message).strip().splitlines()[0][:300]
        note = f"{stage}: {w.category.__name__}: {first}"
        if note not in notes:
            notes.append(note)


def bf16_support(cpuinfo: str | None = None) -> tuple[bool, str]:
    """(native bfloat16 matmul on this CPU?, the evidence), from /proc/cpuinfo's flags."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return False, "cannot read /proc/cpuinfo"
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    found = [f for f in BF16_FLAGS if f in flags]
    if found:
        return True, f"/proc/cpuinfo flags: {' '.join(found)}"
    isa = [f for f in ("avx512f", "avx2") if f in flags]
    return False, (f"no native bfloat16 on this CPU: /proc/cpuinfo has neither "
                   f"{' nor '.join(BF16_FLAGS)} (best vector ISA: {isa[0] if isa else 'none'}); "
                   "bfloat16 would run emulated through float32, so it is not measured")


def _evaluate(predict, xs, reference, labels):
    """Logits of every test sample, one call each; (accuracy, max |diff|, top-1 agreement)."""
    import numpy as np

    logits = np.concatenate([np.asarray(predict(xs[i:i + 1]), dtype=np.float64)
                             for i in range(len(xs))])
    accuracy = float((logits.argmax(1) == labels).mean())
    diff = float(np.max(np.abs(logits - reference)))
    agree = float((logits.argmax(1) == reference.argmax(1)).mean())
    return accuracy, diff, agree


def _dir_or_file_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# --------------------------------------------------------------------------- variants


def _run_pytorch(task: Task, ctx, weights, notes: list[str], extra: dict):
    import torch
    from torch import nn

    net = torch_model(task.model)
    net.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
    net.eval()
    cast = None
    if task.mode == "int8_dynamic":
        with _warnings_into(notes, "quantize_dynamic"):
            net = torch.ao.quantization.quantize_dynamic(net, {nn.Linear, nn.LSTM},
                                                         dtype=torch.qint8)
        # which layers were swapped (MLP: fc1-3; LSTM: lstm and head, the embedding stays float)
        extra["modules"] = {name: f"{type(m).__module__}.{type(m).__name__}"
                            for name, m in net.named_children()}
        extra["quantized_engine"] = torch.backends.quantized.engine
    elif task.mode == "bfloat16":
        net = net.to(torch.bfloat16)
        if task.model == "mlp":
            cast = torch.bfloat16
    buf = io.BytesIO()
    torch.save(net.state_dict(), buf)
    size = len(buf.getvalue())
    buf.seek(0)
    try:
        with _warnings_into(notes, "torch.load"):
            torch.load(buf)  # the default, weights_only=True, as a user would reload it
        extra["reload_weights_only"] = "ok"
    except Exception as exc:  # noqa: BLE001 - a reload that fails is worth knowing
        text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
        why = next((ln.strip() for ln in text.splitlines() if "WeightsUnpickler" in ln),
                   text.strip().splitlines()[0] if text.strip() else "")
        extra["reload_weights_only"] = f"{type(exc).__name__}: {why[:300]}"
        notes.append("torch.load(state_dict) with the default weights_only=True fails; "
                     "weights_only=False loads it")

    def predict(x):
        t = torch.from_numpy(x)
        if cast is not None:
            t = t.to(cast)
        with torch.inference_mode():
            return net(t).float().numpy()

    extra["artifact"] = "torch.save(state_dict)"
    return size, predict


def _convert_litert(task: Task, weights, notes: list[str], extra: dict) -> bytes:
    import tensorflow as tf

    def convert(net):
        converter = tf.lite.TFLiteConverter.from_keras_model(net)
        if task.mode == "int8_dynamic":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        with contextlib.redirect_stdout(io.StringIO()), _warnings_into(notes, "convert"):
            return converter.convert()

    if task.model != "lstm":
        return convert(keras_model(task.model, weights))
    # Keras 3's LSTM (a symbolic while loop over TensorLists) does not lower to LiteRT
    # builtins with a dynamic batch; record that and convert the unrolled twin.
    try:
        flat = convert(keras_model(task.model, weights))
        extra["lstm_conversion"] = "project Keras LSTM converted as is"
        return flat
    except Exception as exc:  # noqa: BLE001
        msg = str(exc)
        key = next((ln.strip() for ln in msg.splitlines() if "requires element_shape" in ln
                    or "Lowering tensor list ops" in ln), msg.splitlines()[0] if msg else "")
        extra["lstm_conversion"] = ("project Keras LSTM failed: " + type(exc).__name__ + ": "
                                    + key.split("): ")[-1][:300] + "; measured "
                                    "layers.LSTM(unroll=True), same weights")
        notes.append("LiteRT: the Keras 3 LSTM does not convert to builtin ops "
                     "(tf.TensorListReserve needs a static element shape); measured the "
                     "unroll=True twin")
    return convert(keras_model(task.model, weights, unroll=True))


def _run_litert(task: Task, ctx, weights, notes: list[str], extra: dict):
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    flat = _convert_litert(task, weights, notes, extra)
    interp = Interpreter(model_content=flat, num_threads=ctx.threads)
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]
    out = interp.get_output_details()[0]["index"]
    tensors = interp.get_tensor_details()
    by_index = {t["index"]: t for t in tensors}
    extra["int8_tensors"] = sum(1 for t in tensors if t["dtype"] == np.int8)
    ops = interp._get_ops_details()
    extra["tflite_ops"] = sorted({d["op_name"] for d in ops})
    # ops that read int8 tensors: FULLY_CONNECTED with int8 weights is the hybrid kernel
    extra["ops_reading_int8"] = sorted({d["op_name"] for d in ops if any(
        i in by_index and by_index[i]["dtype"] == np.int8 for i in d["inputs"])})
    extra["artifact"] = ".tflite flatbuffer"
    dtype = inp["dtype"]

    def predict(x):
        interp.set_tensor(inp["index"], x.astype(dtype, copy=False))
        interp.invoke()
        return interp.get_tensor(out)

    return len(flat), predict


def _run_tensorflow(task: Task, ctx, weights, notes: list[str], extra: dict):
    import tensorflow as tf

    policy = "bfloat16" if task.mode == "bfloat16" else None
    net = keras_model(task.model, weights, dtype_policy=policy)
    fn = tf.function(lambda x: tf.cast(net(x, training=False), tf.float32))
    with tempfile.TemporaryDirectory(prefix="quant-keras-") as tmp:
        path = Path(tmp) / "model.weights.h5"
        net.save_weights(str(path))
        size = _dir_or_file_bytes(path)
    extra["artifact"] = "keras Model.save_weights (.weights.h5)"
    if policy and task.model == "lstm":
        notes.append("Keras LSTM under the bfloat16 policy built with recurrent_initializer="
                     "'zeros': the default orthogonal initializer fails on TensorFlow (Qr has "
                     "no bfloat16 kernel); the trained weights replace it")
    extra["weight_dtypes"] = sorted({str(v.dtype) for v in net.weights})
    return size, lambda x: fn(tf.constant(x)).numpy()


def run(task: Task, ctx) -> list[Measurement]:
    notes: list[str] = []
    extra: dict = {"runtime": VARIANTS[(task.framework, task.mode)], "input": INPUTS[task.model],
                   "trained_in": "pytorch float32, weights copied to the Keras twin"}
    if task.mode == "bfloat16":
        native, why = bf16_support()
        extra["bf16_evidence"] = why
        if not native and os.environ.get(FORCE_BF16_ENV) != "1":
            return [Measurement(m, [], status="unsupported", error=why, extra=extra)
                    for m in METRICS]
        if not native:
            notes.append(f"FORCED by {FORCE_BF16_ENV}=1 on a CPU without native bfloat16: "
                         "emulated, not a result")

    epochs = int(task.params["train_epochs"])
    weights, reference = trained(task.model, ctx.seed, epochs,
                                 in_process=task.framework == "pytorch")
    extra["weights_checksum"] = float(sum(float(v.astype("float64").sum())
                                          for v in weights.values()))
    _, _, xte, yte = load_digits_split()
    xs = model_inputs(task.model, xte)
    runner = {"pytorch": _run_pytorch, "litert": _run_litert,
              "tensorflow": _run_tensorflow}[task.framework]
    size, predict = runner(task, ctx, weights, notes, extra)

    x1 = xs[:1]
    seconds = ctx.timeit(lambda: predict(x1), per_call=True)
    note = "; ".join(notes) or None
    latency = Measurement(LATENCY, [s * 1e3 for s in seconds], extra=extra, notes=note)
    if ctx.replicate > 0:  # size, accuracy and difference are deterministic: measured once
        return [latency]
    accuracy, diff, agree = _evaluate(predict, xs, reference, yte)
    float_accuracy = float((reference.argmax(1) == yte).mean())
    extra.update(test_samples=int(len(yte)), float32_reference_accuracy=float_accuracy,
                 top1_agreement_with_float32=agree,
                 max_abs_reference_logit=float(abs(reference).max()))
    return [
        Measurement(ARTIFACT_SIZE, [float(size)], extra=extra, notes=note),
        latency,
        Measurement(ACCURACY, [accuracy], extra=extra, notes=note),
        Measurement(MAX_ABS_DIFF, [diff], extra=extra,
                    notes=(note + "; " if note else "") + "vs the PyTorch float32 logits, "
                          "every test sample at batch 1"),
    ]
