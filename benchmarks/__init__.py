"""Benchmarks of the pipeline (``make bench``)."""
