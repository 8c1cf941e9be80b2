"""Execution modes shared by the experiments: how each framework runs a model or a step.

PyTorch runs ``eager`` or ``compile`` (``torch.compile``, Inductor, ``dynamic=False``);
TensorFlow runs ``eager`` (a plain Keras call), ``graph`` (``tf.function``) or ``xla``
(``tf.function(jit_compile=True)``). ``MODE_PARAMS`` records the exact setting in every case.

``fresh_inductor`` and ``warm_xla`` let a compile be measured cold (see
``experiments.execution``). Framework imports happen inside the functions. Nothing here
depends on the harness: these are the models' execution modes, usable from any script.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager

import numpy as np

from experiments.models.weights import make_inputs, make_labels, to_channels_last

MODES = {"pytorch": ("eager", "compile"), "tensorflow": ("eager", "graph", "xla")}
# Training adds PyTorch with only the model compiled (the optimizer step runs eagerly), next to
# "compile", which compiles the whole step as tf.function does (see torch_models.make_compiled_train_step).
TRAIN_MODES = {"pytorch": ("eager", "compile", "compile_model"), "tensorflow": ("eager", "graph", "xla")}
COMPILED_MODES = {("pytorch", "compile"), ("pytorch", "compile_model"), ("tensorflow", "graph"),
                  ("tensorflow", "xla")}

MODE_PARAMS = {
    ("pytorch", "eager"): {"compiled": False},
    ("pytorch", "compile"): {"compiled": True, "backend": "inductor", "dynamic": False},
    ("pytorch", "compile_model"): {"compiled": True, "backend": "inductor", "dynamic": False},
    ("pytorch", "eager_cl"): {"compiled": False, "memory_format": "channels_last"},
    ("tensorflow", "eager"): {"compiled": False, "tf_function": False},
    ("tensorflow", "graph"): {"compiled": True, "tf_function": True, "jit_compile": False},
    ("tensorflow", "xla"): {"compiled": True, "tf_function": True, "jit_compile": True},
}

# Inductor compiles kernels in a pool of worker processes that start (importing torch) in the
# background and steal the measured cores for seconds after the first call; on 2 cores that
# slows the "steady state" for several steps. One in-process compile thread avoids it. It
# must be set before torch is imported, so it goes in the worker's environment.
TASK_ENV = {("pytorch", mode): {"TORCHINDUCTOR_COMPILE_THREADS": "1"} for mode in ("compile", "compile_model")}

@contextmanager
def fresh_inductor(empty_cache: bool = True):
    """Fresh dynamo state and, if ``empty_cache``, a private empty Inductor cache.

    Quick runs keep the shared on-disk cache (``empty_cache=False``) so that re-runs are fast;
    their compile times are then not cold.
    """
    import torch
    import torch._inductor.config as inductor_config

    torch._dynamo.reset()
    # Compile in-process: a pool of compile workers would compete for the measured cores.
    inductor_config.compile_threads = 1
    torch.compile(lambda t: t * 2 + 1, dynamic=False)(torch.zeros(4))  # one-time start-up
    old = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    cache = tempfile.mkdtemp(prefix="inductor-") if empty_cache else None
    if cache:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = cache
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("TORCHINDUCTOR_CACHE_DIR", None)
        else:
            os.environ["TORCHINDUCTOR_CACHE_DIR"] = old
        if cache:
            shutil.rmtree(cache, ignore_errors=True)


def dynamo_graphs() -> int:
    """Graphs dynamo captured since ``fresh_inductor`` (0: the model ran eagerly)."""
    import torch

    return int(torch._dynamo.utils.counters["stats"]["unique_graphs"])


def warm_xla() -> None:
    """Pay XLA's one-time start-up outside the measured compile."""
    import tensorflow as tf

    tf.function(lambda t: t * 2.0 + 1.0, jit_compile=True)(tf.zeros(4))


def tf_device(device: str) -> str:
    return "/GPU:0" if device == "cuda" else "/CPU:0"


def torch_batch(name: str, batch_size: int, seed: int, device: str, labels: bool = False):
    """Inputs (and labels) as PyTorch tensors on ``device``."""
    import torch

    x = torch.from_numpy(make_inputs(name, batch_size, seed)).to(device)
    if not labels:
        return x
    return x, torch.from_numpy(make_labels(name, batch_size, seed)).to(device)


def tf_batch(name: str, batch_size: int, seed: int, device: str, labels: bool = False):
    """The same inputs (NHWC for images) and labels as TensorFlow tensors on ``device``."""
    import tensorflow as tf

    with tf.device(tf_device(device)):
        x = tf.constant(to_channels_last(name, make_inputs(name, batch_size, seed)))
        if not labels:
            return x
        return x, tf.constant(make_labels(name, batch_size, seed))


def torch_predict(name: str, mode: str, device: str):
    """A no-grad prediction function ``f(x) -> logits`` for a PyTorch mode."""
    import torch

    from experiments.models.torch_models import build_torch

    model = build_torch(name, device=device).eval()
    if mode == "compile":
        model = torch.compile(model, dynamic=False)
    elif mode == "eager_cl":  # NHWC in memory, as Keras lays images out: one line in PyTorch
        model = model.to(memory_format=torch.channels_last)
    elif mode != "eager":
        raise ValueError(f"unknown PyTorch mode {mode!r}")

    def predict(x):
        with torch.inference_mode():
            return model(x)

    return predict


def tf_predict(name: str, mode: str, device: str):
    """A prediction function ``f(x) -> logits`` for a TensorFlow mode (Keras model inside)."""
    import tensorflow as tf

    from experiments.models.keras_models import build_keras, compile_fn

    with tf.device(tf_device(device)):
        model = build_keras(name)
    return compile_fn(lambda x: model(x, training=False), mode)


def tf_call(fn, *args, device: str = "cpu"):
    """``(call, sync)``: ``call()`` runs ``fn(*args)``; ``sync`` waits for its last result.

    TensorFlow has no device barrier, so on a GPU ``sync`` reads the last result back;
    on the CPU ops finish before they return and ``sync`` is ``None`` (use ``ctx.sync``).
    """
    last = []

    def call():
        last[:] = [fn(*args)]

    def sync():
        if last:
            np.asarray(last[0])

    return call, (sync if device == "cuda" else None)
