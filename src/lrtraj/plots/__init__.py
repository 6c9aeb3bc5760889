"""Figures of the paper, drawn from tidy Parquet metrics (one module per figure group)."""
