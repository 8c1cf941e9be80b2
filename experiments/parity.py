"""Numerical parity: do the PyTorch and TensorFlow models compute the same logits?

Every speed comparison in the paper assumes the two implementations are the same model.
This checks it: with the shared weights and one shared batch, each TensorFlow mode (plain
Keras call, ``tf.function``, XLA) is compared with PyTorch eager, and PyTorch under
``torch.compile`` with TensorFlow eager. Both frameworks run in the same worker process.
"""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np

from experiments.harness import Measurement, Task
from experiments.harness.framework_setup import configure_threads
from experiments.models.modes import MODE_PARAMS, MODES, TASK_ENV
from experiments.models.weights import MODELS
from results_contract.vocabulary import LABEL_AGREEMENT, MAX_ABS_LOGIT_DIFF, MAX_REL_DIFF

NAME = "parity"
TITLE = "Numerical parity of the PyTorch and TensorFlow models"

METRICS = (MAX_ABS_LOGIT_DIFF, MAX_REL_DIFF, LABEL_AGREEMENT)
REFERENCE = {"tensorflow": ("pytorch", "eager"), "pytorch": ("tensorflow", "eager")}
REL_NOTES = "max |a - b| divided by the largest |logit| of the reference (not element-wise)"


def tasks(quick: bool) -> list[Task]:
    batch_size = 32 if quick else 256
    out = []
    for model in MODELS:
        for framework, modes in MODES.items():
            for mode in modes:
                if (framework, mode) == ("pytorch", "eager"):
                    continue  # the reference of the TensorFlow modes
                if quick and mode == "compile" and model != "mlp":
                    continue  # keep --quick under a minute: one Inductor compile
                ref_fw, ref_mode = REFERENCE[framework]
                params = {"batch_size": batch_size, "reference": f"{ref_fw}/{ref_mode}",
                          **MODE_PARAMS[(framework, mode)]}
                out.append(Task(framework, mode, model, METRICS, params, threads=2, rounds=1,
                                env=TASK_ENV.get((framework, mode), {})))
    return out


def _logits(framework: str, mode: str, model: str, batch_size: int, ctx) -> np.ndarray:
    from experiments.models import modes

    if framework == "pytorch":
        with modes.fresh_inductor(empty_cache=False) if mode == "compile" else nullcontext():
            predict = modes.torch_predict(model, mode, ctx.device)
            out = predict(modes.torch_batch(model, batch_size, ctx.seed, ctx.device))
            return out.detach().cpu().numpy().astype(np.float64)
    predict = modes.tf_predict(model, mode, ctx.device)
    return np.asarray(predict(modes.tf_batch(model, batch_size, ctx.seed, ctx.device)),
                      dtype=np.float64)


def compare(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Differences of logits ``a`` from reference logits ``b`` (both (batch, classes))."""
    diff = float(np.max(np.abs(a - b)))
    scale = float(np.max(np.abs(b)))
    return {"max_abs_diff": diff, "max_rel_diff": diff / scale if scale > 0 else diff,
            "label_agreement": float(np.mean(a.argmax(1) == b.argmax(1)))}


def run(task: Task, ctx) -> list[Measurement]:
    bs = int(task.params["batch_size"])
    ref_fw, ref_mode = task.params["reference"].split("/")
    configure_threads(ref_fw, ctx.threads, strict=False)  # the worker fixed only this task's framework
    ours = _logits(task.framework, task.mode, task.model, bs, ctx)
    ref = _logits(ref_fw, ref_mode, task.model, bs, ctx)
    scores = compare(ours, ref)
    extra = {"reference_max_abs_logit": float(np.max(np.abs(ref))), "batch_size": bs}
    return [Measurement(metric, [scores[metric.name]], extra=extra,
                        notes=REL_NOTES if metric is MAX_REL_DIFF else None)
            for metric in METRICS]

