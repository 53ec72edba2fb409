#!/usr/bin/env python3
"""Scrape a vLLM server's Prometheus /metrics while a benchmark point runs (bench_points.py
uses it): one CSV row per scrape, so queueing and KV-cache pressure show up beside the result.

    server_metrics.py URL OUT.csv SECONDS     # scrape for SECONDS (by hand, to try it)
"""

from __future__ import annotations

import sys
import threading
import time
import urllib.request

# CSV column -> the vLLM metric it sums over all label sets (V1 names; older servers call the
# KV-cache gauge gpu_cache_usage_perc).
METRICS = {
    "running": ("vllm:num_requests_running",),
    "waiting": ("vllm:num_requests_waiting",),
    "kv_cache_usage": ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"),
    "preemptions": ("vllm:num_preemptions_total",),
    "prefix_cache_queries": ("vllm:prefix_cache_queries_total",),
    "prefix_cache_hits": ("vllm:prefix_cache_hits_total",),
}
MAX_BODY = 4 * 1024 * 1024  # a /metrics page is a few KiB; refuse to hold more


def parse(text: str) -> dict[str, float | None]:
    """The columns' values from a /metrics page (None where the server has no such metric)."""
    sums: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, rest = line.partition("{") if "{" in line.split(" ", 1)[0] else line.partition(" ")
        value = rest.rsplit(" ", 1)[-1] if rest else ""
        try:
            sums[name.strip()] = sums.get(name.strip(), 0.0) + float(value)
        except ValueError:
            continue
    out: dict[str, float | None] = {}
    for column, names in METRICS.items():
        found = [sums[n] for n in names if n in sums]
        out[column] = found[0] if found else None
    return out


class Scraper(threading.Thread):
    """Scrape URL/metrics every `period` seconds into a CSV until stopped."""

    def __init__(self, url: str, path: str, period: float = 0.5) -> None:
        super().__init__(daemon=True, name="metrics")
        self.url, self.path, self.period = url.rstrip("/") + "/metrics", path, period
        self.halt = threading.Event()
        self.scrapes = 0

    def run(self) -> None:
        """Write the header, then a row per scrape; a failed scrape is skipped, not fatal."""
        started = time.monotonic()
        with open(self.path, "w", encoding="utf-8") as out:
            out.write("t_s," + ",".join(METRICS) + "\n")
            while not self.halt.is_set():
                tick = time.monotonic()
                try:
                    with urllib.request.urlopen(self.url, timeout=2) as response:
                        row = parse(response.read(MAX_BODY).decode("utf-8", "replace"))
                except Exception:  # noqa: BLE001 - a busy or restarting server: try again
                    row = None
                if row is not None:
                    cells = ["" if v is None else f"{v:g}" for v in row.values()]
                    out.write(f"{tick - started:.2f}," + ",".join(cells) + "\n")
                    out.flush()
                    self.scrapes += 1
                self.halt.wait(max(0.0, self.period - (time.monotonic() - tick)))

    def stop(self) -> None:
        """Stop after the scrape in progress and wait for the file to be closed."""
        self.halt.set()
        self.join(timeout=5)


if __name__ == "__main__":
    scraper = Scraper(sys.argv[1], sys.argv[2])
    scraper.start()
    time.sleep(float(sys.argv[3]))
    scraper.stop()
    print(f"{scraper.scrapes} scrape(s) in {sys.argv[2]}")
