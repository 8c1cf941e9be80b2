"""The four benchmark models, written once per framework from the same numpy weights.

``weights`` holds the framework-neutral specs and initial weights; ``torch_models`` and
``keras_models`` build the models (imported only inside worker processes).
"""
