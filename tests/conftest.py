"""Shared fixtures. Tests never reach a hub; the tiny instruct base is cached per test session."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def tiny_base():
    """Path of the tiny instruct base (built once per machine into $VRFT_CACHE, then reused)."""
    from vrft_lib.tiny_base import ensure_tiny_base

    return ensure_tiny_base()


@pytest.fixture(scope="session")
def tiny_random(tmp_path_factory):
    """A freshly built random tiny model (no instruct training)."""
    from vrft_lib.models import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", seed=0)
