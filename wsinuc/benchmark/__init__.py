"""Benchmarks run from the package (``wsinuc benchmark ...``)."""
