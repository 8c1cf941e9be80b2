"""Framework-neutral model specs, inputs, labels and initial weights, in plain numpy.

Both frameworks must start from the *same* numbers, or a speed or accuracy comparison
measures two different models. So the weights are drawn once, here, with numpy, and each
framework's builder converts them to its own layout. The arrays use PyTorch's
``state_dict`` names and layouts (Linear ``(out, in)``, Conv2d ``OIHW``, LSTM gates
``i, f, g, o`` with two biases); ``keras_models`` transposes them. Nothing here imports a
framework, so the parent process and the report can read the specs.
"""

from __future__ import annotations

import math

import numpy as np

MODELS = ("mlp", "cnn", "transformer", "lstm")

_SPECS = {
    # MNIST-shaped multilayer perceptron.
    "mlp": {"input_shape": (784,), "keras_input_shape": (784,), "dtype": "float32",
            "classes": 10, "hidden": (256, 128)},
    # CIFAR-shaped convnet; PyTorch takes NCHW, Keras NHWC (the same array, transposed).
    "cnn": {"input_shape": (3, 32, 32), "keras_input_shape": (32, 32, 3), "dtype": "float32",
            "classes": 10, "channels": (16, 32, 64)},
    # Small post-norm encoder text classifier, mean-pooled.
    "transformer": {"input_shape": (64,), "keras_input_shape": (64,), "dtype": "int64",
                    "classes": 4, "vocab": 1000, "seq_len": 64, "d_model": 64, "heads": 2,
                    "layers": 2, "ffn": 128},
    # Embedding, one LSTM layer, last hidden state, dense.
    "lstm": {"input_shape": (64,), "keras_input_shape": (64,), "dtype": "int64",
             "classes": 4, "vocab": 1000, "seq_len": 64, "embed": 32, "hidden": 64},
}


def spec(name: str) -> dict:
    """The sizes of model ``name``: input shape per sample (PyTorch and Keras), dtype, classes."""
    if name not in _SPECS:
        raise KeyError(f"unknown model {name!r}; expected one of {MODELS}")
    return dict(_SPECS[name])


def make_inputs(name: str, batch_size: int, seed: int = 0) -> np.ndarray:
    """A deterministic synthetic batch in PyTorch layout (see ``to_channels_last``)."""
    s = spec(name)
    rng = np.random.default_rng(seed)
    if s["dtype"] == "int64":
        return rng.integers(0, s["vocab"], size=(batch_size, *s["input_shape"]), dtype=np.int64)
    if name == "mlp":  # pixel intensities in [0, 1)
        return rng.random((batch_size, *s["input_shape"]), dtype=np.float32)
    return rng.standard_normal((batch_size, *s["input_shape"]), dtype=np.float32)


def to_channels_last(name: str, x: np.ndarray) -> np.ndarray:
    """The same batch in Keras layout: NCHW images become NHWC, everything else is unchanged."""
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1)) if name == "cnn" else x


def make_labels(name: str, batch_size: int, seed: int = 0) -> np.ndarray:
    """Deterministic integer class labels (int64) for a batch."""
    rng = np.random.default_rng(seed + 1_000_003)
    return rng.integers(0, spec(name)["classes"], size=batch_size, dtype=np.int64)


class _Init:
    """PyTorch's default initialisers, drawn from one numpy generator."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.weights: dict[str, np.ndarray] = {}

    def uniform(self, key: str, shape: tuple[int, ...], fan_in: int) -> None:
        bound = 1.0 / math.sqrt(fan_in)
        self.weights[key] = self.rng.uniform(-bound, bound, size=shape).astype(np.float32)

    def linear(self, key: str, n_in: int, n_out: int) -> None:
        self.uniform(f"{key}.weight", (n_out, n_in), n_in)
        self.uniform(f"{key}.bias", (n_out,), n_in)

    def conv(self, key: str, c_in: int, c_out: int, k: int) -> None:
        self.uniform(f"{key}.weight", (c_out, c_in, k, k), c_in * k * k)
        self.uniform(f"{key}.bias", (c_out,), c_in * k * k)

    def embedding(self, key: str, vocab: int, dim: int) -> None:
        self.weights[f"{key}.weight"] = self.rng.standard_normal((vocab, dim)).astype(np.float32)

    def layer_norm(self, key: str, dim: int) -> None:
        self.weights[f"{key}.weight"] = np.ones(dim, np.float32)
        self.weights[f"{key}.bias"] = np.zeros(dim, np.float32)


def init_weights(name: str, seed: int = 0) -> dict[str, np.ndarray]:
    """Initial weights of model ``name`` as a PyTorch-style ``state_dict`` of float32 arrays."""
    s = spec(name)
    init = _Init(seed)
    if name == "mlp":
        sizes = (s["input_shape"][0], *s["hidden"], s["classes"])
        for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:]), start=1):
            init.linear(f"fc{i}", n_in, n_out)
    elif name == "cnn":
        channels = (s["input_shape"][0], *s["channels"])
        for i, (c_in, c_out) in enumerate(zip(channels, channels[1:]), start=1):
            init.conv(f"conv{i}", c_in, c_out, 3)
        init.linear("fc", channels[-1], s["classes"])
    elif name == "transformer":
        d = s["d_model"]
        init.embedding("embed", s["vocab"], d)
        init.weights["pos"] = (0.02 * init.rng.standard_normal((s["seq_len"], d))).astype(np.float32)
        for i in range(s["layers"]):
            key = f"encoder.layers.{i}"
            init.uniform(f"{key}.self_attn.in_proj_weight", (3 * d, d), d)  # [q; k; v]
            init.uniform(f"{key}.self_attn.in_proj_bias", (3 * d,), d)
            init.linear(f"{key}.self_attn.out_proj", d, d)
            init.linear(f"{key}.linear1", d, s["ffn"])
            init.linear(f"{key}.linear2", s["ffn"], d)
            init.layer_norm(f"{key}.norm1", d)
            init.layer_norm(f"{key}.norm2", d)
        init.linear("head", d, s["classes"])
    elif name == "lstm":
        h = s["hidden"]
        init.embedding("embed", s["vocab"], s["embed"])
        init.uniform("lstm.weight_ih_l0", (4 * h, s["embed"]), h)
        init.uniform("lstm.weight_hh_l0", (4 * h, h), h)
        init.uniform("lstm.bias_ih_l0", (4 * h,), h)
        init.uniform("lstm.bias_hh_l0", (4 * h,), h)
        init.linear("head", h, s["classes"])
    return init.weights


def param_count(name: str) -> int:
    """Number of trainable parameters (the same in both frameworks)."""
    return int(sum(w.size for w in init_weights(name).values()))
