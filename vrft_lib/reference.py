"""The paper's own numbers, which reports put beside a study's (never mixed into them).

Table 1 of "On the Suitability of Reinforcement Fine-Tuning to Visual Tasks" (arXiv 2504.05682):
accuracy (%) of Qwen2.5-VL-7B-Instruct, training-free vs SFT vs RFT, each without and with <think>.
A study YAML refers to it as ``reference: paper_table1``.
"""

PAPER_TABLE1 = {
    "source": "arXiv 2504.05682, Table 1 (Qwen2.5-VL-7B-Instruct, real benchmarks)",
    "table1": {
        "Banner-Analysis": {
            "training_free": {"no_think": 80.72, "think": 80.11},
            "sft": {"no_think": 90.74, "think": 90.21},
            "rft": {"no_think": 97.22, "think": 97.83},
        },
        "FGVC-Aircraft": {
            "training_free": {"no_think": 55.48, "think": 47.55},
            "sft": {"no_think": 75.85, "think": 75.84},
            "rft": {"no_think": 63.57, "think": 83.32},
        },
        "SAT": {
            "training_free": {"no_think": 56.85, "think": 49.84},
            "sft": {"no_think": 58.24, "think": 59.62},
            "rft": {"no_think": 61.01, "think": 62.23},
        },
    },
}

REFERENCES = {"paper_table1": PAPER_TABLE1}
