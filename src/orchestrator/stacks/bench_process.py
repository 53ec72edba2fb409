"""One bench process per server variant: `bench_points.py` runs all the variant's points in the
client (vLLM's benchmark imported once, overlapping the server's start-up), and each point's
result JSON is copied home as soon as its `=== done` line appears."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from orchestrator.config.model import StackSpec, Workload
from orchestrator.config.sweep_matrix import Point, ServerVariant, point_seed
from orchestrator.errors import BenchmarkError, ServerLostError
from orchestrator.names import Role
from orchestrator.plan import CLIENT_RESULTS_DIR, SCRIPTS_MOUNT, Plan, VolumeSource
from orchestrator.plan.bench import server_url
from orchestrator.results.answers import METRICS_DIR, METRICS_SUFFIX
from orchestrator.results.bench_records import LATENCIES, PERCENTILES, ResultFormatError
from orchestrator.results.run_folder import RunFolder
from orchestrator.runtime.base import Runtime
from orchestrator.serving import engine_of

# What bench_points.py prints when a point starts and when its result file is written.
POINT_START = re.compile(r"^=== concurrency (\d+) -> (.*/)?(?P<name>[^/]+?)\s*$")
WARMUP_DONE = re.compile(r"^=== warmup -> .*\((?P<took>[0-9.]+) s\)\s*$")
WARMUP_FILE = "warmup.json"  # in the client's result folder; home as warmup/<variant>.json
WARMUP_DIR = "warmup"
CONSTANT_BURSTINESS = 10_000
NEXT_POINT_WAIT_S = 3600  # how long a search's bench process waits for its next probe
POINT_DONE = re.compile(
    r"^=== done concurrency (\d+) -> (.*/)?(?P<name>[^/ ]+)(?: \((?P<took>[0-9.]+) s\))?\s*$")


def workload_flags(work: Workload) -> list[str]:
    """`vllm bench serve` flags for one workload, but the dataset's: bench_points.py builds
    those from workload_json's "dataset" (as it does for run_benchmark.sh)."""
    flags = ["--num-prompts", str(work.num_prompts), "--request-rate", str(work.request_rate),
             "--temperature", str(work.temperature), "--seed", str(work.seed)]
    if work.arrivals == "constant":  # a gamma of this shape has a 1% spread: even intervals
        flags += ["--burstiness", str(CONSTANT_BURSTINESS)]
    if work.ignore_eos:
        flags.append("--ignore-eos")
    if work.dataset != "conversations":  # per-request times: the steady window, compare's tests
        flags.append("--save-detailed")
    flags += ["--percentile-metrics", ",".join(LATENCIES),
              "--metric-percentiles", ",".join(str(p) for p in PERCENTILES)]
    slo = {"ttft": work.slo.ttft_ms, "tpot": work.slo.tpot_ms, "e2el": work.slo.e2el_ms}
    goodput = [f"{k}:{v:g}" for k, v in slo.items() if v is not None]
    if goodput:
        flags += ["--goodput", *goodput]
    return flags


def workload_json(work: Workload, metadata: list[str]) -> str:
    """bench_points.py's --workload JSON: the dataset, vLLM's other flags and metadata, and
    for conversations what the replay reads."""
    data: dict[str, object] = {
        "dataset": {"name": work.dataset, "input_len": work.input_len,
                    "output_len": work.output_len},
        "flags": workload_flags(work), "metadata": metadata}
    if work.dataset == "conversations":  # the file: --dataset-path among the common flags
        data["conversations"] = {"replay": work.replay, "output_len": work.output_len}
    return json.dumps(data)


def bench_argv(spec: StackSpec, plan: Plan, variant: ServerVariant, points: list[Point],
               wait_s: int | None, warmup: bool = False, more_to_come: bool = False,
               steered: bool = False) -> list[str]:
    """The client command that runs `points` in one process, each with its own seed and prompt
    count; with `wait_s`, it imports vLLM's benchmark first and then waits up to that long for
    the server; with `warmup`, the first point's warm-up requests (workload.warmup_prompts) go
    first, with prompts of their own, saved apart (WARMUP_FILE). The process reads its control
    file (control_path) before each point: points added or skipped while it runs; with
    `more_to_come` (a search) it waits for the next point when the given ones are done; with
    `steered`, it waits after each point until the caller has seen it (BenchProcess.seen).
    `plan` is the stack the client runs in: its project, run and the dataset file's mount."""
    project, run_id = plan.project, plan.run_id
    server = spec.server
    assert server is not None
    url = server_url(spec, project)
    argv = ["python3", f"{SCRIPTS_MOUNT}/bench_points.py",
            "--result-dir", results_dir(run_id, variant),
            "--metadata", f"orchestrator_run={run_id}", "--metadata", f"variant={variant.name}"]
    if wait_s:
        argv += ["--wait-ready", url, str(wait_s)]
    engine = engine_of(server.engine)
    argv += ["--metrics-url", url, "--metrics-names", json.dumps(engine.metrics)]
    first = points[0] if points else None
    # A rate probe's concurrency is only a cap: its warm-up is the default's smallest.
    at = first.concurrency if first and first.rate is None else 1
    salt = prompt_salt(spec, run_id)
    if warmup and first and (count := first.workload.workload.warmup_count(at)):
        argv += ["--warmup", str(count), WARMUP_FILE,
                 f"seed={point_seed(first.workload.workload, f'{salt}warmup')}"]
    # A server the tool did not start may serve others too: its cache is not the tool's to
    # empty (seeds of this run's own still give every point prompts it has not seen).
    fresh = any(p.workload.workload.fresh_per_point for p in points)
    if fresh and not spec.client.server_url and engine.reset_cache_path:
        argv += ["--reset-prefix-cache", engine.reset_cache_path]
    argv += ["--control", control_path(run_id, variant)]
    if more_to_come:
        argv += ["--wait-more", str(NEXT_POINT_WAIT_S)]
    if steered:
        argv.append("--steered")
    seen: set[str] = set()
    for point in points:
        work = point.workload
        if work.name not in seen:
            seen.add(work.name)
            meta = [f"workload={work.name}", f"input_len={work.workload.input_len}",
                    f"output_len={work.workload.output_len}", f"dataset={work.workload.dataset}"]
            argv += ["--workload", work.name, workload_json(work.workload, meta)]
    for point in points:
        argv += ["--point", *point_tokens(point, salt)]
    # The dataset file is one argv item of its own (so the local runtime maps its path).
    volume = plan.component(Role.client).volume(VolumeSource.dataset)
    dataset = volume.mount_path if volume else None
    return [*argv, "--", "--backend", "openai", "--base-url", url, "--endpoint",
            "/v1/completions", "--model", server.model_name, "--tokenizer", server.model,
            *(["--dataset-path", dataset] if dataset else [])]


def prompt_salt(spec: StackSpec, run_id: str) -> str:
    """What the run's prompt seeds are drawn with besides each point's place: for a server the
    tool did not start (client.server_url), the run's id, as that server outlives the run and
    its prefix cache would answer the prompts of an earlier run of the same config (measured on
    an H200: 97% hits); nothing for a server the tool starts, whose cache it resets before each
    point, so a config's prompts stay the same from run to run."""
    return f"{run_id}/" if spec.client.server_url else ""


def point_tokens(point: Point, salt: str) -> list[str]:
    """A point as bench_points.py takes it: C NAME W seed=S prompts=N [rate=R]."""
    return [str(point.concurrency), point.name, point.workload.name, f"seed={point.seed(salt)}",
            f"prompts={point.prompts}", *([f"rate={point.rate:g}"] if point.rate else [])]


def control_path(run_id: str, variant: ServerVariant) -> str:
    """The variant's control file in the client (beside its result folder, not in it)."""
    return f"{CLIENT_RESULTS_DIR}/{run_id}/{variant.name}.control.json"


def results_dir(run_id: str, variant: ServerVariant) -> str:
    """Where the variant's result files are written in the client."""
    return f"{CLIENT_RESULTS_DIR}/{run_id}/{variant.name}"


@dataclass
class PointResult:
    """A point whose result is home: its file and its wall time in the bench tool."""

    point: Point
    wall_s: float | None  # None: brought home after the process was stopped


class BenchProcess:
    """The variant's bench process, run in a thread (so the server's readiness can be awaited
    meanwhile); `on_point` is called for each point whose result file is home, until `stop`."""

    def __init__(self, runtime: Runtime, plan: Plan, folder: RunFolder, variant: ServerVariant,
                 points: list[Point], argv: list[str], log_name: str,
                 on_point: Callable[[PointResult], None], stop: threading.Event, salt: str,
                 on_warmup: Callable[[float], None] | None = None) -> None:
        self.runtime, self.plan, self.folder, self.salt = runtime, plan, folder, salt
        self.variant, self.points, self.argv, self.log_name = variant, points, argv, log_name
        self.on_point, self.stop, self.on_warmup = on_point, stop, on_warmup
        self.by_name = {p.name: p for p in points}
        self.done: set[str] = set()
        self.skipped: set[str] = set()
        self._control: dict[str, Any] = {"add": [], "skip": [], "seen": [], "end": False}
        self.code: int | None = None
        self.error: BaseException | None = None
        self._pending = ""
        self._started_at = time.monotonic()
        self.first_start: float | None = None  # monotonic time its first point started
        self._thread = threading.Thread(target=self._run, name=f"bench-{variant.name}",
                                        daemon=True)

    def start(self) -> BenchProcess:
        """Start the process in its thread."""
        self._thread.start()
        return self

    def join(self) -> None:
        """Wait for the process (Ctrl-C stays deliverable); raise BenchmarkError when it failed
        or left a point without its result."""
        while self._thread.is_alive():
            self._thread.join(0.5)
        if self.error is not None:
            raise self.error
        missing = [p for p in self.points if p.name not in self.done | self.skipped]
        if self.code != 0:
            failed = missing[0] if missing else self.points[-1]
            raise BenchmarkError(
                f"{self.variant.name}: bench_points.py failed at {_label(failed)} (exit"
                f" {self.code}); its output is in {self.folder.path / self.log_name}")
        if missing:
            raise BenchmarkError(f"{self.variant.name}: {_label(missing[0])} finished but left"
                                 " no result file in the client")

    def add(self, point: Point) -> None:
        """Run `point` after the ones given (a search's next probe)."""
        self.points.append(point)
        self.by_name[point.name] = point
        self._control["add"].append(point_tokens(point, self.salt))
        self._write_control()

    def skip(self, points: list[Point]) -> None:
        """Do not run these points (the grid's over-saturation stop); told with `seen`."""
        fresh = [p for p in points if p.name not in self.done | self.skipped]
        self.skipped.update(p.name for p in fresh)
        self._control["skip"] += [p.name for p in fresh]

    def seen(self, point: Point) -> None:
        """The caller has read `point` (and decided what to skip): a steered process goes on."""
        self._control["seen"].append(point.name)
        self._write_control()

    def end(self) -> None:
        """No more points will be added: the process ends after its last."""
        self._control["end"] = True
        self._write_control()

    def _write_control(self) -> None:
        argv = ["python3", f"{SCRIPTS_MOUNT}/bench_points.py", "--write-control",
                control_path(self.plan.run_id, self.variant), json.dumps(self._control)]
        said: list[str] = []
        if self.runtime.exec(self.plan, Role.client, argv, said.append) != 0:
            raise BenchmarkError(f"{self.variant.name}: could not tell the bench process its"
                                 f" next points: {''.join(said).strip()[-300:]}")

    def _run(self) -> None:
        try:
            self.code = self.runtime.exec(self.plan, Role.client, self.argv, self._show, logged=True)
        except BaseException as exc:  # noqa: BLE001 - handed to join(), in the caller's thread
            self.error = exc

    def _show(self, text: str) -> None:
        self.folder.append_text(self.log_name, text)
        lines = (self._pending + text).split("\n")
        self._pending = lines.pop()
        for line in lines:
            if POINT_START.match(line):
                self._started_at = time.monotonic()
                self.first_start = self.first_start or self._started_at
            warmed = WARMUP_DONE.match(line)
            if warmed and not self.stop.is_set():
                self._copy()
                if self.on_warmup is not None:
                    self.on_warmup(float(warmed.group("took")))
            match = POINT_DONE.match(line)
            point = self.by_name.get(match.group("name")) if match else None
            if point is not None and not self.stop.is_set():  # after Ctrl-C: being torn down
                assert match is not None
                took = match.group("took")
                self._collect(point, float(took) if took else None)

    def rescue(self) -> None:
        """After Ctrl-C or a failure, before the client goes: bring home the points that
        finished but whose lines were not handled, so that a resume does not measure them
        again. A half-written result is dropped (a resume measures that point)."""
        missing = [p for p in self.points if p.name not in self.done | self.skipped]
        if not missing:
            return
        try:
            self._copy()
        except Exception:  # noqa: BLE001 - the client may already be gone; nothing to rescue
            return
        for point in missing:
            path = self.folder.raw / self.variant.name / point.name
            if not path.is_file():
                continue
            try:
                self.on_point(PointResult(point, None))
            except ResultFormatError:
                path.unlink()
            except ServerLostError:  # home, flagged server-lost: the failure is told already
                self.done.add(point.name)
            else:
                self.done.add(point.name)

    def _copy(self) -> None:
        """The variant's result folder home: vLLM's JSON into raw/, /metrics series beside."""
        dest = self.folder.raw / self.variant.name
        copied = self.runtime.copy_out(self.plan, Role.client,
                                       results_dir(self.plan.run_id, self.variant), dest)
        series = self.folder.path / METRICS_DIR / self.variant.name
        for path in copied:  # raw/ keeps the points' JSON only; the rest goes beside it
            if path.name == WARMUP_FILE:
                warmup = self.folder.path / WARMUP_DIR / f"{self.variant.name}.json"
                warmup.parent.mkdir(parents=True, exist_ok=True)
                path.replace(warmup)
            elif path.name.endswith(METRICS_SUFFIX):
                series.mkdir(parents=True, exist_ok=True)
                path.replace(series / (path.name.removesuffix(METRICS_SUFFIX) + ".csv"))

    def _collect(self, point: Point, took: float | None) -> None:
        # The bench tool's own clock where it says; else when its lines arrived here.
        wall = took if took is not None else time.monotonic() - self._started_at
        dest = self.folder.raw / self.variant.name
        self._copy()
        if not (dest / point.name).is_file():
            raise BenchmarkError(f"{self.variant.name}: {_label(point)} finished but left no"
                                 " result file in the client")
        self.done.add(point.name)
        try:
            self.on_point(PointResult(point, wall))
        except ResultFormatError as exc:
            raise BenchmarkError(f"{self.variant.name}: {_label(point)}: {exc}") from None


def _label(point: Point) -> str:
    return f"{point.workload.name} concurrency {point.concurrency}" + (
        f" repeat {point.repeat}" if point.repeat else "")
