#!/usr/bin/env python3
"""Scrape a model server's Prometheus /metrics while a benchmark point runs (bench_points.py
uses it): one CSV row per scrape, so queueing and KV-cache pressure show up beside the result.
The columns and the metric names behind each are the engine's (orchestrator's serving/ module
passes them: {"running": ["vllm:num_requests_running"], ...}).

    server_metrics.py URL OUT.csv SECONDS NAMES_JSON   # scrape for SECONDS (by hand, to try it)
"""

from __future__ import annotations

import json
import sys
import threading
import time
import urllib.request

Names = dict[str, list[str]]  # CSV column -> metric names, each summed over its label sets
MAX_BODY = 4 * 1024 * 1024  # a /metrics page is a few KiB; refuse to hold more


def parse(text: str, names: Names) -> dict[str, float | None]:
    """The columns' values from a /metrics page: per column, the first of its metric names the
    page has, summed over label sets (None where the server has none of them)."""
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
    for column, metrics in names.items():
        found = [sums[n] for n in metrics if n in sums]
        out[column] = found[0] if found else None
    return out


FIRST_SAMPLE_S = 10.0  # how long a point waits for its sample before its first request
LAST_SAMPLE_TRIES = 5  # scrapes tried for the sample after its last request


class Scraper(threading.Thread):
    """Scrape URL/metrics every `period` seconds into a CSV until stopped. Each row says its
    phase: `before` (the sample taken before the point's first request), `during`, `after`
    (taken once the point's last request ended); clock_s is time.perf_counter(), the clock of
    vLLM's per-request start times in the same process."""

    def __init__(self, url: str, path: str, names: Names, period: float = 0.5) -> None:
        super().__init__(daemon=True, name="metrics")
        self.url, self.period, self.names = url.rstrip("/") + "/metrics", period, names
        self.halt = threading.Event()
        self.first = threading.Event()
        self.scrapes = 0
        self.phase = "before"
        self.started = time.monotonic()
        self.lock = threading.Lock()
        self.out = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed by end()
        self.out.write("t_s,clock_s,phase," + ",".join(names) + "\n")
        self.out.flush()

    def sample(self) -> bool:
        """One scrape written as a row in the current phase; False when it failed."""
        tick, clock = time.monotonic(), time.perf_counter()
        try:
            with urllib.request.urlopen(self.url, timeout=2) as response:
                row = parse(response.read(MAX_BODY).decode("utf-8", "replace"), self.names)
        except Exception:  # noqa: BLE001 - a busy or restarting server: try again
            return False
        cells = ["" if v is None else f"{v:g}" for v in row.values()]
        with self.lock:
            self.out.write(f"{tick - self.started:.2f},{clock:.4f},{self.phase},"
                           + ",".join(cells) + "\n")
            self.out.flush()
            self.scrapes += 1
            if self.phase == "before":
                self.phase = "during"  # the point may start now
                self.first.set()
        return True

    def run(self) -> None:
        """A row per scrape until stopped; a failed scrape is skipped, not fatal."""
        while not self.halt.is_set():
            tick = time.monotonic()
            self.sample()
            self.halt.wait(max(0.0, self.period - (time.monotonic() - tick)))

    def begin(self, wait_s: float = FIRST_SAMPLE_S) -> bool:
        """Start scraping and wait (at most `wait_s`) for the sample before the point; False
        when none came (the row then says the series does not cover the point)."""
        self.start()
        return self.first.wait(wait_s)

    def end(self) -> bool:
        """Stop scraping, then take the sample after the point (a few tries); close the file.
        False when no sample after the point could be taken."""
        self.halt.set()
        self.join(timeout=5)
        with self.lock:
            self.phase = "after"
        taken = False
        for _ in range(LAST_SAMPLE_TRIES):
            if self.sample():
                taken = True
                break
            time.sleep(0.2)
        self.out.close()
        return taken


if __name__ == "__main__":
    scraper = Scraper(sys.argv[1], sys.argv[2], json.loads(sys.argv[4]))
    scraper.begin()
    time.sleep(float(sys.argv[3]))
    scraper.end()
    print(f"{scraper.scrapes} scrape(s) in {sys.argv[2]}")
