"""Benchmarks: each `bench_<name>.py` prints its figures and writes `results/<name>.json`."""
