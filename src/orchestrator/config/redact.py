"""Hide secret values before a config is shown or saved."""

from __future__ import annotations

import re
from typing import Any

from orchestrator.config.model import StackSpec

REDACTED = "<redacted>"
_SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|ACCESS_?KEY|CREDENTIAL", re.I)


def is_secret_name(name: str) -> bool:
    """Whether an environment variable's name says it holds a secret."""
    return bool(_SECRET_NAME.search(name))


def redact_env(env: dict[str, str]) -> dict[str, str]:
    """A copy of `env` with the values of secret-looking variables replaced."""
    return {key: REDACTED if is_secret_name(key) else value for key, value in env.items()}


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
