"""SFT with a share of the tiny base's instruction mix replayed (``replay``), so that fine-tuning on a
task's answer-only targets keeps the think format."""

import pytest

from vrft_lib.config import load_run_config
from vrft_lib.errors import ConfigError
from vrft_lib.train import train_dataset_for


def sft(**kw):
    data = {"name": "synthetic_count", "train_limit": 20}
    return load_run_config({"name": "s", "method": "sft", "train_mode": "no_think", "data": data, **kw})


def test_replay_adds_the_share_of_mix_rows_in_both_modes():
    plain = train_dataset_for(sft())
    mixed = train_dataset_for(sft(replay=0.5))
    assert len(plain) == 20 and len(mixed) == 40
    targets = [r["completion"][0]["content"] for r in mixed]
    task = {r["completion"][0]["content"] for r in plain}
    assert all(t.startswith("<answer>") for t in task)  # the task's targets are answer-only
    think = [t for t in targets if t.startswith("<think>")]
    assert 5 <= len(think) <= 15  # the mix comes in both modes
    questions = [r["prompt"][0]["content"][-1]["text"] for r in mixed]
    assert sum("Which colour has more shapes here" in q for q in questions) == 20
    assert [r["completion"] for r in train_dataset_for(sft(replay=0.5))] == [r["completion"] for r in mixed]
    assert len(train_dataset_for(sft(replay=0.2))) == 25


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"replay": 1.0}, r"replay: a share from 0 \(no replay\) to below 1, got 1.0"),
        ({"replay": -0.1}, "replay: a share from 0"),
        ({"replay": 0.5, "method": "grpo", "train_mode": "think"}, "only SFT replays the instruction mix"),
    ],
)
def test_bad_replay_names_the_field(bad, match):
    with pytest.raises(ConfigError, match=match):
        sft(**bad)
