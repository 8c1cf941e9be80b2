"""The four benchmark models in PyTorch, and a plain training loop.

These classes are printed as listings in the paper, so they are written the way a PyTorch
user would write them. ``build_torch`` loads the shared numpy weights from
``experiments.models.weights`` so that the Keras twins start from identical numbers.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from experiments.models.weights import init_weights, spec


class MLP(nn.Module):
    """784 -> 256 -> 128 -> 10 with ReLU."""

    def __init__(self, n_in=784, hidden=(256, 128), classes=10):
        super().__init__()
        self.fc1 = nn.Linear(n_in, hidden[0])
        self.fc2 = nn.Linear(hidden[0], hidden[1])
        self.fc3 = nn.Linear(hidden[1], classes)

    def forward(self, x):
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        return self.fc3(x)


class CNN(nn.Module):
    """Three 3x3 conv blocks on 32x32 RGB images, global average pool, dense."""

    def __init__(self, channels=(16, 32, 64), classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, channels[0], 3, padding=1)
        self.conv2 = nn.Conv2d(channels[0], channels[1], 3, padding=1)
        self.conv3 = nn.Conv2d(channels[1], channels[2], 3, padding=1)
        self.fc = nn.Linear(channels[2], classes)

    def forward(self, x):                                   # x: (N, 3, 32, 32)
        x = nn.functional.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = nn.functional.max_pool2d(torch.relu(self.conv2(x)), 2)
        x = torch.relu(self.conv3(x))
        return self.fc(x.mean(dim=(2, 3)))                  # global average pool


class TransformerClassifier(nn.Module):
    """Token + learned position embeddings, post-norm encoder layers, mean pool, dense."""

    def __init__(self, vocab=1000, seq_len=64, d_model=64, heads=2, layers=2, ffn=128,
                 classes=4):
        super().__init__()
        self.embed = nn.Embedding(vocab, d_model)
        self.pos = nn.Parameter(torch.zeros(seq_len, d_model))
        layer = nn.TransformerEncoderLayer(d_model, heads, ffn, dropout=0.0,
                                           activation="relu", batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(d_model, classes)

    def forward(self, tokens):                              # tokens: (N, seq_len) int64
        x = self.embed(tokens) + self.pos
        x = self.encoder(x)
        return self.head(x.mean(dim=1))


class LSTMClassifier(nn.Module):
    """Embedding, one LSTM layer, classify from the last hidden state."""

    def __init__(self, vocab=1000, embed=32, hidden=64, classes=4):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, hidden, batch_first=True)
        self.head = nn.Linear(hidden, classes)

    def forward(self, tokens):                              # tokens: (N, seq_len) int64
        _, (h, _) = self.lstm(self.embed(tokens))
        return self.head(h[-1])


def train_torch(model, x, y, steps=1, lr=1e-3):
    """Plain PyTorch training: Adam + cross-entropy on one batch; returns the last loss."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    for _ in range(steps):
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
    return loss.item()


def make_train_step(model, lr=1e-3):
    """One optimisation step as a closure (the body of ``train_torch``), for timing."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    model.train()

    def step(x, y):
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    return step


def make_compiled_train_step(model, lr=1e-3):
    """The same step with all of it compiled, as ``tf.function`` compiles a TensorFlow step:
    the model and loss (forward, and through AOTAutograd the backward) and the optimizer step,
    following PyTorch's "compiling the optimizer" recipe."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    forward_loss = torch.compile(lambda x, y: loss_fn(model(x), y), dynamic=False)

    @torch.compile(fullgraph=False)
    def optimizer_step():
        optimizer.step()

    def step(x, y):
        optimizer.zero_grad()
        loss = forward_loss(x, y)
        loss.backward()
        optimizer_step()
        return loss

    return step


def _model_class(name: str) -> nn.Module:
    s = spec(name)
    if name == "mlp":
        return MLP(s["input_shape"][0], s["hidden"], s["classes"])
    if name == "cnn":
        return CNN(s["channels"], s["classes"])
    if name == "transformer":
        return TransformerClassifier(s["vocab"], s["seq_len"], s["d_model"], s["heads"],
                                     s["layers"], s["ffn"], s["classes"])
    if name == "lstm":
        return LSTMClassifier(s["vocab"], s["embed"], s["hidden"], s["classes"])
    raise KeyError(name)


def build_torch(name: str, weights: dict[str, np.ndarray] | None = None, device="cpu"):
    """Model ``name`` with the shared numpy ``weights`` (default: ``init_weights(name)``)."""
    model = _model_class(name)
    weights = init_weights(name) if weights is None else weights
    model.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in weights.items()},
                          strict=True)
    return model.to(device)
