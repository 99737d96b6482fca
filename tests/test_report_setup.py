"""The report's training set-up and strict-vs-lenient tables, read from run folders (no model)."""

import yaml
from test_report import make_fake_study

from vrft_lib.config import load_run_config
from vrft_lib.files import read_json, write_json
from vrft_lib.report import collect_study, strict_and_lenient, training_setup
from vrft_lib.trainer_args import resolve_trainer_args


def _write_train(run_dir, run: dict, nproc: int):
    cfg = load_run_config(run)
    train = run_dir / "train"
    train.mkdir(parents=True, exist_ok=True)
    (train / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict()))
    write_json(resolve_trainer_args(cfg, device="cpu", num_processes=nproc), train / "trainer_args.json")
    write_json({"num_processes": nproc}, train / "provenance.json")


def test_training_setup_states_batch_targets_and_frozen_parts(tmp_path):
    root = make_fake_study(tmp_path)
    runs = root / "runs" / "synthetic_spatial"
    _write_train(runs / "rft" / "seed0", {"name": "r", "method": "grpo", "prompts_per_device": 1, "device": "cpu"}, 8)
    sft = {
        "name": "s",
        "method": "sft",
        "train_mode": "no_think",
        "freeze_vision": True,
        "freeze_projector": True,
        "device": "cpu",
        "trainer": {"per_device_train_batch_size": 1, "gradient_accumulation_steps": 4},
    }
    _write_train(runs / "sft" / "seed0", sft, 8)
    table = training_setup(collect_study(root)).set_index("variant")
    rft = table.loc["rft"]
    assert rft["per optimizer step"] == "32 prompts (256 completions)" and rft["seen"] == 32 * 300
    s = table.loc["sft"]
    assert s["per optimizer step"] == "32 examples" and s["frozen"] == "vision tower, projector"
    assert s["trained on"].startswith("answer only")


def test_strict_beside_lenient_accuracy(tmp_path):
    root = make_fake_study(tmp_path)
    metrics_path = root / "runs" / "synthetic_banner" / "rft" / "seed0" / "eval" / "metrics.json"
    metrics = read_json(metrics_path)
    metrics["modes"]["think"]["lenient_accuracy"] = 0.9
    write_json(metrics, metrics_path)
    table = strict_and_lenient(collect_study(root))
    row = table[(table["benchmark"] == "Banner-Analysis") & (table["variant"] == "rft") & (table["mode"] == "think")]
    assert row["strict %"].item() == 85.0 and row["lenient %"].item() == 90.0
    other = table[(table["variant"] == "sft") & (table["mode"] == "think")]
    assert other["lenient %"].isna().all()  # evaluations without the lenient rule show none
