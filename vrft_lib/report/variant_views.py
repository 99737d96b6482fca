"""What the report shows of a study's variants: Table 2 (the variants beside Table 1's three columns:
RFT + length reward and those the study defines, docs/extending.md) and every variant's resolved
definition. Values from the study folder are escaped as in :mod:`.views`."""

from __future__ import annotations

import pandas as pd
import yaml
from IPython.display import Markdown

from ..vocab import TABLE_VARIANTS
from .collect import variant_label
from .views import MISSING, cells_view, styled


def other_variants(table: pd.DataFrame, collected: dict) -> list[str]:
    """The study's variants outside Table 1's columns that have cells (``rft_length`` and the variants
    the study defines), in the study's order: Table 2's columns."""
    have = set(table["method"]) if len(table) else set()
    return [v for v in collected.get("variants") or {} if v not in TABLE_VARIANTS and v in have]


def table2_view(table: pd.DataFrame, collected: dict):
    """Table 2: the cells of the study's other variants (:func:`other_variants`), laid out as Table 1's
    *Ours* rows, each column named by the variant's label; a sentence when there is none."""
    variants = other_variants(table, collected)
    if not variants:
        return Markdown("The study has no variant beside Table 1's three.")
    return cells_view(table, collected, variants, {v: variant_label(collected, v) for v in variants}, paper=False)


VARIANT_COLUMNS = ["variant", "label", "method", "base", "defined by", "what it sets"]
_DEFINITION_KEYS = ("name", "label", "method", "notebook", "base", "defined_by")


def variants_view(collected: dict):
    """The definition of each variant of the study: its name, label, method, base, whether the kit or the
    study defines it, and the settings it sets over its method's (what ``variant.yaml`` records)."""
    rows = [
        {
            "variant": name,
            "label": d.get("label") or name,
            "method": d.get("method") or MISSING,
            "base": d.get("base") or MISSING,
            "defined by": d.get("defined_by") or MISSING,
            "what it sets": "; ".join(f"{k}: {_plain(v)}" for k, v in d.items() if k not in _DEFINITION_KEYS)
            or MISSING,
        }
        for name, d in (collected.get("variants") or {}).items()
    ]
    return styled(pd.DataFrame(rows, columns=VARIANT_COLUMNS))


def _plain(value) -> str:
    """A setting as short text: mappings and lists in YAML's flow style.

    >>> _plain({"scope": "response"}), _plain(True), _plain([{"name": "accuracy"}])
    ('{scope: response}', 'true', '[{name: accuracy}]')
    """
    return yaml.safe_dump(value, default_flow_style=True, width=10_000).strip().removesuffix("...").strip()
