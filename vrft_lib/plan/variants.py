"""A study's variants: the paper's four (:data:`vrft_lib.vocab.BUILTIN_VARIANTS`) and those a study
defines, each resolved into one definition that the plan, the run folders and the report read.

``variants:`` in a study is a list of built-in names (``[training_free, sft, rft, rft_length]``, the
default), or a mapping from variant name to its definition, in the order the variants run::

    variants:
      training_free:                       # a built-in, as the kit defines it
      rft:
      rft_no_think:                        # a variant of the study's own
        base: rft                          # extends another variant (or: method: none | sft | grpo)
        label: RFT (trained w/o think)     # how the report names it (default: its name)
        train_mode: no_think               # overrides: train_mode, rewards, length_reward, trainer,
                                           # freeze_vision, freeze_projector, benchmarks

A definition inherits every override of its base (``trainer`` and a ``length_reward`` mapping are
deep-merged, the rest replaced) and the base's method. A study that names a built-in with a mapping
changes that built-in for the study (``rft_length`` is ``rft`` plus the length reward, so it follows).
See docs/extending.md.
"""

from __future__ import annotations

import copy

from ..config import check_keys, check_trainer_fields, check_value, deep_merge
from ..errors import ConfigError, did_you_mean
from ..rewards import build_rewards
from ..runfolder import check_folder_name
from ..vocab import BUILTIN_VARIANTS, METHOD_OF, METHODS, NOTEBOOK_OF_METHOD, PROMPT_MODES, VARIANTS

# What a definition may hold, with its type (checked by vrft_lib.config.check_value).
VARIANT_FIELDS = {
    "method": str,
    "base": str,
    "label": str,
    "train_mode": str,
    "rewards": list,
    "length_reward": bool | dict,
    "trainer": dict,
    "freeze_vision": bool,
    "freeze_projector": bool,
    "benchmarks": list,
}
OVERRIDES = ("train_mode", "rewards", "length_reward", "trainer", "freeze_vision", "freeze_projector", "benchmarks")
GRPO_ONLY = ("rewards", "length_reward")  # what only an RFT (GRPO) variant has
TRAINED_ONLY = ("train_mode", "trainer", "freeze_vision", "freeze_projector")  # what a training-free one lacks
LENGTH_DEFAULT = {"name": "length"}  # a variant's length_reward mapping, without the study's top-level entry


class _WordCounter:
    """Stands in for a tokenizer when a variant's rewards are built only to be checked."""

    def encode(self, text, add_special_tokens=False):
        return text.split()


def variant_entries(raw, where: str) -> dict[str, dict | None]:
    """``{name: the study's own definition, or None}`` of a study's ``variants`` (a list of built-in
    names, or a mapping), in order; refuses an empty or repeated list and a name that is no folder name.

    >>> variant_entries(["sft", "rft"], "s.yaml")
    {'sft': None, 'rft': None}
    >>> variant_entries(["sft", "sft"], "s.yaml")
    Traceback (most recent call last):
    ...
    vrft_lib.errors.ConfigError: s.yaml: variants: 'sft' is listed twice; list each variant once (it is one run ...
    """
    if raw is None:
        return dict.fromkeys(VARIANTS)
    check_value(raw, list | dict, f"{where}: variants")
    if not raw:
        raise ConfigError(
            f"{where}: variants: no variant is named, so the study would run nothing. Name at least one "
            f"(built in: {', '.join(VARIANTS)}), or remove 'variants' to run the paper's four."
        )
    if isinstance(raw, list):
        for name in raw:
            check_value(name, str, f"{where}: variants")
            if name not in BUILTIN_VARIANTS:
                raise ConfigError(
                    f"{where}: variants: unknown variant '{name}'{did_you_mean(name, VARIANTS)}; use "
                    f"{', '.join(VARIANTS)}, or define it in a mapping (variants: {{{name}: {{base: rft, ...}}}}, "
                    "see docs/extending.md)."
                )
            if raw.count(name) > 1:
                raise ConfigError(
                    f"{where}: variants: '{name}' is listed twice; list each variant once (it is one run "
                    "folder per benchmark and seed). To run it with other settings, define a variant of "
                    f"its own: variants: {{{name}: null, {name}_2: {{base: {name}, ...}}}}."
                )
        return dict.fromkeys(raw)
    out = {}
    for name, entry in raw.items():
        check_folder_name(name, f"{where}: variants")
        check_value(entry, dict | None, f"{where}: variants.{name}")
        if entry:
            check_keys(entry, list(VARIANT_FIELDS), f"{where}: variants.{name}")
            for key, allowed in VARIANT_FIELDS.items():
                if key in entry:
                    check_value(entry[key], allowed, f"{where}: variants.{name}.{key}")
        elif name not in BUILTIN_VARIANTS:
            raise ConfigError(
                f"{where}: variants.{name}: no definition, and '{name}' is not a built-in variant "
                f"({', '.join(VARIANTS)}){did_you_mean(name, VARIANTS)}. Give it one: "
                f"{{method: none | sft | grpo}} or {{base: <another variant>}} with its overrides."
            )
        out[name] = dict(entry or {})
    return out


def resolve_variants(raw, where: str, benchmarks=None, check_trainer: bool = True) -> dict[str, dict]:
    """The resolved definition of every variant a study runs (see :func:`resolve_variant`), in order.

    ``benchmarks``: the study's benchmark keys, which a variant's ``benchmarks`` must name (None: not
    checked). ``check_trainer``: check ``trainer`` overrides against TRL's config fields (imports TRL).

    >>> d = resolve_variants({"rft": None, "rft_nt": {"base": "rft", "train_mode": "no_think"}}, "s.yaml")
    >>> d["rft_nt"]["method"], d["rft_nt"]["notebook"], d["rft_nt"]["train_mode"], d["rft"]["defined_by"]
    ('grpo', 'rft.ipynb', 'no_think', 'kit')
    """
    entries = variant_entries(raw, where)
    own = {name: entry for name, entry in entries.items() if entry}
    resolved: dict[str, dict] = {}
    out = {name: resolve_variant(name, own, where, resolved, ()) for name in entries}
    labels: dict[str, str] = {}
    for name, d in out.items():
        if d["label"] in labels:
            raise ConfigError(
                f"{where}: variants.{name}.label: '{d['label']}' is also the label of variant "
                f"'{labels[d['label']]}'; the report names each variant by its label, so give it another."
            )
        labels[d["label"]] = name
        check_definition(d, where, benchmarks, check_trainer)
    return out


def resolve_variant(name: str, own: dict, where: str, resolved: dict, chain: tuple) -> dict:
    """One variant's definition: ``name``, ``label``, ``method``, ``notebook``, ``base`` (or None),
    ``defined_by`` (``kit`` for a built-in the study leaves as it is, else ``study``) and the overrides
    it has, its base's merged under its own. ``own``: the study's definitions by name; ``resolved``:
    a cache; ``chain``: the variants whose base is being resolved (a cycle is refused)."""
    if name in resolved:
        return resolved[name]
    if name in chain:
        cycle = " -> ".join((*chain[chain.index(name) :], name))
        raise ConfigError(
            f"{where}: variants.{name}.base: the bases form a cycle ({cycle}); give one of them a method "
            "(method: none | sft | grpo) instead of a base."
        )
    builtin = BUILTIN_VARIANTS.get(name)
    if builtin and own.get(name, {}).get("method", METHOD_OF[name]) != METHOD_OF[name]:
        raise _builtin_clash(name, own[name]["method"], where)
    entry = deep_merge(builtin or {}, own.get(name) or {})
    if name in own and builtin and "base" in own[name] and "base" not in builtin:
        entry.pop("method", None)  # a built-in given a base takes the base's method (checked below)
    base = entry.get("base")
    if base is not None:
        known = {*BUILTIN_VARIANTS, *own}
        if base not in known:
            raise ConfigError(
                f"{where}: variants.{name}.base: unknown variant '{base}'{did_you_mean(base, known)}; a base is a "
                f"built-in variant ({', '.join(VARIANTS)}) or another variant this study defines."
            )
        parent = resolve_variant(base, own, where, resolved, (*chain, name))
        if "method" in entry and entry["method"] != parent["method"]:
            raise ConfigError(
                f"{where}: variants.{name}.method: '{entry['method']}' differs from the method of its base "
                f"'{base}' ({parent['method']}); a variant keeps its base's method. Remove 'method', or base it "
                f"on a variant trained by {entry['method']}."
            )
        method, overrides = parent["method"], {k: parent[k] for k in OVERRIDES if k in parent}
    else:
        method, overrides = entry.get("method"), {}
        if method is None:
            raise ConfigError(
                f"{where}: variants.{name}: give its method (method: none | sft | grpo) or the variant it "
                "extends (base: rft, ...)."
            )
        if method not in METHODS:
            raise ConfigError(
                f"{where}: variants.{name}.method: unknown method '{method}'{did_you_mean(method, METHODS)}; use "
                "none (training-free), sft or grpo (RFT)."
            )
    if builtin and method != METHOD_OF[name]:
        raise _builtin_clash(name, method, where)
    for key in OVERRIDES:
        if key in entry:
            value = copy.deepcopy(entry[key])
            if isinstance(value, dict) and isinstance(overrides.get(key), dict):  # trainer, length_reward
                value = deep_merge(overrides[key], value)
            overrides[key] = value
    d = {
        "name": name,
        "label": entry.get("label") or name,
        "method": method,
        "notebook": NOTEBOOK_OF_METHOD[method],
        "base": base,
        "defined_by": "study" if name in own or (base and resolved[base]["defined_by"] == "study") else "kit",
        **overrides,
    }
    resolved[name] = d
    return d


def _builtin(name: str) -> dict:
    return resolve_variant(name, {}, "kit", {}, ())


def _builtin_clash(name: str, method: str, where: str) -> ConfigError:
    return ConfigError(
        f"{where}: variants.{name}: '{name}' is a built-in variant trained by {METHOD_OF[name]}, and this study "
        f"gives it the method {method}. Keep its method, or give the new variant a name of its own (e.g. "
        f"{name}_{method}: {{method: {method}, ...}})."
    )


def check_definition(d: dict, where: str, benchmarks=None, check_trainer: bool = True) -> None:
    """Check a resolved definition's overrides against its method: what a method has, the prompt mode,
    the rewards (built with a stand-in tokenizer), the trainer fields, the benchmarks it names."""
    at = f"{where}: variants.{d['name']}"
    method = d["method"]
    for key in GRPO_ONLY if method != "grpo" else ():
        if key in d and d[key] not in (None, False):
            raise ConfigError(
                f"{at}.{key}: only an RFT variant (method grpo) is trained with rewards, and this one is "
                f"trained by {method}; remove '{key}'."
            )
    for key in TRAINED_ONLY if method == "none" else ():
        if key in d:
            raise ConfigError(
                f"{at}.{key}: a training-free variant (method none) trains nothing, so '{key}' changes nothing; "
                "remove it (every model is evaluated in both prompt modes)."
            )
    mode = d.get("train_mode", "think")
    if mode not in PROMPT_MODES:
        raise ConfigError(
            f"{at}.train_mode: unknown mode '{mode}'{did_you_mean(mode, PROMPT_MODES)}; use think or no_think."
        )
    if "rewards" in d and not d["rewards"]:
        raise ConfigError(f"{at}.rewards: the list is empty; GRPO learns from its rewards: give at least one.")
    length = d.get("length_reward")
    if isinstance(length, dict) and length.get("name", "length") != "length":
        raise ConfigError(
            f"{at}.length_reward.name: '{length['name']}' is not the length reward; this entry only sets the "
            "length reward's parameters (alpha, target_length, unit, scope, weight). Other rewards go in 'rewards'."
        )
    for key, spec in (("rewards", d.get("rewards")), ("length_reward", length)):
        if isinstance(spec, dict):
            spec = [deep_merge(LENGTH_DEFAULT, spec)]
        if isinstance(spec, list) and spec:
            try:
                build_rewards(spec, mode=mode, tokenizer=_WordCounter())
            except ConfigError as e:
                text = str(e).removeprefix("rewards[0]: ") if key == "length_reward" else str(e)
                raise ConfigError(f"{at}.{key}: {text}") from None
    if d.get("trainer") and check_trainer:
        check_trainer_fields(method, d["trainer"], f"{at}.trainer")
    names = d.get("benchmarks")
    if names is not None:
        if not names:
            raise ConfigError(
                f"{at}.benchmarks: the list is empty; name the benchmarks it runs on, or remove it (all)."
            )
        for key in names:
            check_value(key, str, f"{at}.benchmarks")
            if benchmarks is not None and key not in benchmarks:
                raise ConfigError(
                    f"{at}.benchmarks: '{key}' is not a benchmark of this study{did_you_mean(key, list(benchmarks))}; "
                    f"its benchmarks: {', '.join(benchmarks)}."
                )


def study_variants(study: dict) -> dict[str, dict]:
    """The resolved definitions of a study's variants: those :func:`vrft_lib.plan.spec.load_study`
    resolved (``_variants``), else resolved here from ``variants`` (a saved ``study.yaml``, which was
    checked when the study ran; TRL's fields are not checked again)."""
    if isinstance(study.get("_variants"), dict):
        return study["_variants"]
    where = str(study.get("_source") or f"study '{study.get('name', '?')}'")
    return resolve_variants(study.get("variants"), where, check_trainer=False)


def variant_definition(study: dict, name: str) -> dict:
    """The definition of the variant ``name``: the study's, else the built-in of that name."""
    found = study_variants(study).get(name)
    if found is not None:
        return found
    if name in BUILTIN_VARIANTS:
        return _builtin(name)
    raise ConfigError(
        f"study '{study.get('name', '?')}': no variant '{name}'{did_you_mean(name, study_variants(study))}."
    )


def uses_length_reward(d: dict) -> bool:
    """Whether the variant adds the Normalized Length Reward (``length_reward: true`` or a mapping)."""
    return d.get("method") == "grpo" and bool(d.get("length_reward"))


def runs_on(d: dict, key: str, spec: dict | None) -> bool:
    """Whether the variant ``d`` runs on the benchmark ``key`` (its settings ``spec``): on the benchmarks
    it names; without any, a variant with the length reward only where the benchmark sets
    ``length_reward: true`` (as ``rft_length``), every other variant everywhere.

    >>> runs_on({"method": "grpo", "length_reward": True}, "b", {}), runs_on({"method": "sft"}, "b", {})
    (False, True)
    """
    if d.get("benchmarks") is not None:
        return key in d["benchmarks"]
    return not uses_length_reward(d) or bool((spec or {}).get("length_reward"))


def length_reward_entry(study: dict, d: dict, where: str) -> dict:
    """The length reward a variant adds: the study's ``length_reward``, or a mapping deep-merged over it."""
    top = study.get("length_reward")
    value = d.get("length_reward")
    if value is True:
        if not top:
            raise ConfigError(
                f"{where}: variant '{d['name']}' adds the length reward, but the study has no top-level "
                "'length_reward' entry (e.g. {name: length, target_length: 64, scope: think}). Add one, or "
                f"give the variant's own: variants.{d['name']}.length_reward: {{target_length: 64, scope: think}}."
            )
        return copy.deepcopy(top)
    return deep_merge(top or LENGTH_DEFAULT, value)


def apply_overrides(run: dict, d: dict) -> dict:
    """A run config dict with the variant's own settings on top: ``train_mode``, the freezing and the
    ``trainer`` fields (deep-merged). Rewards are set where the run's rewards are built."""
    for key in ("train_mode", "freeze_vision", "freeze_projector"):
        if key in d:
            run[key] = d[key]
    if d.get("trainer"):
        run["trainer"] = deep_merge(run.get("trainer") or {}, d["trainer"])
    return run
