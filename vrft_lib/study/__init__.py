"""Whole studies: a study YAML expanded into runs, checked up front, executed notebook by notebook.

* :mod:`~vrft_lib.study.spec`: load and check a study file, expand it into runs, select runs;
* :mod:`~vrft_lib.study.preflight`: check everything the runs need before any work starts;
* :mod:`~vrft_lib.study.runner`: execute each run's notebook with papermill, then the report;
* :mod:`~vrft_lib.study.slurm`: the same runs as Slurm jobs (``vrft study --submit slurm``).

This package face imports nothing, so that the report can expand a study through ``spec`` without
loading the runner.
"""
