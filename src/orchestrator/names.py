"""Names said once: the labels that mark what orchestrator owns, the roles of a stack's
components, and the config fields each role is set by (for messages that name the fix)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

LABEL_PREFIX = "orchestrator."
LABEL_PROJECT = f"{LABEL_PREFIX}project"
LABEL_STACK = f"{LABEL_PREFIX}stack"
LABEL_COMPONENT = f"{LABEL_PREFIX}component"
LABEL_RUN = f"{LABEL_PREFIX}run"
LABEL_NODE_ROLE = f"{LABEL_PREFIX}role"  # leader or worker, in a server that spans nodes


class Role(StrEnum):
    """What a component does in its stack."""

    server = "server"
    client = "client"
    rollout = "rollout"
    trainer = "trainer"


class Stack(StrEnum):
    """What `up`, `render` and a plan run: a benchmark or a training run."""

    bench = "bench"
    train = "train"


# The roles that serve a model over HTTP; each run keeps their whole log.
SERVING_ROLES = (Role.server, Role.rollout)


@dataclass(frozen=True)
class RoleFields:
    """The config fields behind a component, for messages that tell the user what to change."""

    section: str
    image: str
    gpus: str
    port: str
    host_port: str
    memory_fix: str  # what lowers its memory use

    def field(self, name: str) -> str:
        """`section.name`, for fields every role has (startup_timeout, env, ...)."""
        return f"{self.section}.{name}"


ROLE_FIELDS: dict[Role, RoleFields] = {
    Role.server: RoleFields("server", "server.image", "server.gpus", "server.port",
                            "server.host_port", "server.max_num_seqs or server.max_model_len"),
    Role.client: RoleFields("client", "client.image", "client.gpus", "client.port",
                            "client.host_port", "workload.num_prompts"),
    Role.rollout: RoleFields("trainer.rollout", "trainer.rollout.image", "trainer.rollout.gpus",
                             "trainer.rollout.port", "trainer.rollout.host_port",
                             "trainer.rollout.max_model_len or"
                             " trainer.rollout.gpu_memory_utilization"),
    Role.trainer: RoleFields("trainer", "trainer.image", "trainer.gpus", "trainer.port",
                             "trainer.host_port",
                             "trainer.per_device_batch_size or trainer.max_completion_length"),
}


def fields_of(role: str) -> RoleFields:
    """The config fields of a role."""
    return ROLE_FIELDS[Role(role)]
