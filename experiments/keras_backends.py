"""Keras 3 across backends: the same model code on TensorFlow, PyTorch and JAX.

Keras 3 is a multi-backend front end, so "Keras vs PyTorch" is no longer "TensorFlow vs
PyTorch": the same ``keras.Model`` can run on any of them. This runs the benchmark models,
built once with the shared weights, under ``KERAS_BACKEND=tensorflow``, ``torch`` and ``jax``
in separate workers, and measures what a Keras user sees: batch-1 latency through
``predict_on_batch``, ``predict`` throughput at batch 256 and ``fit`` throughput. Separate
tasks check that the torch and JAX backends compute the same logits as TensorFlow.
``jit_compile`` is set explicitly per backend: False for TensorFlow (on CPU Keras's
``"auto"`` already turns XLA off) and for torch (True would mean ``torch.compile``, which
needs a C compiler at run time); True for JAX, which is what ``"auto"`` picks there: JAX
without ``jax.jit`` dispatches every op eagerly, which no JAX user does.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from experiments.harness.api import Measurement, Task
from experiments.harness.children import child_env, run_python
from results_contract.vocabulary import LATENCY, MAX_ABS_DIFF, PREDICT_THROUGHPUT, TRAIN_THROUGHPUT

NAME = "keras_backends"
TITLE = "Keras 3 on the TensorFlow and PyTorch backends"

MODELS = ("mlp", "cnn")
QUICK_MODELS = ("mlp",)
BACKENDS = ("tensorflow", "torch", "jax")
JIT_COMPILE = {"tensorflow": False, "torch": False, "jax": True}
# Backends whose logits are compared with TensorFlow's (one agreement task each; --quick
# checks torch only, to stay near its old run time).
AGREEMENT_BACKENDS = ("torch", "jax")
PREDICT_BATCH = 256
TRAIN_BATCH = 64
AGREEMENT_BATCH = 16

PERF = (LATENCY, PREDICT_THROUGHPUT, TRAIN_THROUGHPUT)
AGREEMENT = (MAX_ABS_DIFF,)


def tasks(quick: bool) -> list[Task]:
    steps = 4 if quick else 16
    threads = os.cpu_count() or 1
    out = []
    for model in QUICK_MODELS if quick else MODELS:
        for backend in BACKENDS:
            out.append(Task(
                framework="keras", mode=f"backend_{backend}", model=model,
                params={"backend": backend, "jit_compile": JIT_COMPILE[backend],
                        "latency_batch_size": 1, "latency_api": "predict_on_batch",
                        "predict_batch_size": PREDICT_BATCH, "train_batch_size": TRAIN_BATCH,
                        "train_steps": steps, "train_api": "fit(epochs=1, shuffle=False)",
                        "optimizer": "adam"},
                threads=threads, env=_backend_env(backend), metrics=PERF))
        # Agreement runs in a torch- or JAX-backend worker and asks a fresh TF-backend child
        # for its logits: one process cannot hold two Keras backends.
        for backend in AGREEMENT_BACKENDS[:1] if quick else AGREEMENT_BACKENDS:
            # The torch case keeps the released mode name, so its results stay comparable.
            mode = "backend_agreement" if backend == "torch" else f"backend_agreement_{backend}"
            out.append(Task(framework="keras", mode=mode, model=model,
                            params={"backends": f"{backend} vs tensorflow",
                                    "batch_size": AGREEMENT_BATCH,
                                    "jit_compile": JIT_COMPILE[backend]},
                            threads=threads, env=_backend_env(backend), rounds=1,
                            timeout_s=180, metrics=AGREEMENT))
    return out


def _backend_env(backend: str) -> dict[str, str]:
    """The worker environment for ``backend``.

    The harness fixes torch's and TensorFlow's thread pools but knows nothing of JAX. XLA:CPU
    sizes its pool from the cores it sees, which equals ``threads`` here (``os.cpu_count()``).
    XLA has no flag for "N threads"; it can only be made single-threaded, before jax is
    imported, with ``XLA_FLAGS=--xla_cpu_multi_thread_eigen=false
    intra_op_parallelism_threads=1`` (a bare ``intra_op_parallelism_threads=N`` is read as a
    flag *file* name and aborts the process).
    """
    env = {"KERAS_BACKEND": backend}
    if backend == "jax" and (os.cpu_count() or 1) == 1:
        env["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    return env


def _build(model_name: str, seed: int):
    from experiments.models import weights
    from experiments.models.keras_models import build_keras

    return build_keras(model_name, weights.init_weights(model_name, seed))


def _inputs(model_name: str, batch: int, seed: int):
    from experiments.models import weights

    return weights.to_channels_last(model_name, weights.make_inputs(model_name, batch, seed))


def _check_backend(expected: str) -> None:
    import keras

    if keras.backend.backend() != expected:
        raise RuntimeError(f"Keras runs on {keras.backend.backend()!r}, expected {expected!r} "
                           "(KERAS_BACKEND must be set before keras is imported)")


def _versions() -> dict:
    """Keras, its backend and, for JAX, jax/jaxlib (the harness's environment record does not
    list them), plus whether TensorFlow got loaded into a non-TensorFlow worker."""
    import keras

    out = {"keras": keras.__version__, "backend": keras.backend.backend()}
    if out["backend"] == "jax":
        import jax
        import jaxlib

        out.update(jax=jax.__version__, jaxlib=jaxlib.__version__,
                   jax_devices=[str(d) for d in jax.devices()],
                   xla_flags=os.environ.get("XLA_FLAGS"))
    if out["backend"] != "tensorflow":
        out["tensorflow_imported"] = "tensorflow" in sys.modules
    return out


def _run_perf(task: Task, ctx) -> list[Measurement]:
    import keras

    from experiments.models import weights
    from experiments.models.keras_models import ADAM_EPSILON

    _check_backend(task.params["backend"])
    model = _build(task.model, ctx.seed)
    model.compile(optimizer=keras.optimizers.Adam(1e-3, epsilon=ADAM_EPSILON),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=task.params["jit_compile"])

    x1 = _inputs(task.model, 1, ctx.seed)
    latency = ctx.timeit(lambda: model.predict_on_batch(x1), per_call=True)

    xb = _inputs(task.model, PREDICT_BATCH, ctx.seed)
    predict = ctx.timeit(lambda: model.predict(xb, batch_size=PREDICT_BATCH, verbose=0))

    n = TRAIN_BATCH * int(task.params["train_steps"])
    xt = _inputs(task.model, n, ctx.seed)
    yt = weights.make_labels(task.model, n, ctx.seed)
    model.fit(xt[:TRAIN_BATCH], yt[:TRAIN_BATCH], batch_size=TRAIN_BATCH, verbose=0)  # trace
    train = ctx.timeit(lambda: model.fit(xt, yt, batch_size=TRAIN_BATCH, epochs=1,
                                         shuffle=False, verbose=0))
    versions = _versions()
    return [
        Measurement(LATENCY, [s * 1e3 for s in latency], extra=versions,
                    notes="model.predict_on_batch on one sample, one call per sample"),
        Measurement(PREDICT_THROUGHPUT, [PREDICT_BATCH / s for s in predict], extra=versions,
                    notes=f"model.predict(batch_size={PREDICT_BATCH}) on {PREDICT_BATCH} samples"),
        Measurement(TRAIN_THROUGHPUT, [n / s for s in train], extra=versions,
                    notes=f"model.fit(epochs=1) over {n} samples in batches of {TRAIN_BATCH} "
                          "(Adam, cross-entropy); warm-up fits (tracing) are not timed"),
    ]


_CHILD = """
import sys
import numpy as np
from experiments.keras_backends import _build, _check_backend, _inputs
_check_backend("tensorflow")
model = _build(sys.argv[1], int(sys.argv[2]))
np.save(sys.argv[3], model.predict_on_batch(_inputs(sys.argv[1], int(sys.argv[4]), int(sys.argv[2]))))
"""


def _run_agreement(task: Task, ctx) -> list[Measurement]:
    import numpy as np

    backend = task.params["backends"].split(" vs ")[0]
    _check_backend(backend)
    model = _build(task.model, ctx.seed)
    ours = np.asarray(model.predict_on_batch(_inputs(task.model, AGREEMENT_BATCH, ctx.seed)))
    env = child_env(threads=ctx.threads, extra={"KERAS_BACKEND": "tensorflow"})
    env.pop("XLA_FLAGS", None)
    with tempfile.TemporaryDirectory(prefix="keras-agree-") as tmp:
        out = Path(tmp) / "tf.npy"
        run_python(["-c", _CHILD, task.model, str(ctx.seed), str(out), str(AGREEMENT_BATCH)], env=env,
                   timeout=170, what="TensorFlow-backend child")
        theirs = np.load(out)
    diff = float(np.max(np.abs(ours.astype(np.float64) - theirs)))
    return [Measurement(MAX_ABS_DIFF, [diff],
                        extra={"max_abs_logit": float(np.max(np.abs(theirs))), **_versions()},
                        notes=f"max |logits({backend} backend) - logits(tensorflow backend)| "
                              f"over {AGREEMENT_BATCH} inputs, same weights, predict_on_batch")]


def run(task: Task, ctx) -> list[Measurement]:
    if task.mode.startswith("backend_agreement"):
        return _run_agreement(task, ctx)
    return _run_perf(task, ctx)
