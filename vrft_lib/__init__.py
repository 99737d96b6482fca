"""vrft: a reproducible study kit for reinforcement (GRPO) vs supervised fine-tuning of
multimodal LLMs on visual tasks."""

__version__ = "0.1.0"
