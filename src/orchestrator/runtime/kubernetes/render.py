"""A plan as Kubernetes manifests, from the Helm-like chart in k8s/ (values.yaml + templates).

Values are the chart's defaults deep-merged with what the plan decides; each template renders
to YAML that is parsed back, so a template mistake fails here rather than in `kubectl apply`.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path, PurePosixPath
from typing import Any

import jinja2
import yaml

from orchestrator.errors import RenderError
from orchestrator.names import LABEL_NODE_ROLE, LABEL_RUN
from orchestrator.plan import RENDEZVOUS_PORT, Component, Plan, VolumeSource
from orchestrator.resources import data_dir
from orchestrator.serving import engine_of

_TEMPLATE_SUFFIX = ".yaml.j2"
# The trainer pod's second container: it outlives the trainer, so its output can be copied out.
RESULTS_CONTAINER = "results"
EXIT_CODE_FILE = ".exit-code"  # written into the output folder when the trainer ends
RESUME_INIT = "resume"  # a resumed trainer's init container, which receives the checkpoint
RESUME_AWAIT_S = 900  # how long it waits for it (the orchestrator sends it once the pod runs)


def render_files(plan: Plan) -> dict[str, list[dict[str, Any]]]:
    """`render --runtime kubernetes`: one numbered manifest file per chart template."""
    return render_kubernetes(plan)


def render_kubernetes(plan: Plan) -> dict[str, list[dict[str, Any]]]:
    """Render every chart template; returns {file name: [objects]} for templates that emit any."""
    chart = data_dir("k8s")
    values = chart_values(plan, chart)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(chart / "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["json"] = json.dumps
    rendered: dict[str, list[dict[str, Any]]] = {}
    for template_name in sorted(env.list_templates(filter_func=_is_template)):
        text = env.get_template(template_name).render(**values)
        try:
            objects = [doc for doc in yaml.safe_load_all(text) if doc]
        except yaml.YAMLError as exc:
            raise RenderError(f"k8s/templates/{template_name} rendered invalid YAML: {exc}") from None
        if objects:
            rendered[template_name.removesuffix(_TEMPLATE_SUFFIX) + ".yaml"] = objects
    return rendered


def chart_values(plan: Plan, chart: Path) -> dict[str, Any]:
    """The chart's values.yaml overlaid with the values the plan decides."""
    defaults = yaml.safe_load((chart / "values.yaml").read_text(encoding="utf-8")) or {}
    roles: dict[str, Component] = {c.role.value: c for c in plan.components}
    scripts_name = f"{plan.project}-scripts"
    computed: dict[str, Any] = {
        "namespace": plan.scope.namespace,
        "createNamespace": plan.placement.create_namespace,
        "labels": plan.labels,
        "nodeSelector": plan.placement.node_selector,
        "tolerations": plan.placement.tolerations,
        "server": {"enabled": False},
        "rollout": {"enabled": False},
        "client": {"name": ""},
        "trainer": {"enabled": False},
        "scripts": {"configMapName": scripts_name, "files": _script_files()},
    }
    server = roles.get("server")
    if server:
        computed["server"] = {
            **_server_values(server),
            "nodes": server.nodes,
            # The leader's pod labels, which are also the Service's selector.
            "leaderLabels": {**_selector(server), LABEL_NODE_ROLE: "leader"},
        }
        if server.nodes > 1:
            across = engine_of(server.engine).across_nodes
            assert across is not None  # the config check refuses the others
            launch = across(server.argv, server.nodes, server.gpus.count == 0)
            computed["server"].update(leaderCommand=launch.leader, workerCommand=launch.worker,
                                      env={**server.env, **launch.env})
    rollout = roles.get("rollout")
    if rollout:
        computed["rollout"] = _server_values(rollout)
    client = roles.get("client")
    if client:
        computed["client"] = {
            "name": client.name,
            "image": client.image,
            "command": client.argv,
            "env": client.env,
            "secretEnv": _secret_env(client),
            "labels": client.labels,
            "scriptsMountPath": client.mount(VolumeSource.scripts),
            "resultsPath": client.mount(VolumeSource.scratch),
            "dataset": _dataset(plan, client),
        }
    trainer = roles.get("trainer")
    if trainer:
        computed["trainer"] = {
            "enabled": True,
            "name": trainer.name,
            "image": trainer.image,
            "command": trainer.argv,
            "env": trainer.env,
            "secretEnv": _secret_env(trainer),
            "ports": [{"name": p.name, "containerPort": p.container_port} for p in trainer.ports],
            "gpus": trainer.gpus.count,
            "nodes": trainer.nodes,
            "shmSizeLimit": quantity(trainer.shm_size_bytes or 0),
            "labels": trainer.labels,
            "selector": _selector(trainer),
            "scriptsMountPath": trainer.mount(VolumeSource.scripts),
            "outputPath": trainer.mount(VolumeSource.scratch),
            "outputPvc": next(v.claim for v in trainer.volumes if v.source == VolumeSource.scratch),
            "modelCache": _model_cache(trainer),
            "rendezvousPort": RENDEZVOUS_PORT,
            "resultsContainer": RESULTS_CONTAINER,
            "exitCodeFile": f"{trainer.mount(VolumeSource.scratch)}/{EXIT_CODE_FILE}",
            "dataset": _dataset(plan, trainer),
            "resume": _resume(trainer),
        }
    return _deep_merge(defaults, computed)


def _server_values(component: Component) -> dict[str, Any]:
    """Values shared by the chart's model servers: the bench server and the rollout server."""
    return {
        "enabled": True,
        "name": component.name,
        "containerName": component.role.value,
        "image": component.image,
        "command": component.argv,
        "env": component.env,
        "secretEnv": _secret_env(component),
        "port": component.ports[0].container_port,
        "gpus": component.gpus.count,
        "nodes": 1,
        "shmSizeLimit": quantity(component.shm_size_bytes or 0),
        "memoryLimit": quantity(component.memory_bytes) if component.memory_bytes else None,
        "modelCache": _model_cache(component),
        "compileCache": _compile_cache(component),
        # The plan owns the probe (the engine's health path, its timings); values.yaml only the
        # chart's own readiness period and liveness threshold.
        "probes": {"path": component.probe.path, "periodSeconds": component.probe.period_s,
                   "timeoutSeconds": component.probe.timeout_s,
                   "startupBudgetSeconds": component.probe.startup_budget_s}
        if component.probe else {},
        "labels": component.labels,
        # Pod templates carry exactly the selector's labels: leaving out the per-run label
        # means a new run does not roll the pods.
        "selector": _selector(component),
    }


def _resume(component: Component) -> dict[str, Any]:
    """A resumed trainer's checkpoint folder: an emptyDir that the init container RESUME_INIT
    holds open until the orchestrator has sent the checkpoint into it
    (KubernetesRuntime._send_resume)."""
    volume = component.volume(VolumeSource.resume)
    if volume is None:
        return {"enabled": False}
    return {"enabled": True, "mountPath": volume.mount_path, "container": RESUME_INIT,
            "awaitSeconds": RESUME_AWAIT_S}


def _dataset(plan: Plan, component: Component) -> dict[str, Any]:
    """The dataset file's folder in the component that reads it (the client, or the trainer):
    a claim or node folder holding it, else a ConfigMap of its content (the config check kept
    it within what a ConfigMap holds)."""
    volume = component.volume(VolumeSource.dataset)
    if volume is None or volume.host_path is None:
        return {"enabled": False}
    mount = PurePosixPath(volume.mount_path)
    values: dict[str, Any] = {"enabled": True, "mountPath": str(mount.parent),
                              "fileName": mount.name, "pvc": volume.claim,
                              "hostPath": volume.node_path,
                              "configMapName": f"{plan.project}-dataset"}
    if not (volume.claim or volume.node_path):
        try:
            values["content"] = Path(volume.host_path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise RenderError(f"the dataset file {volume.host_path} cannot be read"
                              f" ({exc})") from None
    return values


def _model_cache(component: Component) -> dict[str, Any]:
    cache = next(v for v in component.volumes if v.source == VolumeSource.model_cache)
    return {"mountPath": cache.mount_path, "pvc": cache.claim, "hostPath": cache.node_path}


def _compile_cache(component: Component) -> dict[str, Any] | None:
    cache = component.volume(VolumeSource.compile_cache)
    if cache is None:
        return None
    return {"mountPath": cache.mount_path, "pvc": cache.claim, "hostPath": cache.node_path}


def quantity(size_bytes: int) -> str:
    """A byte count as a Kubernetes quantity (16Gi, 512Mi, or plain bytes)."""
    for suffix, factor in (("Gi", 1024**3), ("Mi", 1024**2), ("Ki", 1024)):
        if size_bytes and size_bytes % factor == 0:
            return f"{size_bytes // factor}{suffix}"
    return str(size_bytes)


def _is_template(name: str) -> bool:
    # Files starting with "_" hold macros; the number prefixes keep `kubectl apply -f DIR`
    # in dependency order (namespace first).
    return name.endswith(_TEMPLATE_SUFFIX) and not name.startswith("_")


def _secret_env(component: Component) -> list[dict[str, str]]:
    return [
        {"name": name, "secret": ref.k8s_secret, "key": ref.k8s_key}
        for name, ref in component.secret_env.items()
    ]


def _selector(component: Component) -> dict[str, str]:
    # Selectors are immutable, so they leave out the per-run label.
    return {k: v for k, v in component.labels.items() if k != LABEL_RUN}


def _script_files() -> dict[str, str]:
    folder = data_dir("container_scripts")
    return {
        path.name: path.read_text(encoding="utf-8")
        for path in sorted(folder.iterdir())
        if path.is_file() and not path.name.startswith(".")
    }


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
