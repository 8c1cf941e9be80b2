"""The paper generator: results JSON + references.bib + Jinja templates -> versioned HTML and PDF.

It never imports torch or TensorFlow: results are read as JSON and code listings as source text.
"""
