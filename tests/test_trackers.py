"""Experiment trackers through ``report_to``: TensorBoard writes event files into the run's folder; a
tracker that is not installed is refused with a message naming its package, before anything is
written."""

import json

import pytest

from vrft_lib.errors import ConfigError
from vrft_lib.train import train


def _sft(tmp_path, model, report_to):
    return {
        "name": "s",
        "method": "sft",
        "model": model,
        "output_dir": str(tmp_path / "run"),
        "data": {"name": "synthetic_banner", "train_limit": 8},
        "train_mode": "no_think",
        "report_to": report_to,
        "trainer": {"max_steps": 2, "per_device_train_batch_size": 4, "gradient_accumulation_steps": 1},
    }


@pytest.mark.slow
def test_tensorboard_event_files_land_in_the_run_folder(tmp_path, tiny_base, monkeypatch):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    monkeypatch.delenv("TENSORBOARD_LOGGING_DIR", raising=False)
    run_dir = train(_sft(tmp_path, tiny_base, "tensorboard"))
    events = list((run_dir / "trainer" / "runs").glob("*/events.out.tfevents.*"))
    assert len(events) == 1, list((run_dir / "trainer").rglob("*"))
    acc = EventAccumulator(str(events[0].parent))
    acc.Reload()
    assert [e.step for e in acc.Scalars("train/loss")] == [1, 2]
    assert not list((run_dir / "trainer").glob("checkpoint-*"))  # a finished run keeps its event files only
    assert json.loads((run_dir / "progress.json").read_text()) == {"step": 2, "max_steps": 2}


def test_a_tracker_that_is_not_installed_is_refused_naming_its_package(tmp_path, monkeypatch):
    import transformers.integrations.integration_utils as iu

    monkeypatch.setattr(iu, "get_available_reporting_integrations", lambda: [])
    with pytest.raises(ConfigError, match=r"run 's'\.report_to: the tracker 'trackio' needs the package 'trackio'"):
        train(_sft(tmp_path, "tiny", "trackio"))
    with pytest.raises(ConfigError, match=r"pip install tensorboard \(or pip install 'vrft\[tensorboard\]'\)"):
        train(_sft(tmp_path, "tiny", "tensorboard"))
    with pytest.raises(ConfigError, match=r"unknown tracker 'tensorbord' \(did you mean 'tensorboard'\?\)"):
        train(_sft(tmp_path, "tiny", "tensorbord"))
    assert not (tmp_path / "run").exists()
