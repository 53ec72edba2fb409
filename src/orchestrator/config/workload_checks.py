"""Rules that relate the workload to the rest of a valid-shaped config: concurrency against
the prompts and the server's slots, the dataset file, the capacity search, and a server the tool
does not start (client.server_url). Each returns the location to blame and a message naming the
fields, their values and a fix; they run before anything starts (checks.CHECKS lists them)."""

from __future__ import annotations

from collections import Counter
from urllib.parse import urlsplit

from orchestrator.config.dataset_files import DatasetFileError, check_dataset_file
from orchestrator.config.model import MAX_CONCURRENCY, ConcurrencyRange, StackSpec, Workload
from orchestrator.config.problems import Problem, carried_problem
from orchestrator.config.source import Loc
from orchestrator.runtimes import kinds_with, traits


def check_concurrency(spec: StackSpec) -> list[Problem]:
    """A concurrency range must run upwards; a list must not repeat a value."""
    concurrency = spec.workload.concurrency
    loc: Loc = ("workload", "concurrency")
    if isinstance(concurrency, ConcurrencyRange):
        if concurrency.min > concurrency.max:
            return [
                (
                    loc,
                    f"workload.concurrency.min = {concurrency.min} is above"
                    f" workload.concurrency.max = {concurrency.max}; swap them",
                )
            ]
        return []
    repeated = sorted(c for c, n in Counter(concurrency).items() if n > 1)
    if repeated:
        return [(loc, f"workload.concurrency = {concurrency} lists {repeated[0]} twice; keep one")]
    return []


def check_dataset(spec: StackSpec) -> list[Problem]:
    """Datasets other than random read a file on this machine: it must exist and hold records
    of the right shape (the first bad one named by line), and reach the client on the runtime."""
    work = spec.workload
    loc = ("workload", "dataset_path")
    if work.dataset != "random" and not work.dataset_path:
        return [(("workload", "dataset"),
                 f"workload.dataset = {work.dataset!r} reads prompts from a file; set"
                 " workload.dataset_path to a file on this machine, or use dataset: random")]
    if work.dataset == "random" and work.dataset_path:
        return [(loc, "workload.dataset_path is set but workload.dataset = 'random' makes up its"
                      " prompts; remove dataset_path or choose custom, sharegpt or"
                      " conversations")]
    if work.replay != "live" and work.dataset != "conversations":
        return [(("workload", "replay"), f"workload.replay = {work.replay!r} is for dataset:"
                                         " conversations; remove it")]
    if not work.dataset_path:
        return []
    try:
        found = check_dataset_file(work.dataset, work.dataset_path)
    except DatasetFileError as exc:
        return [(loc, f"workload.dataset_path: {exc}")]
    return carried_problem(spec, loc, work.dataset_path, found)


def check_prompts_hold_concurrency(spec: StackSpec) -> list[Problem]:
    """A point that sends fewer prompts than its concurrency can never hold that many requests
    in flight: its figures would be ramp-up and tail only."""
    work = spec.workload
    if spec.server is None:
        return []
    short = [c for c in work.concurrency_points if work.prompts_at(c) < c]
    if not short:
        return []
    c = max(short)
    what = "conversations" if work.dataset == "conversations" else "prompts"
    fix = (f"raise workload.num_prompts to {c}" if work.dataset == "conversations" else
           f"raise workload.num_prompts to {c} or workload.min_prompts_per_slot to 1 or more")
    return [(("workload", "num_prompts"),
             f"workload.num_prompts = {work.num_prompts} {what} are fewer than workload.concurrency"
             f" {c}: that point could never hold {c} requests in flight; {fix}, or drop"
             f" concurrency {c}")]


def check_search(spec: StackSpec) -> list[Problem]:
    """A capacity search needs an SLO to search under, one run per probe, a range to search
    and whole numbers for a concurrency; it picks the values the grid fields would give."""
    search = spec.sweep.search
    if search is None:
        return []
    where = ("sweep", "search")
    slo = spec.workload.slo
    if spec.server is None:
        return [(where, "sweep.search measures a server; add server: {model: ...}")]
    problems: list[Problem] = []
    if all(v is None for v in (slo.ttft_ms, slo.tpot_ms, slo.e2el_ms)):
        problems.append((where, "sweep.search finds the capacity under workload.slo, which sets"
                         " none; set workload.slo.ttft_ms (or tpot_ms, e2el_ms)"))
    if search.start > search.max:
        problems.append(((*where, "start"), f"sweep.search.start = {search.start:g} is above"
                         f" sweep.search.max = {search.max:g}; swap them"))
    if search.over == "concurrency":
        for name in ("start", "max", "resolution"):
            value = getattr(search, name)
            if value != int(value):
                problems.append(((*where, name), f"sweep.search.{name} = {value:g} must be a"
                                 " whole number of requests when searching concurrency"))
        if search.max > MAX_CONCURRENCY:
            problems.append(((*where, "max"), f"sweep.search.max = {search.max:g} is above the"
                             f" highest concurrency, {MAX_CONCURRENCY}"))
    field = "concurrency" if search.over == "concurrency" else "request_rate"
    swept = spec.sweep.workload
    varied = (field in swept if isinstance(swept, dict) else any(field in w for w in swept))
    # Compared with the default, not with what was given: a run folder's config.yaml writes
    # every field, and is read back by `report` and --resume.
    default = Workload().model_dump()[field]
    if (spec.workload.model_dump()[field] != default or varied
            or f"workload.{field}" in spec.sweep.link):
        problems.append((("workload", field), f"sweep.search picks workload.{field}'s values;"
                         f" drop workload.{field} (and any sweep or link of it)"))
    if spec.workload.dataset == "conversations":
        problems.append((("workload", "dataset"), "sweep.search runs prompt datasets; the"
                         " conversations replay is measured by a grid"))
    return problems


LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0"})


def check_external_server(spec: StackSpec) -> list[Problem]:
    """client.server_url benchmarks a server the tool does not start: nothing may change its
    settings (server variants, lanes of their own), and its address must be one the client can
    reach where the client runs."""
    url = spec.client.server_url
    if url is None:
        return []
    where = ("client", "server_url")
    problems: list[Problem] = []
    sweep = spec.sweep
    if sweep.server or any(str(to).startswith("server.") for to in sweep.link.values()):
        problems.append((("sweep", "server"), f"client.server_url = {url} benchmarks a server the"
                         " tool does not start, so server variants cannot be run; drop"
                         " sweep.server (and links to server fields) or client.server_url"))
    if sweep.parallel != 1:
        problems.append((("sweep", "parallel"), f"sweep.parallel = {sweep.parallel} runs lanes"
                         " of their own servers, but client.server_url names one server; set"
                         " sweep.parallel to 1"))
    parts = urlsplit(url)
    if parts.path.strip("/"):
        problems.append((where, f"client.server_url = {url} has a path ({parts.path}); give the"
                         f" server's root, {parts.scheme}://{parts.netloc}: the benchmark adds"
                         " /v1/completions itself"))
    host = (parts.hostname or "").lower()
    runtime = traits(spec.runtime.kind)
    if host in LOOPBACK_HOSTS and not runtime.loopback_services:
        try:
            port = str(parts.port or "PORT")
        except ValueError:  # not a port number: the fix names none
            port = "PORT"
        fix = (f"use http://{runtime.host_alias}:{port} (the client reaches this host by that"
               " name)" if runtime.host_alias else "use the server's Service or node address")
        problems.append((where, f"client.server_url = {url} is loopback, but the client runs"
                         f" in a {runtime.title} {runtime.component_word}, where that is itself;"
                         f" {fix}"))
    aliased = kinds_with(lambda other: other.host_alias == host)
    if aliased and runtime.host_alias != host:
        titles = " or ".join(traits(kind).title for kind in aliased)
        problems.append((where, f"client.server_url = {url}: {host} names the host only on"
                         f" {titles}, not on {runtime.title}; use the server's address there"))
    return problems
