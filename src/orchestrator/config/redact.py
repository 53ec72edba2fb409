"""Hide secret values before a config is shown or saved (a second guard: validation already
refuses secrets written as text)."""

from __future__ import annotations

from typing import Any

from orchestrator.config.model import StackSpec
from orchestrator.config.secrets import REDACTED, is_secret_name, secret_text


def redact_env(env: dict[str, Any]) -> dict[str, Any]:
    """A copy of `env` with text values of secret-looking variables replaced (references stay)."""
    return {key: REDACTED if isinstance(value, str) and (is_secret_name(key) or secret_text(value))
            else value for key, value in env.items()}


def redacted_config(spec: StackSpec) -> dict[str, Any]:
    """The resolved config as plain data, with secret values replaced by a marker."""
    data = spec.model_dump(mode="json")
    sections = [data["client"], data["server"], data["trainer"]]
    if data["trainer"]:
        sections.append(data["trainer"]["rollout"])
    for section in sections:
        if section:
            section["env"] = redact_env(section["env"])
    return data
