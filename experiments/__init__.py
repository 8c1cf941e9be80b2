"""Experiment modules that measure PyTorch and TensorFlow; see experiments/README.md."""
