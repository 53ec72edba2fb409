"""`render --with-secrets`: the Secrets that the manifests reference, filled from the operator's
environment. Only when asked: by default no rendered file holds a secret's value."""

from __future__ import annotations

import os
from typing import Any

from orchestrator.plan import Plan


def secret_objects(plan: Plan) -> tuple[list[dict[str, Any]], list[str]]:
    """(Secret objects, the variables that were not set and so were left out). Each Secret
    gathers the keys that the plan's references name, from the variables they name."""
    data: dict[str, dict[str, str]] = {}
    missing: list[str] = []
    for component in plan.components:
        for ref in component.secret_env.values():
            value = os.environ.get(ref.from_env)
            if not value:
                if ref.from_env not in missing:
                    missing.append(ref.from_env)
                continue
            data.setdefault(ref.k8s_secret, {})[ref.k8s_key] = value
    objects = [{
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "namespace": plan.scope.namespace,
                     "labels": {k: v for k, v in plan.labels.items()}},
        "type": "Opaque", "stringData": keys,
    } for name, keys in sorted(data.items())]
    return objects, missing


def render_files(plan: Plan) -> dict[str, list[dict[str, Any]]]:
    """The Secrets as one file, numbered to be applied before the pods that read them."""
    objects, _ = secret_objects(plan)
    return {"05-secrets.yaml": objects} if objects else {}
