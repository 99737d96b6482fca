"""The study plan: what a study file asks for, before anything runs.

* :mod:`~vrft_lib.plan.spec`: load and check a study file, expand it into runs, select runs;
* :mod:`~vrft_lib.plan.claims`: what a study claims of its comparisons (the paper's six, and its own),
  checked when it is loaded;
* :mod:`~vrft_lib.plan.jobs`: the same runs as Slurm jobs (resources, commands, estimates).

The report reads a study's expected runs here; executing them is :mod:`vrft_lib.study`'s job.
"""
