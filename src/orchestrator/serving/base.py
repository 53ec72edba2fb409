"""What orchestrator knows of one serving engine, in one place: how config fields become its
flags (for the command line and for the check that extra_args does not repeat them), where it
answers health, version and cache-reset requests, what its /metrics series are called, its
cache environment and whether it can span nodes. serving/<engine>.py fills one in;
serving/__init__.py lists them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


class Server(Protocol):
    """What an engine reads of the config's server section (config.model.Server is one): the
    serving engines sit below config/, which asks them for their flag tables and names."""

    model: str
    port: int
    extra_args: list[str]

    @property
    def gpu_count(self) -> int:
        """GPUs per node."""

# The per-point series the scraper writes (container_scripts/server_metrics.py's columns) and
# the report reads; each engine names the metric(s) behind each, first found wins.
SERIES = ("running", "waiting", "kv_cache_usage", "preemptions", "prefix_cache_queries",
          "prefix_cache_hits")


@dataclass(frozen=True)
class FieldFlag:
    """One config field of `server` and the engine flag that carries it."""

    field: str  # the Server attribute
    flag: str  # the flag orchestrator writes
    aliases: tuple[str, ...] = ()  # other spellings the engine accepts for the same setting
    switch: bool = False  # a flag without a value, given when the field is true
    gpu_only: bool = False  # written only for a server with GPUs
    in_argv: bool = True  # False: the launch head already carries it (the model, the port)

    def argv(self, server: Server) -> list[str]:
        """The flag and its value for `server` ([] when the field is unset or off)."""
        value = getattr(server, self.field)
        if not self.in_argv or value is None or (self.gpu_only and server.gpu_count == 0):
            return []
        if self.switch:
            return [self.flag] if value else []
        return [self.flag, str(value)]


# The server fields every engine maps, in the order their flags are written, and what holds of
# each whatever the engine spells it: the launch head carries the model and the port, eager is
# a switch, and a CPU server has no GPU memory to share out.
_FIELDS: dict[str, dict[str, bool]] = {
    "model": {"in_argv": False},
    "port": {"in_argv": False},
    "served_model_name": {},
    "tensor_parallel_size": {},
    "pipeline_parallel_size": {},
    "max_model_len": {},
    "gpu_memory_utilization": {"gpu_only": True},
    "dtype": {},
    "enforce_eager": {"switch": True},
    "max_num_seqs": {},
    "max_num_batched_tokens": {},
}


def field_flags(spelling: dict[str, str | tuple[str, ...]]) -> tuple[FieldFlag, ...]:
    """An engine's rows from its spelling of each mapped field: the flag, or (flag, aliases...)."""
    if set(spelling) != set(_FIELDS):
        raise ValueError(f"an engine spells exactly {sorted(_FIELDS)}, not {sorted(spelling)}")
    rows = []
    for name, facts in _FIELDS.items():
        given = spelling[name]
        flags = (given,) if isinstance(given, str) else given
        rows.append(FieldFlag(name, flags[0], flags[1:], **facts))
    return tuple(rows)


@dataclass(frozen=True)
class NodeLaunch:
    """How one server spans the pods of a LeaderWorkerSet: each pod's command, and the
    environment they all get. `$(LWS_...)` is expanded by Kubernetes from the env LWS injects."""

    leader: list[str]
    worker: list[str]
    env: dict[str, str]


@dataclass(frozen=True)
class ServingEngine:
    """One serving engine: everything orchestrator says to it or reads from it."""

    name: str  # server.engine's value
    title: str  # how messages name it
    launch: Callable[[Server], list[str]]  # the command up to the mapped flags
    flags: tuple[FieldFlag, ...]
    metrics: dict[str, tuple[str, ...]]  # SERIES -> the engine's metric names
    version_path: str  # GET: JSON with a "version" key
    reset_cache_path: str | None  # POST: empties the prefix cache (None: cannot)
    cache_env: Callable[[str], dict[str, str]]  # env that puts its compile caches under a mount
    # Other engines' flags that are not this one's -> the config field that sets the same
    # ("server.NAME"), or what to write instead ("--flag ...", "nothing: why").
    foreign_flags: dict[str, str] = field(default_factory=dict)
    health_path: str = "/health"
    # (argv, nodes, on CPU) -> how the server spans that many pods; None: it cannot.
    across_nodes: Callable[[list[str], int, bool], NodeLaunch] | None = None
    start_log: bool = False  # analysis/server_start.py reads its start-up log

    def argv(self, server: Server) -> list[str]:
        """The whole server command: launch head, mapped fields, then server.extra_args."""
        mapped = [arg for row in self.flags for arg in row.argv(server)]
        return [*self.launch(server), *mapped, *server.extra_args]

    def instead_of(self, flag: str) -> str | None:
        """How to say what another engine's `flag` says, to this engine (None: not foreign)."""
        instead = self.foreign_flags.get(flag)
        if instead is None:
            return None
        if instead.startswith("server."):
            return f"set {instead} instead ({self.title}'s {self.flag_of(instead[7:])})"
        if instead.startswith("nothing: "):
            return f"drop it: {instead.removeprefix('nothing: ')}"
        return f"write {instead} instead"

    def flag_of(self, field_name: str) -> str:
        """The flag this engine writes for a server field."""
        return next(row.flag for row in self.flags if row.field == field_name)

    def managed_flags(self, section: str = "server") -> dict[str, str]:
        """Each flag orchestrator writes (and its aliases) -> the field that sets it."""
        owners = {"--host": "the runtime (it listens on 0.0.0.0)"}
        for row in self.flags:
            for flag in (row.flag, *row.aliases):
                owners[flag] = f"{section}.{row.field}"
        return owners
