"""Whole studies executed: the plan (:mod:`vrft_lib.plan`) checked up front, then run notebook by notebook.

* :mod:`~vrft_lib.study.preflight`: check everything the runs need before any work starts;
* :mod:`~vrft_lib.study.runner`: execute each run's notebook with papermill, then the report;
* :mod:`~vrft_lib.study.slurm`: the same runs as Slurm jobs (``vrft study --submit slurm``).
"""
