"""Benchmarks, deterministic data generators and the demo."""
