"""Small outputs: a finished run drops its checkpoints (keeping model/ and the Trainer's state), run
notebooks store plotly's JSON only (plotly.js is inlined once, in the report)."""

import json
from pathlib import Path

import nbformat

from vrft_lib.checkpoints import drop_checkpoints
from vrft_lib.config import load_run_config
from vrft_lib.files import dump_yaml
from vrft_lib.runfolder import config_diff


def _checkpoint(trainer_dir: Path, step: int, complete: bool = True) -> None:
    ckpt = trainer_dir / f"checkpoint-{step}"
    ckpt.mkdir(parents=True)
    for name in ("model.safetensors", "optimizer.pt", "scheduler.pt", "rng_state.pth"):
        (ckpt / name).write_bytes(b"x" * 1000)
    if complete:
        (ckpt / "trainer_state.json").write_text(json.dumps({"global_step": step}))


def test_a_finished_run_drops_its_checkpoints_and_keeps_the_trainer_state(tmp_path):
    train_dir = tmp_path / "train"
    (train_dir / "model").mkdir(parents=True)
    (train_dir / "model" / "model.safetensors").write_bytes(b"w")
    _checkpoint(train_dir / "trainer", 40)
    _checkpoint(train_dir / "trainer", 80)
    _checkpoint(train_dir / "trainer", 90, complete=False)  # a kill while saving leaves this
    assert drop_checkpoints(train_dir) == 3 * 4000 + 2 * len(json.dumps({"global_step": 80}))
    assert not list((train_dir / "trainer").glob("checkpoint-*"))
    assert json.loads((train_dir / "trainer_state.json").read_text()) == {"global_step": 80}
    assert (train_dir / "model" / "model.safetensors").read_bytes() == b"w"
    assert drop_checkpoints(tmp_path / "nothing") == 0


def test_keeping_checkpoints_is_a_choice_that_does_not_change_the_run(tmp_path):
    cfg = load_run_config({"name": "r", "method": "sft", "keep_checkpoints_when_done": True})
    assert (
        cfg.keep_checkpoints_when_done
        and not load_run_config({"name": "r", "method": "sft"}).keep_checkpoints_when_done
    )
    saved = tmp_path / "config.yaml"
    dump_yaml({k: v for k, v in cfg.to_dict().items() if k != "keep_checkpoints_when_done"}, saved)
    assert config_diff(saved, cfg.to_dict()) == []  # a folder written before the option resumes


def test_run_notebooks_do_not_inline_plotly_js_and_the_report_does():
    for name in ("training_free", "sft", "rft"):
        src = "\n".join(c.source for c in nbformat.read(f"notebooks/{name}.ipynb", as_version=4).cells)
        assert 'plots.setup_notebook_renderer("plotly_mimetype")' in src, name
    report = "\n".join(c.source for c in nbformat.read("notebooks/report.ipynb", as_version=4).cells)
    assert "plots.setup_notebook_renderer()" in report


def test_the_tiny_base_shows_its_loss_on_the_bar_not_as_printed_dicts():
    import io

    from tqdm import tqdm
    from transformers.trainer_callback import ProgressCallback, TrainerState

    from vrft_lib.tiny.base import loss_on_the_bar

    class Trainer:
        callbacks = [ProgressCallback]

        def remove_callback(self, cb):
            self.callbacks.remove(cb)

        def add_callback(self, cb):
            self.callbacks.append(cb)

    trainer = Trainer()
    loss_on_the_bar(trainer)
    (cls,) = trainer.callbacks
    assert issubclass(cls, ProgressCallback) and cls is not ProgressCallback
    out = io.StringIO()
    cb = cls()
    cb.training_bar = tqdm(total=10, file=out)
    cb.on_log(None, TrainerState(), None, logs={"loss": 0.5, "grad_norm": 1.0, "learning_rate": 1e-4})
    cb.training_bar.close()
    assert "loss=0.500" in out.getvalue() and "grad_norm" not in out.getvalue()


def test_the_study_bar_shows_the_running_runs_step(tmp_path):
    import threading
    from types import SimpleNamespace

    from transformers.trainer_callback import TrainerState

    from vrft_lib.study.runner import watch_progress
    from vrft_lib.train import PROGRESS_FILE, progress_callback

    run = SimpleNamespace(run_dir=str(tmp_path), run_id="sat/rft/seed0")
    (tmp_path / "train").mkdir()
    state = TrainerState(global_step=12, max_steps=80)
    progress_callback(tmp_path / "train" / PROGRESS_FILE).on_step_end(None, state, None)
    shown, stop = [], threading.Event()

    class Bar:
        def set_postfix_str(self, text):
            shown.append(text)
            stop.set()

    watch_progress(run, Bar(), stop, every=0.01)
    assert shown == ["sat/rft/seed0: step 12/80"]
