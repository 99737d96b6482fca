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

from .errors import ConfigError

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
# In a study file's `model:`: every study seed on its own build of the tiny base's recipe (tiny:0, tiny:1, ...)
TINY_PER_SEED = "tiny:seed"
TINY_SEED_MAX = 2**32 - 1  # the largest seed numpy and torch accept


def is_tiny_name(name) -> bool:
    """Whether a model name asks for a build of the tiny base: ``tiny``, ``tiny:<k>`` or ``tiny:seed``.

    >>> [is_tiny_name(n) for n in ("tiny", "tiny:2", "tiny:seed", "tiny-vl", "Qwen/Qwen2.5-VL-7B-Instruct")]
    [True, True, True, False, False]
    """
    return isinstance(name, str) and (name == TINY_MODEL or name.startswith(TINY_MODEL + ":"))


def tiny_build_seed(name: str, where: str = "model") -> int | None:
    """The build seed a tiny model name asks for: ``None`` for ``tiny`` (the default build, the recipe's
    own seed), ``k`` for ``tiny:k`` (the same recipe built with seed ``k``: another draw of the base).

    >>> tiny_build_seed("tiny"), tiny_build_seed("tiny:0"), tiny_build_seed("tiny:12")
    (None, 0, 12)
    >>> tiny_build_seed("tiny:one")
    Traceback (most recent call last):
    ...
    vrft_lib.errors.ConfigError: model 'tiny:one': a build of the tiny base is named tiny (the default build)...
    """
    if name == TINY_MODEL:
        return None
    seed = name[len(TINY_MODEL) + 1 :]
    if name == TINY_PER_SEED:
        raise ConfigError(
            f"{where} '{name}': '{TINY_PER_SEED}' puts each seed of a study on its own build, so it is for a "
            f"study file's 'model:'. A run names one build: {TINY_MODEL} (the default) or {TINY_MODEL}:<k>."
        )
    if seed.isascii() and seed.isdigit() and int(seed) <= TINY_SEED_MAX:
        return int(seed)
    raise ConfigError(
        f"{where} '{name}': a build of the tiny base is named {TINY_MODEL} (the default build) or "
        f"{TINY_MODEL}:<k>, the same recipe built with seed k, a whole number from 0 to {TINY_SEED_MAX} "
        f"(e.g. {TINY_MODEL}:0); in a study file, '{TINY_PER_SEED}' runs each study seed on its own build."
    )
