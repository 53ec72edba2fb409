"""vLLM `bench serve` result JSON to normalized records, and the run's summary files."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from orchestrator.analysis.steady import STEADY_COLUMNS, requests_of, steady_window
from orchestrator.results.run_folder import SUMMARY_CSV, SUMMARY_FILE, RunFolder

# Summary columns, in order; names are vLLM's own result keys.
PERCENTILES = (50, 90, 95, 99)  # asked of vLLM with --metric-percentiles
LATENCIES = ("ttft", "tpot", "itl", "e2el")  # and --percentile-metrics
COLUMNS = (
    "concurrency",
    "num_prompts",
    "completed",
    "failed",
    "duration",
    "request_throughput",
    "request_goodput",
    "output_throughput",
    "total_token_throughput",
    *(f"{stat}_{metric}_ms" for metric in LATENCIES
      for stat in ("mean", "median", *(f"p{p}" for p in PERCENTILES))),
    "total_input_tokens",
    "total_output_tokens",
)


# What bench_points.py says of a point in its metadata: its prompts' seed, whether it ran cold
# (the first requests of a just-started server, no warm-up) and whether the server's prefix
# cache was reset before it.
POINT_METADATA = ("point_seed", "cold", "prefix_cache_reset")

# A conversation replay's own keys (replay_conversations.py), in the summary when present.
REPLAY_COLUMNS = ("conversations", "conversations_completed", "time_to_finish_s",
                  "conversations_per_s")
# What a warm-up keeps (workload.warmup_prompts): enough to set the cold start beside the points.
WARMUP_KEYS = ("completed", "failed", "duration", "mean_ttft_ms", "median_ttft_ms",
               "p99_ttft_ms", "mean_tpot_ms", "mean_e2el_ms")


class ResultFormatError(ValueError):
    """A result file is not vLLM bench JSON."""


def parse_result(path: Path) -> dict[str, Any]:
    """One sweep point's record from its vLLM JSON; the raw file itself is never changed."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ResultFormatError(f"{path.name}: not readable JSON ({exc})") from None
    if not isinstance(data, dict) or "completed" not in data:
        raise ResultFormatError(f"{path.name}: not a `vllm bench serve` result (no 'completed')")
    record = {key: data.get(key) for key in COLUMNS}
    record.update({key: data[key] for key in REPLAY_COLUMNS if key in data})
    record["concurrency"] = data.get("max_concurrency") or _int(data.get("concurrency"))
    record["num_prompts"] = data.get("num_prompts") or (data.get("completed", 0) + data.get("failed", 0))
    record.update({key: data.get(key) for key in POINT_METADATA})
    requests = requests_of(data)
    if requests is not None and record["concurrency"]:
        window = steady_window(requests, int(record["concurrency"]))
        record.update(window.figures() if window else {"steady_requests": 0})
        # The clock of vLLM's request times (perf_counter): the /metrics series uses it too.
        record["requests_clock_s"] = [requests[0].start, max(r.end for r in requests)]
        record["steady_clock_s"] = [window.start, window.end] if window else None
    return record


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def write_rows(folder: RunFolder, rows: list[dict[str, Any]], front: list[str],
               back: tuple[str, ...] = ()) -> None:
    """Rewrite summary.json and summary.csv (atomically) from every row so far, in the given
    order: the `front` columns (a sweep's variant and settings), then vLLM's, then `back` (the
    answers), then the file."""
    folder.write_json(SUMMARY_FILE, rows)
    buffer = io.StringIO()
    replay = [key for key in REPLAY_COLUMNS if any(key in row for row in rows)]
    writer = csv.DictWriter(buffer, fieldnames=[*front, *COLUMNS, *STEADY_COLUMNS, *replay,
                                                *back, *POINT_METADATA, "file"],
                            lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    folder.write_text(SUMMARY_CSV, buffer.getvalue())


def warmup_record(path: Path, wall_s: float | None) -> dict[str, Any]:
    """A warm-up's result file as the few numbers its variant keeps."""
    record = parse_result(path)
    kept = {key: record.get(key) for key in WARMUP_KEYS}
    kept["requests"] = (record.get("completed") or 0) + (record.get("failed") or 0)
    kept["wall_s"] = wall_s
    return kept
