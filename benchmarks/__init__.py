"""Benchmarks of weavr-async: run with `make bench` or `python -m benchmarks [name ...]`."""
