"""Runnable benchmarks: ``python -m sinoloc.benchmarks.locate`` (speed, memory, throughput)."""
