"""Deployment paths: export a trained model, reload it, and check what the artifact costs.

A framework is only as deployable as its export paths. For each path (TorchScript,
``torch.export``, ONNX from PyTorch, SavedModel, LiteRT and ONNX from Keras) this converts the
same-weights model, writes the artifact to a temporary directory, loads it back in the
runtime that serves it, and records: artifact size, conversion time, load time, batch-1
latency after reload, and the largest absolute difference from the source model's logits.
A path that breaks is recorded as failed with the stage and the exception: that is a result.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import time
import warnings
from pathlib import Path

from experiments.harness.api import Measurement, Task
from results_contract.vocabulary import ARTIFACT_SIZE, CONVERT_TIME, LATENCY, LOAD_TIME, MAX_ABS_DIFF

NAME = "deployment"
TITLE = "Deployment paths: conversion, artifact size, load time, latency and agreement"

MODELS = ("mlp", "cnn", "transformer", "lstm")
QUICK_MODELS = ("mlp",)
AGREEMENT_INPUTS = 8  # batch-1 inputs compared against the source model

# mode -> (framework, source framework, runtime)
PATHS = {
    "torchscript": ("pytorch", "pytorch", "torch.jit.load"),
    "torch_export": ("pytorch", "pytorch", "torch.export.load(...).module()"),
    "onnx": ("onnxruntime", "pytorch", "onnxruntime.InferenceSession"),
    "savedmodel": ("tensorflow", "keras", "tf.saved_model.load serving_default"),
    "litert": ("litert", "keras", "ai_edge_litert.interpreter.Interpreter"),
    "keras_onnx": ("onnxruntime", "keras", "onnxruntime.InferenceSession"),
}

METRICS = (ARTIFACT_SIZE, CONVERT_TIME, LOAD_TIME, LATENCY, MAX_ABS_DIFF)
BY_NAME = {m.name: m for m in METRICS}


def tasks(quick: bool) -> list[Task]:
    out = []
    for model in QUICK_MODELS if quick else MODELS:
        for mode, (framework, source, runtime) in PATHS.items():
            # Keras paths get their own worker (no torch in the process) via the env key.
            env = {"KERAS_BACKEND": "tensorflow"} if source == "keras" else {}
            out.append(Task(framework=framework, mode=mode, model=model,
                            params={"batch_size": 1, "source": source, "runtime": runtime},
                            threads=os.cpu_count() or 1, env=env, rounds=1 if quick else 2,
                            timeout_s=300, metrics=METRICS))
    return out


def _dir_bytes(path: Path) -> int:
    """Size of a file, or of every file under a directory (SavedModel, ONNX external data)."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _short(exc: BaseException, lines: int = 3, chars: int = 600) -> str:
    """The exception's type and the first lines of its message (graph dumps can be huge)."""
    text = " ".join(str(exc).strip().splitlines()[:lines])
    return f"{type(exc).__name__}: {text[:chars]}"


class _Stages:
    """Runs the stages of one path; after a failure the remaining metrics say where and why."""

    def __init__(self):
        self.results: dict[str, Measurement] = {}
        self.failure: str | None = None
        self.notes: list[str] = []
        self.extra: dict = {}

    def timed(self, metric: str, stage: str, fn):
        if self.failure:
            return None
        try:
            with warnings.catch_warnings(record=True) as caught, \
                    contextlib.redirect_stdout(io.StringIO()):
                warnings.simplefilter("always")
                start = time.perf_counter()
                value = fn()
                elapsed = time.perf_counter() - start
        except Exception as exc:  # noqa: BLE001 - the failure is the measurement
            self.failure = f"{stage} failed: {_short(exc)}"
            return None
        for w in caught:
            note = f"{stage} warned: {str(w.message)[:300]}"
            if "deprecat" in note.lower() and note not in self.notes:
                self.notes.append(note)
        self.results[metric] = Measurement(BY_NAME[metric], [elapsed])
        return value

    def convert_and_load(self, artifact_dir: Path, convert, load):
        """Time the conversion, size what it wrote, then time loading it back."""
        self.timed("convert_time", "convert", convert)
        if not self.failure:
            self.ok("artifact_size", [float(_dir_bytes(artifact_dir))])
        return self.timed("load_time", "load", load)

    def ok(self, metric: str, samples: list[float]) -> None:
        if not self.failure:
            self.results[metric] = Measurement(BY_NAME[metric], samples)

    def finish(self) -> list[Measurement]:
        out = []
        for m in METRICS:
            got = self.results.get(m.name)
            if got is None:
                got = Measurement(m, [], status="failed",
                                  error=self.failure or "not measured")
            got.extra = dict(self.extra) or None
            got.notes = "; ".join(self.notes) or None
            out.append(got)
        return out


def _torch_path(task: Task, ctx, tmp: Path, st: _Stages):
    import torch

    from experiments.models import weights
    from experiments.models.torch_models import build_torch

    model = build_torch(task.model, weights.init_weights(task.model, ctx.seed)).eval()
    xs = weights.make_inputs(task.model, AGREEMENT_INPUTS, ctx.seed)
    example = (torch.from_numpy(xs[:1]),)
    with torch.no_grad():
        ref = model(torch.from_numpy(xs)).numpy()

    if task.mode == "torchscript":
        path = tmp / "model.pt"

        def convert():
            try:
                scripted = torch.jit.trace(model, example)
                st.extra["api"] = "torch.jit.trace + ScriptModule.save"
            except Exception as exc:  # noqa: BLE001 - the documented alternative is script
                st.notes.append(f"torch.jit.trace failed ({_short(exc)}); used torch.jit.script; "
                                 "convert_time includes the failed trace")
                scripted = torch.jit.script(model)
                st.extra["api"] = "torch.jit.script + ScriptModule.save"
            scripted.save(str(path))
        load = lambda: torch.jit.load(str(path)).eval()  # noqa: E731
    elif task.mode == "torch_export":
        path = tmp / "model.pt2"

        def convert():
            torch.export.save(torch.export.export(model, example), str(path))
        st.extra["api"] = "torch.export.export + torch.export.save"
        load = lambda: torch.export.load(str(path)).module()  # noqa: E731
    else:  # onnx via the default exporter of this torch version
        path = tmp / "model.onnx"

        def convert():
            torch.onnx.export(model, example, str(path), input_names=["x"],
                              output_names=["logits"])
        st.extra["api"] = f"torch.onnx.export (torch {torch.__version__} default exporter)"
        load = lambda: _ort_session(path, ctx)  # noqa: E731

    loaded = st.convert_and_load(tmp, convert, load)
    if st.failure:
        return
    if task.mode == "onnx":
        predict = _ort_predict(loaded)
    else:
        def predict(x):
            with torch.no_grad():
                return loaded(torch.from_numpy(x)).numpy()
    _latency_and_agreement(predict, xs, ref, ctx, st)


def _ort_session(path: Path, ctx):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = ctx.threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def _ort_predict(session):
    name = session.get_inputs()[0].name
    return lambda x: session.run(None, {name: x})[0]


def _keras_path(task: Task, ctx, tmp: Path, st: _Stages):
    import numpy as np

    from experiments.models import weights
    from experiments.models.keras_models import build_keras

    model = build_keras(task.model, weights.init_weights(task.model, ctx.seed))
    xs = weights.to_channels_last(task.model,
                                  weights.make_inputs(task.model, AGREEMENT_INPUTS, ctx.seed))
    ref = np.asarray(model(xs, training=False))

    if task.mode == "savedmodel":
        path = tmp / "saved_model"
        st.extra["api"] = "keras Model.export(format='tf_saved_model')"
        convert = lambda: model.export(str(path), format="tf_saved_model", verbose=False)  # noqa: E731

        def load():
            import tensorflow as tf

            return tf.saved_model.load(str(path)).signatures["serving_default"]
    elif task.mode == "litert":
        path = tmp / "model.tflite"

        def convert():
            try:
                model.export(str(path), format="litert", verbose=False)
                st.extra["api"] = "keras Model.export(format='litert')"
            except Exception as exc:  # noqa: BLE001 - fall back to the TF converter
                import tensorflow as tf

                st.notes.append(f"Model.export(format='litert') failed ({_short(exc)}); "
                                "used tf.lite.TFLiteConverter")
                path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
                st.extra["api"] = "tf.lite.TFLiteConverter.from_keras_model"

        def load():
            from ai_edge_litert.interpreter import Interpreter

            interp = Interpreter(model_path=str(path), num_threads=ctx.threads)
            interp.allocate_tensors()
            return interp
        st.extra["interpreter"] = "ai_edge_litert.interpreter.Interpreter"
    else:  # keras_onnx
        path = tmp / "model.onnx"
        st.extra["api"] = "keras Model.export(format='onnx')"
        convert = lambda: model.export(str(path), format="onnx", verbose=False)  # noqa: E731
        load = lambda: _ort_session(path, ctx)  # noqa: E731

    loaded = st.convert_and_load(tmp, convert, load)
    if st.failure:
        return
    if task.mode == "savedmodel":
        import tensorflow as tf

        def predict(x):
            (out,) = loaded(tf.constant(x)).values()
            return out.numpy()
    elif task.mode == "litert":
        inp = loaded.get_input_details()[0]["index"]
        out = loaded.get_output_details()[0]["index"]

        def predict(x):
            loaded.set_tensor(inp, x)
            loaded.invoke()
            return loaded.get_tensor(out)
    else:
        predict = _ort_predict(loaded)
    _latency_and_agreement(predict, xs, ref, ctx, st)


def _latency_and_agreement(predict, xs, ref, ctx, st: _Stages) -> None:
    """Batch-1 latency of the reloaded artifact and its worst deviation on AGREEMENT_INPUTS."""
    import numpy as np

    try:
        outs = np.concatenate([np.asarray(predict(xs[i:i + 1])) for i in range(len(xs))])
        st.ok("max_abs_diff", [float(np.max(np.abs(outs.astype(np.float64) - ref)))])
        x1 = xs[:1]
        seconds = ctx.timeit(lambda: predict(x1), per_call=True)
        st.ok("latency", [s * 1e3 for s in seconds])
    except Exception as exc:  # noqa: BLE001
        st.failure = f"inference failed: {_short(exc)}"


def run(task: Task, ctx) -> list[Measurement]:
    st = _Stages()
    st.extra["device"] = "cpu"
    with tempfile.TemporaryDirectory(prefix=f"deploy-{task.mode}-") as tmp:
        if PATHS[task.mode][1] == "pytorch":
            _torch_path(task, ctx, Path(tmp), st)
        else:
            _keras_path(task, ctx, Path(tmp), st)
    return st.finish()
