"""Write the README's "What the embedded study gives" table from a finished study's table1.csv.

    python scripts/readme_results.py                      # outputs/smoke/table1.csv into README.md
    python scripts/readme_results.py outputs/other --readme README.md

Replaces the text between ``<!-- smoke-table:start -->`` and ``<!-- smoke-table:end -->``: Table 1
(accuracy %, format compliance % in parentheses, ⚠ for a collapsed model, each benchmark's chance
level), the verdicts on the paper's claims and the study's own (from metrics.json) and where the numbers come from.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
from pathlib import Path

from vrft_lib.report.console import table1_markdown

START, END = "<!-- smoke-table:start -->", "<!-- smoke-table:end -->"


def section(study_dir: Path) -> str:
    with open(study_dir / "table1.csv", newline="", encoding="utf-8") as f:
        records = list(csv.DictReader(f))
    metrics = json.loads((study_dir / "metrics.json").read_text()) if (study_dir / "metrics.json").is_file() else {}
    lines = [table1_markdown(records), ""]
    for group, title in (("paper", "The paper's claims on these numbers:"), ("study", "This study's own claims:")):
        claims = [c for c in metrics.get("findings") or [] if c.get("group") == group]
        if claims:
            lines.append(title)
            lines += [
                f"- *{str(c['verdict']).replace('_', ' ')}*: {c.get('claim') or c['paper_claim']}" for c in claims
            ]
            lines.append("")
    prov = metrics.get("provenance") or {}
    commits = ", ".join(prov.get("git_commits") or {}) or "not recorded"
    lines.append(
        f"From `{study_dir}` (study `{(metrics.get('study') or {}).get('name', '?')}`, commit {commits}, "
        f"generated {metrics.get('generated', '?')}); rewrite with `python scripts/readme_results.py`."
    )
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("study_dir", nargs="?", default="outputs/smoke", help="a finished study folder")
    p.add_argument("--readme", default="README.md", help="the file to update (default README.md)")
    ns = p.parse_args(argv)
    readme = Path(ns.readme)
    text = readme.read_text(encoding="utf-8")
    if START not in text or END not in text:
        raise SystemExit(f"{readme}: no {START} ... {END} section to replace")
    body = section(Path(ns.study_dir))
    new = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: f"{START}\n{body}\n{END}", text, flags=re.S)
    readme.write_text(new, encoding="utf-8")
    print(f"{readme}: results section written from {ns.study_dir}/table1.csv")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
