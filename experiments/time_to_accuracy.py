"""Time to accuracy (DAWNBench-style) on scikit-learn's digits data set.

Throughput per step says little about how long it takes to get a usable model. This trains the
same small MLP in PyTorch (eager loop) and in Keras (``model.fit`` one epoch at a time, TF
backend) until test accuracy reaches a fixed target, with everything else held equal: the same
train/test split, standardisation, initial weights (drawn once with numpy), Adam settings,
batch size and per-epoch data order. Only the framework differs. ``load_digits`` ships with
scikit-learn, so nothing is downloaded. Each seed (initial weights and data order) is one
sample; the split is fixed.
"""

from __future__ import annotations

import math
import os
import time

from experiments.harness.api import Measurement, Task
from results_contract.vocabulary import EPOCHS, FINAL_ACCURACY, WALL_TIME

NAME = "time_to_accuracy"
TITLE = "Time to accuracy: a small MLP on the digits data set"

TARGET = 0.97
MAX_EPOCHS = 50
BATCH = 32
LR = 1e-3
ADAM_EPS = 1e-8        # PyTorch's default; Keras's is 1e-7, so Keras sets it explicitly
HIDDEN = (128, 64)
SPLIT_SEED = 0
TEST_FRACTION = 0.25
FULL_SEEDS = 5
QUICK_SEEDS = 2

METRICS = (WALL_TIME, EPOCHS, FINAL_ACCURACY)

STYLES = {
    "pytorch": ("eager", "PyTorch eager: hand-written loop, Adam, CrossEntropyLoss"),
    "tensorflow": ("keras_fit", "Keras 3 (TensorFlow backend): model.fit(epochs=1) per epoch, "
                                "jit_compile=False, Adam, SparseCategoricalCrossentropy"),
}


def tasks(quick: bool) -> list[Task]:
    seeds = QUICK_SEEDS if quick else FULL_SEEDS
    return [
        Task(framework=fw, mode=mode, model="digits_mlp",
             params={"target_accuracy": TARGET, "max_epochs": MAX_EPOCHS, "batch_size": BATCH,
                     "lr": LR, "adam_eps": ADAM_EPS, "hidden": "64-128-64-10",
                     "seeds": seeds, "split_seed": SPLIT_SEED, "test_fraction": TEST_FRACTION,
                     "training": style, "jit_compile": False if fw == "tensorflow" else None},
             threads=os.cpu_count() or 1, rounds=1, timeout_s=600,
             env={"KERAS_BACKEND": "tensorflow"} if fw == "tensorflow" else {},
             metrics=METRICS)
        for fw, (mode, style) in STYLES.items()
    ]


def load_data():
    """Standardised digits, fixed stratified split: (x_train, y_train, x_test, y_test)."""
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    x, y = load_digits(return_X_y=True)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=TEST_FRACTION,
                                          random_state=SPLIT_SEED, stratify=y)
    scaler = StandardScaler().fit(xtr)
    return (scaler.transform(xtr).astype(np.float32), ytr.astype(np.int64),
            scaler.transform(xte).astype(np.float32), yte.astype(np.int64))


def init_weights(seed: int, n_in: int = 64, classes: int = 10):
    """PyTorch-default uniform init in numpy, as [(weight (out, in), bias (out,)), ...]."""
    import numpy as np

    rng = np.random.default_rng(seed)
    sizes = (n_in, *HIDDEN, classes)
    layers = []
    for a, b in zip(sizes, sizes[1:]):
        bound = 1.0 / math.sqrt(a)
        layers.append((rng.uniform(-bound, bound, (b, a)).astype(np.float32),
                       rng.uniform(-bound, bound, b).astype(np.float32)))
    return layers


def epoch_orders(seed: int, n: int, epochs: int):
    """The per-epoch shuffles, identical for both frameworks."""
    import numpy as np

    rng = np.random.default_rng(seed + 7919)
    return [rng.permutation(n) for _ in range(epochs)]


def _train_torch(seed: int, data) -> tuple[float, int, float]:
    import torch
    from torch import nn

    xtr, ytr, xte, yte = (torch.from_numpy(a) for a in data)
    model = nn.Sequential(nn.Linear(64, HIDDEN[0]), nn.ReLU(), nn.Linear(HIDDEN[0], HIDDEN[1]),
                          nn.ReLU(), nn.Linear(HIDDEN[1], 10))
    with torch.no_grad():
        for layer, (w, b) in zip(model[::2], init_weights(seed)):
            layer.weight.copy_(torch.from_numpy(w))
            layer.bias.copy_(torch.from_numpy(b))
    optimizer = torch.optim.Adam(model.parameters(), lr=LR, eps=ADAM_EPS)
    loss_fn = nn.CrossEntropyLoss()
    train_s, acc = 0.0, 0.0
    for epoch, order in enumerate(epoch_orders(seed, len(xtr), MAX_EPOCHS), start=1):
        order = torch.from_numpy(order)
        start = time.perf_counter()
        model.train()
        for i in range(0, len(order), BATCH):
            idx = order[i:i + BATCH]
            optimizer.zero_grad()
            loss_fn(model(xtr[idx]), ytr[idx]).backward()
            optimizer.step()
        train_s += time.perf_counter() - start
        model.eval()
        with torch.no_grad():
            acc = (model(xte).argmax(1) == yte).float().mean().item()
        if acc >= TARGET:
            return train_s, epoch, acc
    return train_s, MAX_EPOCHS, acc


def _train_keras(seed: int, data) -> tuple[float, int, float]:
    import keras
    import numpy as np

    xtr, ytr, xte, yte = data
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((64,)),
                              keras.layers.Dense(HIDDEN[0], activation="relu"),
                              keras.layers.Dense(HIDDEN[1], activation="relu"),
                              keras.layers.Dense(10)])
    model.set_weights([a for w, b in init_weights(seed) for a in (w.T, b)])
    model.compile(optimizer=keras.optimizers.Adam(LR, epsilon=ADAM_EPS),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=False)
    train_s, acc = 0.0, 0.0
    for epoch, order in enumerate(epoch_orders(seed, len(xtr), MAX_EPOCHS), start=1):
        xe, ye = xtr[order], ytr[order]
        start = time.perf_counter()
        model.fit(xe, ye, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
        train_s += time.perf_counter() - start
        logits = np.asarray(model(xte, training=False))
        acc = float((logits.argmax(1) == yte).mean())
        if acc >= TARGET:
            return train_s, epoch, acc
    return train_s, MAX_EPOCHS, acc


def run(task: Task, ctx) -> list[Measurement]:
    data = load_data()
    train = _train_torch if task.framework == "pytorch" else _train_keras
    seeds = [ctx.seed + i for i in range(int(task.params["seeds"]))]
    runs = [train(s, data) for s in seeds]
    reached = [acc >= TARGET for _, _, acc in runs]
    extra = {"seeds": seeds, "reached_target": reached, "train_samples": len(data[0]),
             "test_samples": len(data[2])}
    notes = (f"{STYLES[task.framework][1]}. wall_time sums the training epochs only (test "
             "evaluation after each epoch excluded; Keras's first-epoch tracing included); "
             f"a seed that misses {TARGET} within {MAX_EPOCHS} epochs reports its time to "
             "the last epoch (see extra.reached_target)")
    return [
        Measurement(WALL_TIME, [r[0] for r in runs], extra=extra, notes=notes),
        Measurement(EPOCHS, [float(r[1]) for r in runs], extra=extra, notes=notes),
        Measurement(FINAL_ACCURACY, [r[2] for r in runs], extra=extra, notes=notes),
    ]
