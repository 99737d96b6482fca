"""The kit's vocabulary: every name a study, a run config or a report uses for its parts, defined once.

A study's *variant* (what a column of the paper's Table 1 compares) is trained by a *method* (what
TRL runs) and executed by the *notebook* of its method; every model is evaluated in both *prompt
modes*. The paper's four variants are data, :data:`BUILTIN_VARIANTS`, written the way a study writes
its own (``variants:`` in a study, see :mod:`vrft_lib.plan.variants` and docs/extending.md)::

    variant         method  notebook
    training_free   none    training_free.ipynb
    sft             sft     sft.ipynb
    rft             grpo    rft.ipynb
    rft_length      grpo    rft.ipynb     (RFT plus the Normalized Length Reward)

>>> [METHOD_OF[v] for v in VARIANTS]
['none', 'sft', 'grpo', 'grpo']
>>> NOTEBOOK_OF["rft_length"]
'rft.ipynb'
"""

PROMPT_MODES = ("no_think", "think")
METHODS = ("grpo", "sft", "none")
NOTEBOOK_OF_METHOD = {"none": "training_free.ipynb", "sft": "sft.ipynb", "grpo": "rft.ipynb"}
# The paper's variants, as a study would define them (a variant names its method, or a base variant
# whose definition it extends; label: how the report names it).
BUILTIN_VARIANTS = {
    "training_free": {"method": "none", "label": "Training-free"},
    "sft": {"method": "sft", "label": "SFT"},
    "rft": {"method": "grpo", "label": "RFT"},
    "rft_length": {"base": "rft", "label": "RFT + length reward", "length_reward": True},
}
VARIANTS = tuple(BUILTIN_VARIANTS)
TABLE_VARIANTS = ("training_free", "sft", "rft")  # the columns of the paper's Table 1


def _builtin_method(name: str) -> str:
    d = BUILTIN_VARIANTS[name]
    return d.get("method") or _builtin_method(d["base"])


METHOD_OF = {v: _builtin_method(v) for v in BUILTIN_VARIANTS}
NOTEBOOK_OF = {v: NOTEBOOK_OF_METHOD[m] for v, m in METHOD_OF.items()}
REPORT_NOTEBOOK = "report.ipynb"
TASK_KINDS = ("perception", "reasoning", "binary")  # what a benchmark tests (the findings group by it)
TINY_MODEL = "tiny"  # the model name that means: the cached tiny instruct base (vrft_lib.tiny)
