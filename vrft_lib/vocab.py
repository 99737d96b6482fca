"""The kit's vocabulary: every name a study, a run config or a report uses for its parts, defined once.

A study's *variant* (what a row of the paper's Table 1 compares) is trained by a *method* (what TRL
runs) and executed by a *notebook*; every model is evaluated in both *prompt modes*::

    variant         method  notebook
    training_free   none    training_free.ipynb
    sft             sft     sft.ipynb
    rft             grpo    rft.ipynb
    rft_length      grpo    rft.ipynb     (RFT plus the Normalized Length Reward)

>>> [METHOD_OF[v] for v in VARIANTS]
['none', 'sft', 'grpo', 'grpo']
"""

PROMPT_MODES = ("no_think", "think")
METHODS = ("grpo", "sft", "none")
VARIANTS = ("training_free", "sft", "rft", "rft_length")
TABLE_VARIANTS = ("training_free", "sft", "rft")  # the columns of the paper's Table 1
METHOD_OF = {"training_free": "none", "sft": "sft", "rft": "grpo", "rft_length": "grpo"}
NOTEBOOK_OF = {
    "training_free": "training_free.ipynb",
    "sft": "sft.ipynb",
    "rft": "rft.ipynb",
    "rft_length": "rft.ipynb",
}
REPORT_NOTEBOOK = "report.ipynb"
TASK_KINDS = ("perception", "reasoning", "binary")  # what a benchmark tests (the findings group by it)
TINY_MODEL = "tiny"  # the model name that means: the cached tiny instruct base (vrft_lib.tiny)
