"""The analysis layer: torch-free summaries of the Parquet metrics (side-trip endpoints, the
one-step sweep, barriers) and the claims scorecard built from them. Plots import this and
``plots.style`` only; nothing here imports training code.
"""
