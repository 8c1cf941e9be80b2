"""The four benchmark models in Keras 3 (TensorFlow backend), and plain training code.

These functions are printed as listings in the paper, so they are written the way a Keras
user would write them. ``build_keras`` loads the shared numpy weights, converting PyTorch
layouts to Keras ones (see ``keras_weights``), so the PyTorch twins compute the same logits.
The models themselves are backend-neutral Keras 3; only the ``tf.GradientTape`` training
step needs TensorFlow, so TensorFlow is imported there and not at module level: a worker on
the JAX or PyTorch backend can build the models without loading TensorFlow.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

from experiments.models.weights import init_weights, spec  # noqa: E402

LN_EPSILON = 1e-5      # PyTorch's LayerNorm default (Keras defaults to 1e-3)
ADAM_EPSILON = 1e-8    # PyTorch's Adam default (Keras defaults to 1e-7)


def mlp(n_in=784, hidden=(256, 128), classes=10):
    """784 -> 256 -> 128 -> 10 with ReLU."""
    return keras.Sequential([
        keras.Input((n_in,)),
        layers.Dense(hidden[0], activation="relu", name="fc1"),
        layers.Dense(hidden[1], activation="relu", name="fc2"),
        layers.Dense(classes, name="fc3"),
    ], name="mlp")


def cnn(channels=(16, 32, 64), classes=10):
    """Three 3x3 conv blocks on 32x32 RGB images (NHWC), global average pool, dense."""
    return keras.Sequential([
        keras.Input((32, 32, 3)),
        layers.Conv2D(channels[0], 3, padding="same", activation="relu", name="conv1"),
        layers.MaxPooling2D(2),
        layers.Conv2D(channels[1], 3, padding="same", activation="relu", name="conv2"),
        layers.MaxPooling2D(2),
        layers.Conv2D(channels[2], 3, padding="same", activation="relu", name="conv3"),
        layers.GlobalAveragePooling2D(),
        layers.Dense(classes, name="fc"),
    ], name="cnn")


class PositionEmbedding(layers.Layer):
    """Adds a learned (seq_len, d_model) position table."""

    def build(self, input_shape):
        self.pos = self.add_weight(shape=input_shape[1:], initializer="zeros", name="pos")

    def call(self, x):
        return x + self.pos


def encoder_layer(x, d_model, heads, ffn, name):
    """Post-norm encoder layer, as ``torch.nn.TransformerEncoderLayer`` (ReLU, no dropout)."""
    attn = layers.MultiHeadAttention(heads, d_model // heads, name=f"{name}_attn")(x, x)
    x = layers.LayerNormalization(epsilon=LN_EPSILON, name=f"{name}_norm1")(x + attn)
    h = layers.Dense(ffn, activation="relu", name=f"{name}_linear1")(x)
    h = layers.Dense(d_model, name=f"{name}_linear2")(h)
    return layers.LayerNormalization(epsilon=LN_EPSILON, name=f"{name}_norm2")(x + h)


def transformer(vocab=1000, seq_len=64, d_model=64, heads=2, n_layers=2, ffn=128, classes=4):
    """Token + learned position embeddings, encoder layers, mean pool, dense."""
    tokens = keras.Input((seq_len,), dtype="int64")
    x = layers.Embedding(vocab, d_model, name="embed")(tokens)
    x = PositionEmbedding(name="pos")(x)
    for i in range(n_layers):
        x = encoder_layer(x, d_model, heads, ffn, name=f"enc{i}")
    x = layers.GlobalAveragePooling1D()(x)
    return keras.Model(tokens, layers.Dense(classes, name="head")(x), name="transformer")


def lstm(vocab=1000, seq_len=64, embed=32, hidden=64, classes=4):
    """Embedding, one LSTM layer, classify from the last hidden state."""
    return keras.Sequential([
        keras.Input((seq_len,), dtype="int64"),
        layers.Embedding(vocab, embed, name="embed"),
        layers.LSTM(hidden, name="lstm"),
        layers.Dense(classes, name="head"),
    ], name="lstm")


def train_keras(model, x, y, epochs=1, batch_size=64, lr=1e-3, jit_compile=False,
                run_eagerly=False):
    """Plain Keras training: compile with Adam + cross-entropy, then ``fit``."""
    model.compile(optimizer=keras.optimizers.Adam(lr, epsilon=ADAM_EPSILON),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=jit_compile, run_eagerly=run_eagerly)
    history = model.fit(x, y, epochs=epochs, batch_size=batch_size, shuffle=False, verbose=0)
    return history.history["loss"][-1]


def make_train_step(model, lr=1e-3, mode="graph"):
    """One optimisation step with ``tf.GradientTape``.

    ``mode`` is ``"eager"`` (plain Python), ``"graph"`` (``tf.function``) or ``"xla"``
    (``tf.function(jit_compile=True)``); the step body is the same in all three.
    """
    import tensorflow as tf

    optimizer = keras.optimizers.Adam(lr, epsilon=ADAM_EPSILON)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    return compile_fn(step, mode)


def compile_fn(fn, mode):
    """``fn`` unchanged (eager), as ``tf.function`` (graph) or with XLA (xla)."""
    import tensorflow as tf

    if mode == "eager":
        return fn
    if mode == "graph":
        return tf.function(fn)
    if mode == "xla":
        return tf.function(fn, jit_compile=True)
    raise ValueError(f"unknown TensorFlow mode {mode!r}")


def _model(name: str):
    s = spec(name)
    if name == "mlp":
        return mlp(s["input_shape"][0], s["hidden"], s["classes"])
    if name == "cnn":
        return cnn(s["channels"], s["classes"])
    if name == "transformer":
        return transformer(s["vocab"], s["seq_len"], s["d_model"], s["heads"], s["layers"],
                           s["ffn"], s["classes"])
    if name == "lstm":
        return lstm(s["vocab"], s["seq_len"], s["embed"], s["hidden"], s["classes"])
    raise KeyError(name)


def keras_weights(name: str, w: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Convert a PyTorch-layout state dict to Keras variable paths and layouts.

    Dense kernels are ``(in, out)`` (PyTorch: ``(out, in)``); conv kernels are ``HWIO``
    (PyTorch: ``OIHW``); attention projections are split per head as ``(d, heads, head_dim)``;
    the LSTM has one bias, the sum of PyTorch's two (same gate order i, f, g/c, o).
    """
    s = spec(name)
    out: dict[str, np.ndarray] = {}

    def dense(keras_name, torch_name):
        out[f"{keras_name}/kernel"] = w[f"{torch_name}.weight"].T
        out[f"{keras_name}/bias"] = w[f"{torch_name}.bias"]

    if name == "mlp":
        for i in (1, 2, 3):
            dense(f"fc{i}", f"fc{i}")
    elif name == "cnn":
        for i in (1, 2, 3):
            out[f"conv{i}/kernel"] = w[f"conv{i}.weight"].transpose(2, 3, 1, 0)
            out[f"conv{i}/bias"] = w[f"conv{i}.bias"]
        dense("fc", "fc")
    elif name == "transformer":
        d, heads = s["d_model"], s["heads"]
        out["embed/embeddings"] = w["embed.weight"]
        out["pos/pos"] = w["pos"]
        for i in range(s["layers"]):
            t, k = f"encoder.layers.{i}", f"enc{i}"
            in_w = np.split(w[f"{t}.self_attn.in_proj_weight"], 3)
            in_b = np.split(w[f"{t}.self_attn.in_proj_bias"], 3)
            for part, pw, pb in zip(("query", "key", "value"), in_w, in_b):
                out[f"{k}_attn/{part}/kernel"] = pw.T.reshape(d, heads, d // heads)
                out[f"{k}_attn/{part}/bias"] = pb.reshape(heads, d // heads)
            out[f"{k}_attn/attention_output/kernel"] = (
                w[f"{t}.self_attn.out_proj.weight"].T.reshape(heads, d // heads, d))
            out[f"{k}_attn/attention_output/bias"] = w[f"{t}.self_attn.out_proj.bias"]
            dense(f"{k}_linear1", f"{t}.linear1")
            dense(f"{k}_linear2", f"{t}.linear2")
            for n in ("norm1", "norm2"):
                out[f"{k}_{n}/gamma"] = w[f"{t}.{n}.weight"]
                out[f"{k}_{n}/beta"] = w[f"{t}.{n}.bias"]
        dense("head", "head")
    elif name == "lstm":
        out["embed/embeddings"] = w["embed.weight"]
        out["lstm/lstm_cell/kernel"] = w["lstm.weight_ih_l0"].T
        out["lstm/lstm_cell/recurrent_kernel"] = w["lstm.weight_hh_l0"].T
        out["lstm/lstm_cell/bias"] = w["lstm.bias_ih_l0"] + w["lstm.bias_hh_l0"]
        dense("head", "head")
    return out


def build_keras(name: str, weights: dict[str, np.ndarray] | None = None):
    """Model ``name`` with the shared numpy ``weights`` (default: ``init_weights(name)``)."""
    model = _model(name)
    converted = keras_weights(name, init_weights(name) if weights is None else weights)
    # Sequential models prefix their variable paths with the model's name.
    variables = {v.path.removeprefix(f"{model.name}/"): v for v in model.weights}
    if set(variables) != set(converted):
        raise ValueError(f"{name}: Keras variables {sorted(variables)} do not match the "
                         f"converted weights {sorted(converted)}")
    for path, value in converted.items():
        variables[path].assign(np.ascontiguousarray(value, dtype=np.float32))
    return model
