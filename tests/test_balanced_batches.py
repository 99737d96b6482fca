"""GRPO prompts in an order that cycles through the answers (``balanced_batches``), so that each step's
prompts hold the answers in equal shares instead of TRL's shuffle."""

from collections import Counter

import pytest

from vrft_lib.config import load_run_config
from vrft_lib.errors import ConfigError
from vrft_lib.train import balanced_order, train_dataset_for
from vrft_lib.trainer_args import resolve_trainer_args


def grpo(**kw):
    data = {"name": "synthetic_count", "train_limit": 40}
    return load_run_config({"name": "g", "method": "grpo", "data": data, **kw})


def test_every_step_of_a_binary_task_holds_both_answers_equally():
    data = train_dataset_for(grpo(balanced_batches=True))
    plain = train_dataset_for(grpo())
    assert sorted(data["id"]) == sorted(plain["id"])  # the same rows, another order
    for k in range(0, 40, 4):  # 4 prompts per step
        assert sorted(Counter(data["solution"][k : k + 4]).values()) == [2, 2]
    assert data["id"] == train_dataset_for(grpo(balanced_batches=True))["id"]  # the seed fixes it
    assert data["id"] != train_dataset_for(grpo(balanced_batches=True, seed=1))["id"]


def test_a_multi_class_order_takes_every_class_once_per_round():
    solutions = [c for c in "abcde" for _ in range(6)] + ["a", "a"]
    order = balanced_order(solutions, seed=3)
    assert sorted(order) == list(range(len(solutions)))
    for k in range(0, 30, 5):
        assert sorted(solutions[i] for i in order[k : k + 5]) == list("abcde")
    assert [solutions[i] for i in order[30:]] == ["a", "a"]  # what is left over comes last


def test_trl_keeps_the_order_only_when_asked():
    assert resolve_trainer_args(grpo(balanced_batches=True), device="cpu")["shuffle_dataset"] is False
    assert "shuffle_dataset" not in resolve_trainer_args(grpo(), device="cpu")


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"method": "sft", "train_mode": "no_think"}, "only GRPO orders its prompts by answer"),
        ({"trainer": {"shuffle_dataset": True}}, "remove trainer.shuffle_dataset"),
    ],
)
def test_bad_balanced_batches_names_the_field(bad, match):
    with pytest.raises(ConfigError, match=match):
        grpo(balanced_batches=True, **bad)
