"""Deployment paths: export a trained model, reload it, and check what the artifact costs.

A framework is only as deployable as its export paths. For each path (TorchScript,
``torch.export``, ONNX from PyTorch, ExecuTorch with the XNNPACK delegate, SavedModel, LiteRT and
ONNX from Keras) this converts the
same-weights model, writes the artifact to a temporary directory, loads it back in the
runtime that serves it, and records: artifact size, conversion time, load time, batch-1
latency after reload, and the largest absolute difference from the source model's logits.
A path that breaks is recorded as failed with the stage and the exception: that is a result.

Each path is one row of ``PATHS``: how to convert, how to load, how to predict. Latency is
timed NumPy in, NumPy out (what a serving process does with a request), and says so in its
parameters (``boundary``).
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from experiments.harness.api import Measurement, Task
from results_contract.vocabulary import ARTIFACT_SIZE, CONVERT_TIME, LATENCY, LOAD_TIME, MAX_ABS_DIFF

NAME = "deployment"
TITLE = "Deployment paths: conversion, artifact size, load time, latency and agreement"

MODELS = ("mlp", "cnn", "transformer", "lstm")
QUICK_MODELS = ("mlp",)
AGREEMENT_INPUTS = 8  # batch-1 inputs compared against the source model

METRICS = (ARTIFACT_SIZE, CONVERT_TIME, LOAD_TIME, LATENCY, MAX_ABS_DIFF)
BY_NAME = {m.name: m for m in METRICS}

Notes = list[str]


# --- how each path converts, loads and predicts ------------------------------------------------

def _short(exc: BaseException, lines: int = 3, chars: int = 600) -> str:
    """The exception's type and the first lines of its message (graph dumps can be huge)."""
    text = " ".join(str(exc).strip().splitlines()[:lines])
    return f"{type(exc).__name__}: {text[:chars]}"


def _torchscript_convert(model, example, target: Path, notes: Notes) -> str:
    import torch

    try:
        scripted = torch.jit.trace(model, example)
        api = "torch.jit.trace + ScriptModule.save"
    except Exception as exc:  # noqa: BLE001 - the documented alternative is script
        notes.append(f"torch.jit.trace failed ({_short(exc)}); used torch.jit.script; "
                     "convert_time includes the failed trace")
        scripted = torch.jit.script(model)
        api = "torch.jit.script + ScriptModule.save"
    scripted.save(str(target))
    return api


def _torch_export_convert(model, example, target: Path, notes: Notes) -> str:
    import torch

    torch.export.save(torch.export.export(model, example), str(target))
    return "torch.export.export + torch.export.save"


def _torch_onnx_convert(model, example, target: Path, notes: Notes) -> str:
    import torch

    torch.onnx.export(model, example, str(target), input_names=["x"], output_names=["logits"])
    return f"torch.onnx.export (torch {torch.__version__} default exporter)"


def _executorch_convert(model, example, target: Path, notes: Notes) -> str:
    import torch
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    edge = to_edge_transform_and_lower(torch.export.export(model, example), partitioner=[XnnpackPartitioner()])
    target.write_bytes(edge.to_executorch().buffer)
    return "torch.export.export + exir.to_edge_transform_and_lower(XnnpackPartitioner) + to_executorch"


def _keras_export(fmt: str) -> Callable[..., str]:
    def convert(model, example, target: Path, notes: Notes) -> str:
        model.export(str(target), format=fmt, verbose=False)
        return f"keras Model.export(format='{fmt}')"
    return convert


def _litert_convert(model, example, target: Path, notes: Notes) -> str:
    try:
        return _keras_export("litert")(model, example, target, notes)
    except Exception as exc:  # noqa: BLE001 - fall back to the TF converter
        import tensorflow as tf

        notes.append(f"Model.export(format='litert') failed ({_short(exc)}); used tf.lite.TFLiteConverter")
        target.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
        return "tf.lite.TFLiteConverter.from_keras_model"


def _litert_static_convert(model, example, target: Path, notes: Notes) -> str:
    """The Keras export with the batch fixed at 1: the LSTM's TensorList ops then lower to
    builtins, so the file runs without the Flex delegate (which no interpreter here ships)."""
    import tensorflow as tf

    shape = (1, *model.inputs[0].shape[1:])
    model.export(str(target), format="litert", verbose=False,
                 input_signature=[tf.TensorSpec(shape, model.inputs[0].dtype)])
    return "keras Model.export(format='litert', input_signature=[TensorSpec((1, ...))])"


def _torch_load(target: Path, ctx):
    import torch

    return torch.jit.load(str(target)).eval()


def _torch_export_load(target: Path, ctx):
    import torch

    return torch.export.load(str(target)).module()


def _ort_load(target: Path, ctx):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = ctx.threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(target), opts, providers=["CPUExecutionProvider"])


def _executorch_load(target: Path, ctx):
    from executorch.extension.pybindings import portable_lib
    from executorch.runtime import Runtime

    portable_lib._unsafe_reset_threadpool(ctx.threads)  # XNNPACK's pool: the task's threads
    return Runtime.get().load_program(target).load_method("forward")


def _savedmodel_load(target: Path, ctx):
    import tensorflow as tf

    return tf.saved_model.load(str(target)).signatures["serving_default"]


def _litert_load(target: Path, ctx):
    """LiteRT's interpreter; for a model with Select TensorFlow ops, full TensorFlow's own
    tf.lite.Interpreter is tried as the fallback (it would link the Flex delegate), and a
    failure names both attempts."""
    from ai_edge_litert.interpreter import Interpreter

    try:
        interp = Interpreter(model_path=str(target), num_threads=ctx.threads)
        interp.allocate_tensors()
        return interp
    except RuntimeError as exc:
        if "Select TensorFlow op" not in str(exc):
            raise
        first = "ai_edge_litert: " + str(exc).split(". Make sure")[0][:160]
    try:
        import warnings

        import tensorflow as tf

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "tf.lite.Interpreter is deprecated"
            interp = tf.lite.Interpreter(model_path=str(target), num_threads=ctx.threads)
        interp.allocate_tensors()
    except Exception as exc:  # noqa: BLE001 - both attempts are the recorded failure
        second = str(exc).split(". Make sure")[0][:200]
        raise RuntimeError(f"{first}; fallback tf.lite.Interpreter (full TensorFlow): "
                           f"{type(exc).__name__}: {second}") from None
    raise _FallbackUsed(interp)


class _FallbackUsed(Exception):
    """tf.lite.Interpreter loaded a model ai_edge_litert could not: a different runtime than the
    path names, so it is recorded as such rather than timed under the LiteRT label."""

    def __init__(self, interp):
        super().__init__("ai_edge_litert could not load the model (Select TensorFlow ops); full TensorFlow's "
                         "tf.lite.Interpreter could, and is not the runtime this path measures")
        self.interp = interp


def _torch_predict(loaded):
    """Under ``torch.inference_mode()``, the context the inference experiment times eager PyTorch
    in, so the two compare like for like (``DeploymentPath.grad_mode``, recorded as
    ``extra.grad_mode``)."""
    import torch

    def predict(x):
        with torch.inference_mode():
            return loaded(torch.from_numpy(x)).numpy()
    return predict


def _executorch_predict(method):
    import torch

    return lambda x: method.execute([torch.from_numpy(x)])[0].numpy()


def _ort_predict(session):
    name = session.get_inputs()[0].name
    return lambda x: session.run(None, {name: x})[0]


def _savedmodel_predict(signature):
    """Call the signature by keyword, as it is declared: a positional call works too, but
    TensorFlow first formats a failed-binding error that prints the whole input (3 ms for a
    784-value input)."""
    import tensorflow as tf

    (name,) = signature.structured_input_signature[1]

    def predict(x):
        (out,) = signature(**{name: tf.constant(x)}).values()
        return out.numpy()
    return predict


def _litert_predict(interp):
    inp = interp.get_input_details()[0]["index"]
    out = interp.get_output_details()[0]["index"]

    def predict(x):
        interp.set_tensor(inp, x)
        interp.invoke()
        return interp.get_tensor(out)
    return predict


@dataclass(frozen=True)
class DeploymentPath:
    """One way to ship a model: the case's framework (the serving runtime's), the framework the
    model comes from, the runtime that loads it, and the three steps."""

    framework: str
    source: str                                  # "pytorch" or "keras"
    runtime: str
    artifact: str                                # file or folder name written
    convert: Callable[[Any, Any, Path, Notes], str]   # returns the API used
    load: Callable[[Path, Any], Any]
    predict: Callable[[Any], Callable]           # loaded -> f(numpy batch) -> numpy logits
    grad_mode: str | None = None                 # the autograd context predict runs under, if any


PATHS = {
    "torchscript": DeploymentPath("pytorch", "pytorch", "torch.jit.load", "model.pt",
                                  _torchscript_convert, _torch_load, _torch_predict,
                                  grad_mode="torch.inference_mode"),
    "torch_export": DeploymentPath("pytorch", "pytorch", "torch.export.load(...).module()", "model.pt2",
                                   _torch_export_convert, _torch_export_load, _torch_predict,
                                   grad_mode="torch.inference_mode"),
    "onnx": DeploymentPath("onnxruntime", "pytorch", "onnxruntime.InferenceSession", "model.onnx",
                           _torch_onnx_convert, _ort_load, _ort_predict),
    "executorch": DeploymentPath("pytorch", "pytorch", "executorch.runtime.Runtime (XNNPACK delegate)",
                                 "model.pte", _executorch_convert, _executorch_load, _executorch_predict),
    "savedmodel": DeploymentPath("tensorflow", "keras", "tf.saved_model.load serving_default", "saved_model",
                                 _keras_export("tf_saved_model"), _savedmodel_load, _savedmodel_predict),
    "litert": DeploymentPath("litert", "keras", "ai_edge_litert.interpreter.Interpreter", "model.tflite",
                             _litert_convert, _litert_load, _litert_predict),
    "keras_onnx": DeploymentPath("onnxruntime", "keras", "onnxruntime.InferenceSession", "model.onnx",
                                 _keras_export("onnx"), _ort_load, _ort_predict),
    "litert_static": DeploymentPath("litert", "keras", "ai_edge_litert.interpreter.Interpreter", "model.tflite",
                                    _litert_static_convert, _litert_load, _litert_predict),
}
# Paths tried only where the default one fails: LiteRT with a static batch for the LSTM.
ONLY_FOR = {"litert_static": ("lstm",)}


def tasks(quick: bool) -> list[Task]:
    out = []
    for model in QUICK_MODELS if quick else MODELS:
        for mode, path in PATHS.items():
            if model not in ONLY_FOR.get(mode, (model,)):
                continue
            # Keras paths get their own worker (no torch in the process) via the env key.
            env = {"KERAS_BACKEND": "tensorflow"} if path.source == "keras" else {}
            out.append(Task(framework=path.framework, mode=mode, model=model,
                            params={"batch_size": 1, "source": path.source, "runtime": path.runtime,
                                    "boundary": "numpy"},
                            threads=os.cpu_count() or 1, env=env,
                            timeout_s=300, metrics=METRICS))
    return out


# --- the source models -------------------------------------------------------------------------

def _torch_source(model_name: str, seed: int):
    """(model, example input, inputs, reference logits) from the PyTorch twin."""
    import torch

    from experiments.models import weights
    from experiments.models.torch_models import build_torch

    model = build_torch(model_name, weights.init_weights(model_name, seed)).eval()
    xs = weights.make_inputs(model_name, AGREEMENT_INPUTS, seed)
    with torch.no_grad():
        ref = model(torch.from_numpy(xs)).numpy()
    return model, (torch.from_numpy(xs[:1]),), xs, ref


def _keras_source(model_name: str, seed: int):
    """(model, None, inputs, reference logits) from the Keras twin (NHWC inputs for images)."""
    import numpy as np

    from experiments.models import weights
    from experiments.models.keras_models import build_keras

    model = build_keras(model_name, weights.init_weights(model_name, seed))
    xs = weights.to_channels_last(model_name, weights.make_inputs(model_name, AGREEMENT_INPUTS, seed))
    return model, None, xs, np.asarray(model(xs, training=False))


SOURCES = {"pytorch": _torch_source, "keras": _keras_source}


# --- running the stages ------------------------------------------------------------------------

def _dir_bytes(path: Path) -> int:
    """Size of a file, or of every file under a directory (SavedModel, ONNX external data)."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


class _Stages:
    """Runs the stages of one path; after a failure the remaining metrics say where and why."""

    def __init__(self):
        self.results: dict[str, Measurement] = {}
        self.failure: str | None = None
        self.notes: Notes = []
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

    def ok(self, metric: str, samples: list[float]) -> None:
        if not self.failure:
            self.results[metric] = Measurement(BY_NAME[metric], samples)

    def finish(self) -> list[Measurement]:
        out = []
        for m in METRICS:
            got = self.results.get(m.name)
            if got is None:
                got = Measurement(m, [], status="failed", error=self.failure or "not measured")
            got.extra = dict(self.extra) or None
            got.notes = "; ".join(self.notes) or None
            out.append(got)
        return out


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


# Findings of the anomaly investigation, recorded with the cases they explain.
NOTES = {
    "executorch": "investigated on amd-epyc-67ccf1 (AVX2; docs/investigations.md): per call, the Python binding (Method.execute) and the NumPy <-> tensor conversions cost a fixed amount "
                  "independent of the model (a one-operation program takes many times as long as under LiteRT's invoke); "
                  "the model's own XNNPACK execution is about as fast as LiteRT's for the MLP. CNN: the convolutions use "
                  "the same XNNPACK igemm microkernel as LiteRT, but this build spills one accumulator to the stack in "
                  "its inner loop (perf, objdump), so one conv+ReLU takes several times as long; the global mean "
                  "pool is not delegated. Transformer: layer norm, embedding and mask ops are not delegated and run "
                  "in ExecuTorch's own kernels between many XNNPACK parts, over half of the time (perf)",
    "savedmodel": "the signature is called by keyword, as declared; a positional call also works but first formats "
                  "a failed-binding TypeError that prints the whole input (milliseconds for a 784-value input)",
    "litert_static": "exported with a fixed batch of one: the Keras LSTM's TensorList ops then lower to builtins and "
                     "the model loads without the Flex delegate, which neither ai_edge_litert nor TensorFlow's own "
                     "(deprecated) tf.lite.Interpreter ships in this version",
}


def run(task: Task, ctx) -> list[Measurement]:
    path = PATHS[task.mode]
    st = _Stages()
    if task.mode in NOTES:
        st.notes.append(NOTES[task.mode])
    st.extra["device"] = "cpu"
    if path.grad_mode:
        st.extra["grad_mode"] = path.grad_mode
    model, example, xs, ref = SOURCES[path.source](task.model, ctx.seed)
    with tempfile.TemporaryDirectory(prefix=f"deploy-{task.mode}-") as tmp:
        target = Path(tmp) / path.artifact
        api = st.timed("convert_time", "convert", lambda: path.convert(model, example, target, st.notes))
        if api:
            st.extra["api"] = api
            st.ok("artifact_size", [float(_dir_bytes(Path(tmp)))])
        loaded = st.timed("load_time", "load", lambda: path.load(target, ctx))
        if not st.failure:
            _latency_and_agreement(path.predict(loaded), xs, ref, ctx, st)
    return st.finish()
