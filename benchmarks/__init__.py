"""Benchmarks of the kit: each script measures, writes its figures to ``outputs/bench/<name>.json`` and
prints a short table. ``make bench`` runs them all and writes ``outputs/bench/summary.json``."""
