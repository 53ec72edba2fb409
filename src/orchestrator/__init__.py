"""orchestrator: one YAML, one command for vLLM serving benchmarks and GRPO training."""

__version__ = "0.1.0"
