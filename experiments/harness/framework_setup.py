"""Fix a framework's thread pools before its first op, and find the device it runs on.

Thread pools can only be sized before the first op (TF refuses afterwards, torch's inter-op
pool too), so the worker calls ``configure_threads`` once, before the first task. It imports a
framework only when the task's framework needs it: the parent process and ONNX Runtime workers
never pay for importing torch or TensorFlow.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

# Environment variables the parent sets for a worker with a fixed thread count. They must be
# set before the process starts: OpenMP and MKL read them once, at load time.
THREAD_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                   "NUMEXPR_NUM_THREADS", "TF_NUM_INTRAOP_THREADS")


def thread_env(threads: int | None) -> dict[str, str]:
    """The environment that pins native thread pools to ``threads`` (nothing when None)."""
    if threads is None:
        return {}
    env = {name: str(threads) for name in THREAD_ENV_VARS}
    env["TF_NUM_INTEROP_THREADS"] = "1"
    return env


@dataclass
class DeviceInfo:
    """Where the worker's tasks run: ``device`` is ``"cpu"`` or ``"cuda"``."""

    device: str = "cpu"
    name: str = "cpu"          # the CUDA device name on a GPU, for the environment record
    sync: Callable[[], None] = field(default=lambda: None)


def frameworks_to_import(framework: str) -> tuple[str, ...]:
    """Which Python frameworks own the thread pools a task of ``framework`` uses."""
    if framework == "pytorch":
        return ("torch",)
    if framework in ("tensorflow", "litert"):
        return ("tensorflow",)
    if framework == "keras":
        backend = os.environ.get("KERAS_BACKEND", "tensorflow")
        return {"torch": ("torch",), "tensorflow": ("tensorflow",)}.get(backend, ())
    return ()  # onnxruntime (tasks pass ctx.threads to SessionOptions) and anything else


def _configure_torch(threads: int | None, strict: bool = True) -> DeviceInfo:
    import torch

    if threads is not None:
        torch.set_num_threads(threads)
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:  # already started by an earlier import; intra-op is what matters
            pass
    if torch.cuda.is_available():
        return DeviceInfo("cuda", torch.cuda.get_device_name(0), torch.cuda.synchronize)
    return DeviceInfo()


def _configure_tensorflow(threads: int | None, strict: bool = True) -> DeviceInfo:
    import tensorflow as tf

    if threads is not None:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:  # TensorFlow already ran an op: its pools are fixed
            if strict:
                raise
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return DeviceInfo("cuda", str(details.get("device_name", "GPU")))
    return DeviceInfo()


def configure_threads(framework: str, threads: int | None, strict: bool = True) -> DeviceInfo:
    """Size ``framework``'s thread pools (intra-op ``threads``, inter-op 1); detect the device.

    The one place thread pools are sized: the worker calls it before its first task; an
    experiment that also runs a second framework in the same process (parity) calls it with
    ``strict=False``, which tolerates pools that are already fixed."""
    info = DeviceInfo()
    for name in frameworks_to_import(framework):
        info = _configure_torch(threads, strict) if name == "torch" else _configure_tensorflow(threads, strict)
    return info
