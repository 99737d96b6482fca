"""Speed and learning measurements of the kit (not to be confused with the benchmarks, the data sets it
evaluates on): each script measures, writes its figures to ``outputs/bench/<name>.json`` and prints a
short table. ``make bench`` runs them all and writes ``outputs/bench/summary.json``."""
