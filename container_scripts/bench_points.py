#!/usr/bin/env python3
"""Run several `vllm bench serve` points in ONE process, so vLLM is imported once, not per point.

    bench_points.py --point C NAME [W] [seed=S] [prompts=N] [rate=R] [--point ...]
                    --result-dir DIR [--metadata K=V ...] [--workload W JSON ...]
                    [--wait-ready URL SECONDS] [--warmup N NAME [seed=S]]
                    [--metrics-url URL --metrics-names JSON] [--reset-prefix-cache PATH]
                    [--control PATH [--wait-more SECONDS] [--steered]]
                    -- VLLM_BENCH_FLAGS...
    bench_points.py --write-control PATH JSON

For each point (C: its max concurrency; NAME: its result file; W: a workload, optional; S and N:
its own --seed and --num-prompts, optional) it calls vLLM's own benchmark
(`vllm.benchmarks.serve.main`, what `vllm bench serve` runs) with VLLM_BENCH_FLAGS, then workload
W's flags, then the point's, plus `--max-concurrency C --save-result --result-dir DIR
--result-filename NAME --metadata concurrency=C K=V ...`, so each result JSON is exactly the one
`vllm bench serve --save-result` writes. A workload's JSON is {"flags": [...], "metadata":
["K=V", ...]}; a workload with "conversations": {"replay", "output_len"} replays the --dataset-
path JSONL file turn by turn over /v1/chat/completions instead (replay_conversations.py; its
--num-prompts is the number of conversations).
- --warmup: N requests of the first point's workload, at its concurrency, go first and are saved
  as NAME (`=== warmup -> DIR/NAME (S s)`), so the server's cold start is measured apart. Without
  it, the first point after --wait-ready (a server just started) carries `cold=1`.
- --wait-ready: vLLM's benchmark is imported first and the server's /health awaited after, so
  the import overlaps the server's start-up.
- --metrics-url: the server's /metrics is scraped every 0.5 s during each point into
  DIR/STEM.metrics.csv (server_metrics.py), with one sample taken before the point's first
  request and one after its last, so the series covers the point; --metrics-names is the
  engine's {"column": ["metric name", ...]} (orchestrator's serving/ module for it).
- --reset-prefix-cache PATH: POST PATH before each point that is not a replay, so no point
  measures prefill cached at an earlier one (vLLM answers /reset_prefix_cache only in its dev
  mode, VLLM_SERVER_DEV_MODE=1); the result says `prefix_cache_reset=done` or `unavailable`.
- rate=R: the point sends at R requests/s (--request-rate), at most C in flight.
- --control PATH: a JSON file the caller may rewrite while points run (--write-control writes it
  atomically): {"add": [[C, NAME, W, "seed=S", ...], ...], "skip": [NAME, ...], "end": true}.
  Before each point it is read again: added points run after the given ones, a skipped one is
  not run (`=== skipped concurrency C -> DIR/NAME`). With --wait-more, when no point is left the
  process waits up to SECONDS for one to be added, or for "end" (a capacity search adds each
  probe after reading the one before). With --steered, after each point it waits (up to
  --wait-more, or a minute) until the file lists the point under "seen", so a decision about
  the next points (a grid's over-saturation stop) is taken before the next one starts.
A line `=== done concurrency C -> DIR/NAME (S s)` follows each point (S: its wall time in this
process), so a caller can copy it at once.
run_benchmark.sh builds these arguments from its seed-compatible flags; orchestrator's sweeps
pass one workload per workload variant.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import http_check  # beside this script
from server_metrics import Scraper  # beside this script


@dataclass
class Workload:
    """Flags and metadata one group of points adds to the common flags."""

    flags: list[str] = field(default_factory=list)
    metadata: list[str] = field(default_factory=list)
    conversations: dict[str, Any] | None = None


@dataclass
class PointSpec:
    """One point of the command line."""

    concurrency: int
    name: str  # its result file
    workload: str = ""  # a --workload id
    seed: int | None = None  # its own --seed
    prompts: int | None = None  # its own --num-prompts
    rate: float | None = None  # its own --request-rate


@dataclass
class Args:
    """The parsed command line."""

    points: list[PointSpec]
    result_dir: str
    metadata: list[str]
    workloads: dict[str, Workload]
    wait_ready: tuple[str, float] | None
    flags: list[str]
    metrics_url: str | None = None
    metrics_names: dict[str, list[str]] | None = None
    warmup: tuple[int, str, int | None] | None = None  # (requests, result file, seed)
    reset_prefix_cache: str | None = None  # the engine's path
    control: str | None = None
    wait_more: float = 0.0
    steered: bool = False


def fail(message: str) -> None:
    """Exit with one line on stderr."""
    sys.exit(f"bench_points.py: {message}")


def dataset_flags(dataset: dict[str, Any]) -> list[str]:
    """`vllm bench serve`'s flags for a workload's dataset, {"name", "input_len",
    "output_len"}: the one place they are built (the orchestrator's workloads and
    run_benchmark.sh both send the dataset so). A replay of conversations needs none."""
    name = str(dataset["name"])
    if name == "conversations":
        return []
    flags = ["--dataset-name", name]
    if name == "random":
        flags += ["--random-input-len", str(int(dataset["input_len"])),
                  "--random-output-len", str(int(dataset["output_len"]))]
    elif name in ("custom", "sharegpt"):
        # The output length is every dataset's, as it is random's. (The file itself is a
        # common flag, --dataset-path.)
        flags += [f"--{name}-output-len", str(int(dataset["output_len"]))]
    return flags


def parse(argv: list[str]) -> Args:
    """The points, result folder, metadata, workloads and vLLM's flags from the command line."""
    if "--" not in argv:
        fail("put vLLM's benchmark flags after --")
    split = argv.index("--")
    own = argparse.ArgumentParser(prog="bench_points.py")
    own.add_argument("--point", nargs="+", action="append", metavar="C NAME [W]", required=True)
    own.add_argument("--result-dir", required=True)
    own.add_argument("--metadata", action="append", default=[], metavar="K=V")
    own.add_argument("--workload", nargs=2, action="append", default=[], metavar=("W", "JSON"))
    own.add_argument("--wait-ready", nargs=2, metavar=("URL", "SECONDS"))
    own.add_argument("--metrics-url", metavar="URL", help="scrape URL/metrics during each point")
    own.add_argument("--warmup", nargs="+", metavar="N NAME [seed=S]")
    own.add_argument("--metrics-names", metavar="JSON")
    own.add_argument("--reset-prefix-cache", metavar="PATH")
    own.add_argument("--control", metavar="PATH")
    own.add_argument("--wait-more", type=float, default=0.0, metavar="SECONDS")
    own.add_argument("--steered", action="store_true")
    args = own.parse_args(argv[:split])
    workloads = {"": Workload()}
    for key, text in args.workload:
        try:
            data = json.loads(text)
            flags = dataset_flags(data["dataset"]) if "dataset" in data else []
            workloads[key] = Workload(flags + [str(f) for f in data.get("flags", [])],
                                      [str(m) for m in data.get("metadata", [])],
                                      data.get("conversations"))
        except (ValueError, AttributeError, TypeError, KeyError):
            fail(f"--workload {key}: not a JSON object with flags and metadata lists (and a"
                 " dataset with name, input_len and output_len)")
        if workloads[key].conversations is not None and not isinstance(
                workloads[key].conversations, dict):
            fail(f"--workload {key}: conversations must be an object with replay and"
                 " output_len")
    points = [parse_point(given, workloads) for given in args.point]
    wait = None
    if args.wait_ready:
        url, seconds = args.wait_ready
        try:
            wait = (url.rstrip("/"), float(seconds))
        except ValueError:
            fail(f"--wait-ready {url} {seconds}: SECONDS must be a number")
    warmup = None
    if args.warmup:
        count, name, *rest = args.warmup if len(args.warmup) > 1 else [*args.warmup, ""]
        extras = _extras(rest, ("seed",), "--warmup")
        if not count.isdigit() or int(count) < 1 or not name or "/" in name:
            fail(f"--warmup {' '.join(args.warmup)}: N must be a whole number of 1 or more, NAME"
                 " a file name")
        warmup = (int(count), name, extras.get("seed"))
    names = None
    if args.metrics_url:
        try:
            names = {str(k): [str(n) for n in v] for k, v in json.loads(args.metrics_names).items()}
        except (TypeError, ValueError, AttributeError):
            fail("--metrics-url needs --metrics-names: a JSON object of column -> metric names")
    return Args(points, args.result_dir, args.metadata, workloads, wait, argv[split + 1:],
                args.metrics_url, names, warmup, args.reset_prefix_cache, args.control,
                args.wait_more, args.steered)


def parse_point(given: list[str], workloads: dict[str, Workload]) -> PointSpec:
    """One --point: CONCURRENCY NAME [WORKLOAD] [seed=S] [prompts=N] [rate=R]."""
    if len(given) < 2:
        fail(f"--point takes CONCURRENCY NAME [WORKLOAD] [seed=S] [prompts=N] [rate=R], not"
             f" {' '.join(given)!r}")
    concurrency, name, *rest = given
    workload = rest.pop(0) if rest and "=" not in rest[0] else ""
    rates = [item for item in rest if item.startswith("rate=")]
    rest = [item for item in rest if not item.startswith("rate=")]
    extras = _extras(rest, ("seed", "prompts"), f"--point {concurrency} {name}")
    rate = None
    for item in rates:
        try:
            rate = float(item.removeprefix("rate="))
        except ValueError:
            rate = -1.0
        if not 0 < rate < float("inf"):
            fail(f"--point {concurrency} {name}: {item!r} must be a number of requests/s above 0")
    if not concurrency.isdigit() or int(concurrency) < 1:
        fail(f"concurrency {concurrency!r} must be a whole number of 1 or more")
    if "/" in name:
        fail(f"result name {name!r} must be a file name, not a path")
    if workload not in workloads:
        fail(f"--point {concurrency} {name} names workload {workload!r}, given by no --workload")
    if extras.get("prompts") == 0:
        fail(f"--point {concurrency} {name}: prompts must be 1 or more")
    return PointSpec(int(concurrency), name, workload, extras.get("seed"), extras.get("prompts"),
                     rate)


def _extras(items: list[str], allowed: tuple[str, ...], where: str) -> dict[str, int]:
    """KEY=N items (whole numbers) among `allowed`."""
    out: dict[str, int] = {}
    for item in items:
        key, _, value = item.partition("=")
        if key not in allowed or not value.isdigit():
            fail(f"{where}: {item!r} is not one of {', '.join(k + '=N' for k in allowed)}")
        out[key] = int(value)
    return out


def wait_ready(url: str, seconds: float) -> None:
    """Wait for the server's /health (http_check.wait_ready); exit when `seconds` pass first."""
    if http_check.wait_ready(url, seconds) is not None:
        fail(f"server {url} was not healthy within {seconds:g}s")


def write_control(path: str, text: str) -> int:
    """--write-control: replace the control file at once (a reader never sees half of it)."""
    try:
        json.loads(text)
    except ValueError:
        fail("--write-control: JSON is not valid JSON")
    with open(path + ".part", "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(path + ".part", path)
    return 0


def read_control(path: str | None) -> dict[str, Any]:
    """The control file's content ({} when there is none yet, or it is not an object)."""
    if path is None:
        return {}
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def next_point(given: Args, queue: list[PointSpec], index: int) -> tuple[PointSpec | None, bool]:
    """The point at `index` of the queue (added points appended from the control file), and
    whether to skip it; waits for one (--wait-more) when the queue is done and the control
    file has not said "end". None: no point is left."""
    deadline = time.monotonic() + given.wait_more
    while True:
        control = read_control(given.control)
        names = {p.name for p in queue}
        for item in control.get("add") or []:
            if isinstance(item, list) and len(item) > 1 and str(item[1]) not in names:
                queue.append(parse_point([str(v) for v in item], given.workloads))
                names.add(str(item[1]))
        if index < len(queue):
            return queue[index], queue[index].name in set(control.get("skip") or [])
        if not given.wait_more or control.get("end"):
            return None, False
        if time.monotonic() >= deadline:
            fail(f"no next point in {given.control} within {given.wait_more:g}s (the caller"
                 " stopped adding points)")
        time.sleep(0.1)


def await_seen(given: Args, name: str) -> None:
    """--steered: wait until the caller has seen point `name` (its decision is in the file)."""
    deadline = time.monotonic() + (given.wait_more or 60.0)
    while name not in (read_control(given.control).get("seen") or []):
        if time.monotonic() >= deadline:
            fail(f"the caller did not read point {name} within"
                 f" {given.wait_more or 60.0:g}s ({given.control})")
        time.sleep(0.05)


def main() -> int:
    """Run the warm-up, then every point in order; stop at the first that fails."""
    if sys.argv[1:2] == ["--write-control"] and len(sys.argv) == 4:
        return write_control(sys.argv[2], sys.argv[3])
    given = parse(sys.argv[1:])
    started = time.monotonic()
    from vllm.benchmarks import serve  # the slow import, once for all points

    keep_tokenizer(serve)
    print(f"bench_points.py: vLLM's benchmark loaded in {time.monotonic() - started:.1f}s;"
          f" {len(given.points)} point(s)", flush=True)
    if given.wait_ready:
        wait_ready(*given.wait_ready)
    result_dir = given.result_dir
    os.makedirs(result_dir, exist_ok=True)
    os.makedirs(staging(given), exist_ok=True)
    if given.warmup and given.points:
        count, name, seed = given.warmup
        first = given.points[0]
        warmup_started = time.monotonic()
        print(f"=== warmup {count} request(s) -> {result_dir}/{name}", flush=True)
        run_point(serve, given, PointSpec(first.concurrency, name, first.workload, seed, count),
                  ["warmup=1"], first_turns=True)
        print(f"=== warmup -> {result_dir}/{name} ({time.monotonic() - warmup_started:.2f} s)",
              flush=True)
    queue, index = list(given.points), 0
    while True:
        point, skip = next_point(given, queue, index)
        if point is None:
            break
        index += 1
        if skip:
            print(f"=== skipped concurrency {point.concurrency} -> {result_dir}/{point.name}",
                  flush=True)
            continue
        point_started = time.monotonic()
        print(f"=== concurrency {point.concurrency} -> {result_dir}/{point.name}", flush=True)
        metadata = []
        if index == 1 and given.wait_ready and not given.warmup:
            metadata.append("cold=1")  # the first requests a just-started server sees
        if given.reset_prefix_cache and given.workloads[point.workload].conversations is None:
            metadata.append("prefix_cache_reset="
                            + reset_prefix_cache(given.flags, given.reset_prefix_cache))
        scraper = None
        if given.metrics_url and given.metrics_names:
            series = f"{point.name.removesuffix('.json')}.metrics.csv"
            scraper = Scraper(given.metrics_url, os.path.join(staging(given), series),
                              given.metrics_names)
            scraper.begin()  # one sample before the first request
        try:
            run_point(serve, given, point, metadata)
        finally:
            if scraper is not None:
                scraper.end()  # one sample after the last
                publish(given, series)
        took = time.monotonic() - point_started
        print(f"=== done concurrency {point.concurrency} -> {result_dir}/{point.name}"
              f" ({took:.2f} s)", flush=True)
        if given.steered:
            await_seen(given, point.name)
    return 0


def staging(given: Args) -> str:
    """Where a point's files are written before they are whole: beside the result folder, not
    in it, as the orchestrator copies that folder home while the next point runs (a file copied
    half-written would be taken as written, and a copy that sees it again skips it)."""
    return given.result_dir.rstrip("/") + ".staging"


def publish(given: Args, name: str) -> None:
    """Move a whole file from the staging folder into the result folder (one rename)."""
    os.replace(os.path.join(staging(given), name), os.path.join(given.result_dir, name))


def reset_prefix_cache(flags: list[str], path: str) -> str:
    """Ask the server to drop its prefix cache at `path`: `done`, or `unavailable` (vLLM
    outside its dev mode)."""
    base = flags[flags.index("--base-url") + 1].rstrip("/") if "--base-url" in flags else ""
    if not base:
        return "unavailable"
    request = urllib.request.Request(base + path, method="POST", data=b"")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return "done" if response.status == 200 else "unavailable"
    except Exception:  # noqa: BLE001 - 404 outside dev mode, or an older server
        return "unavailable"


def keep_tokenizer(serve: Any) -> None:
    """Load the tokenizer once for all points: vLLM's benchmark loads it anew at every point
    (0.5 to 1.5 s for a 150k-token vocabulary), time spent outside its measured duration."""
    load = serve.get_tokenizer
    loaded: dict[str, Any] = {}

    def get_tokenizer(*args: Any, **kwargs: Any) -> Any:
        key = json.dumps([args, kwargs], sort_keys=True, default=str)
        if key not in loaded:
            loaded[key] = load(*args, **kwargs)
        return loaded[key]

    serve.get_tokenizer = get_tokenizer


def run_point(serve: Any, given: Args, point: PointSpec, more_metadata: Sequence[str] = (),
              first_turns: bool = False) -> None:
    """One point: vLLM's benchmark with the common flags, the workload's, then the point's
    own seed and prompts (later flags win); a conversations workload is replayed instead, into
    the same JSON."""
    from vllm.utils.argparse_utils import FlexibleArgumentParser  # where every vLLM has it

    concurrency, name = point.concurrency, point.name
    own = [*(["--seed", str(point.seed)] if point.seed is not None else []),
           *(["--num-prompts", str(point.prompts)] if point.prompts is not None else []),
           *(["--request-rate", f"{point.rate:g}"] if point.rate is not None else [])]
    own_meta = [f"point_seed={point.seed}"] if point.seed is not None else []
    work = given.workloads[point.workload]
    parser = FlexibleArgumentParser()
    serve.add_cli_args(parser)
    args = parser.parse_args([*given.flags, *work.flags, *own,
                              "--max-concurrency", str(concurrency), "--save-result",
                              "--result-dir", staging(given), "--result-filename", name,
                              "--metadata", f"concurrency={concurrency}", *given.metadata,
                              *work.metadata, *own_meta, *more_metadata])
    if work.conversations is None:
        serve.main(args)
        publish(given, name)
        return
    import replay_conversations  # beside this script

    conv = work.conversations
    result = replay_conversations.run(replay_conversations.Replay(
        path=args.dataset_path, replay=str(conv.get("replay", "live")),
        output_len=int(conv["output_len"]), count=args.num_prompts, concurrency=concurrency,
        base_url=args.base_url.rstrip("/"), model_id=args.model,
        model_name=args.served_model_name or args.model, temperature=args.temperature or 0.0,
        ignore_eos=args.ignore_eos,
        percentiles=[float(p) for p in args.metric_percentiles.split(",")],
        goodput=serve.check_goodput_args(args), first_turns=first_turns))
    # The header `vllm bench serve --save-result` writes, then the replay's result.
    header: dict[str, Any] = {"date": time.strftime("%Y%m%d-%H%M%S"), "endpoint_type":
                              args.backend, "backend": args.backend, "label": None,
                              "model_id": args.model, "tokenizer_id": args.tokenizer}
    for item in args.metadata:
        meta_key, _, value = item.partition("=")
        header[meta_key.strip()] = value.strip()
    header.update({"request_rate": "inf", "burstiness": args.burstiness,
                   "max_concurrency": concurrency, "num_prompts": result["turns"]})
    with open(os.path.join(staging(given), name), "w", encoding="utf-8") as handle:
        json.dump({**header, **result}, handle)
    publish(given, name)
    print(f"bench_points.py: replayed {result['conversations']} conversation(s),"
          f" {result['completed']} turn(s) completed, {result['failed']} failed, in"
          f" {result['time_to_finish_s']:.2f} s ({result['conversations_per_s']:.3f}"
          " conversations/s)", flush=True)


if __name__ == "__main__":
    sys.exit(main())
