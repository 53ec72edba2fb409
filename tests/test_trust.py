"""What makes a figure worth believing, on inputs with known answers: the steady window from
per-request times, start-up figures from real vLLM logs, intervals, a knee that survives a
noisy dip, compare's significance tests, and a /metrics series that covers its point (against
a real HTTP server on loopback)."""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import REPO
from orchestrator.analysis.capacity import SeriesPoint, knee
from orchestrator.analysis.compare import compare
from orchestrator.analysis.confidence import interval
from orchestrator.analysis.server_start import server_start
from orchestrator.analysis.steady import requests_of, steady_window
from orchestrator.resources import data_dir
from orchestrator.results.answers import coverage, metrics_summary
from orchestrator.results.run_folder import raw_requests
from orchestrator.serving.vllm import VLLM

GPU_PROOF = REPO / "docs" / "gpu-proof"


def _result(starts: list[float], ttft: float, itl: float, tokens: int) -> dict:
    """A --save-detailed result: every request `ttft` to its first token, then `itl` apart."""
    n = len(starts)
    return {"start_times": starts, "ttfts": [ttft] * n, "itls": [[itl] * (tokens - 1)] * n,
            "output_lens": [tokens] * n, "errors": [""] * n}


def test_the_steady_window_lies_between_the_ramps() -> None:
    # Concurrency 2, 8 requests of 1 s each, two at a time: starts 0,0,1,1,2,2,3,3.
    starts = [0.0, 0.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0]
    requests = requests_of(_result(starts, 0.1, 0.1, 10))
    assert requests is not None
    window = steady_window(requests, 2)
    assert window is not None and (window.start, window.end) == (1.0, 3.0)
    figures = window.figures()
    # Requests sent at 1 and 2 end by 3; 2 x 10 tokens ... each second, over 2 seconds.
    assert figures["steady_requests"] == 4 and figures["steady_s"] == 2.0
    assert figures["steady_output_throughput"] == pytest.approx(20.0, rel=0.06)
    assert figures["steady_mean_ttft_ms"] == pytest.approx(100.0)
    assert figures["steady_mean_tpot_ms"] == pytest.approx(100.0)
    # Under load vLLM streams several tokens per chunk: 10 tokens in 4 chunks count as 10.
    chunked = _result(starts, 0.1, 0.3, 4)
    chunked["output_lens"] = [10] * len(starts)
    coarse = requests_of(chunked)
    assert coarse is not None and coarse[0].tokens_per_arrival == 2.5
    window = steady_window(coarse, 2)
    assert window is not None
    assert window.figures()["steady_output_throughput"] == pytest.approx(20.0, rel=0.15)
    # A point that sent no more than its concurrency never left its ramp-up.
    assert steady_window(requests[:2], 2) is None
    assert requests_of({"completed": 3}) is None  # no per-request times: nothing to say


def test_start_figures_come_from_vllms_own_log() -> None:
    cold = (GPU_PROOF / "h100x4-sweep-cold-parallel1" / "server-v0.log").read_text()
    warm = (GPU_PROOF / "h100x4-sweep-warm-parallel1" / "server-v0.log").read_text()
    first = server_start(cold, 60.0, eager=False)
    assert (first.compile, first.compile_s, first.weights_s) == ("compiled", 17.28, 0.640903)
    assert (first.graph_capture_s, first.engine_init_s) == (2.0, 31.34)
    assert first.other_s == pytest.approx(60.0 - 31.34 - 0.640903, abs=0.01)
    again = server_start(warm, None, eager=False)
    assert (again.compile, again.compile_s, again.other_s) == ("loaded from cache", 4.18, None)
    assert "loaded from cache 4.18 s" in again.text()
    # The CPU image's server, eager: no compilation at all.
    eager = server_start("Model loading took 0.0017 GiB memory and 0.35 seconds\n", 30.0,
                         eager=True)
    assert (eager.compile, eager.weights_s) == ("none (eager)", 0.35)
    assert server_start("", 30.0, eager=False).compile == "unknown"


def test_an_interval_over_repeats() -> None:
    found = interval([10.0, 12.0, 14.0])
    assert found is not None and found.mean == 12.0 and found.n == 3
    assert found.half == pytest.approx(4.303 * 2.0 / 3 ** 0.5, rel=1e-3)  # t(0.975, 2) = 4.303
    assert found.text() == "12.00 ± 4.97"
    single = interval([5.0])
    assert single is not None and single.half is None and single.text() == "5.00"
    assert found.overlaps(interval([16.0, 17.0, 18.0]))  # type: ignore[arg-type]
    assert not found.overlaps(interval([30.0, 31.0, 32.0]))  # type: ignore[arg-type]


def test_a_noisy_dip_is_not_a_knee() -> None:
    # docs/gpu-proof/h100x2-sweep-parallel2's shape: a dip at 8, then 2.6x more throughput.
    dip = [SeriesPoint(c, t, lat, None) for c, t, lat in (
        (1, 50, 100), (2, 95, 105), (4, 180, 110), (8, 170, 150), (16, 300, 160), (32, 450, 200))]
    assert knee(dip) is None
    flat = [SeriesPoint(c, t, lat, None) for c, t, lat in (
        (1, 50, 100), (2, 95, 105), (4, 180, 110), (8, 185, 190), (16, 182, 380), (32, 186, 760))]
    found = knee(flat)
    assert found is not None and found.concurrency == 4


def _run(tmp_path: Path, name: str, ttft: float, thr: float, seed: int) -> Path:
    import numpy as np

    run = tmp_path / name
    (run / "raw" / "v0").mkdir(parents=True)
    rng = np.random.default_rng(seed)
    starts = sorted(rng.uniform(0, 10, 60).tolist())
    data = _result(starts, ttft, 0.01, 20)
    data["ttfts"] = (ttft * rng.uniform(0.8, 1.2, 60)).tolist()
    (run / "raw" / "v0" / "w0-c4-r0.json").write_text(json.dumps(data))
    row = {"variant": "v0", "workload": "w0", "repeat": 0, "concurrency": 4,
           "mean_ttft_ms": float(np.mean(data["ttfts"])) * 1000, "output_throughput": thr,
           "file": "raw/v0/w0-c4-r0.json"}
    (run / "summary.json").write_text(json.dumps([row]))
    return run


def test_compare_tells_a_change_from_noise(tmp_path: Path) -> None:
    a, same, slower = (_run(tmp_path, "a", 0.1, 100.0, 1), _run(tmp_path, "same", 0.1, 99.0, 2),
                       _run(tmp_path, "slower", 0.2, 60.0, 3))

    def judged(other: Path) -> dict:
        rows = [json.loads((run / "summary.json").read_text()) for run in (a, other)]
        result = compare(rows[0], rows[1], ("mean_ttft_ms", "output_throughput"),
                         raw_requests(a), raw_requests(other))
        return {c.metric: c for c in result.changes}

    noise = judged(same)
    assert noise["mean_ttft_ms"].test == "mann-whitney" and not noise["mean_ttft_ms"].significant
    assert noise["output_throughput"].test == "bootstrap"
    real = judged(slower)
    assert real["mean_ttft_ms"].significant and real["mean_ttft_ms"].p_value < 1e-6
    assert real["mean_ttft_ms"].worse == pytest.approx(1.0, rel=0.1)


def test_series_coverage() -> None:
    rows = [{"clock_s": "1.0", "phase": "before"}, {"clock_s": "2.0", "phase": "during"},
            {"clock_s": "5.0", "phase": "after"}]
    assert coverage(rows, [1.5, 4.0]) == "full"
    assert coverage(rows[1:], [1.5, 4.0]) == "no sample before the first request"
    assert coverage(rows[:2], [1.5, 4.0]) == "no sample after the last request"
    assert coverage([{"t_s": "0"}], None) == "unknown"  # an older series: no phases


def _scripts(name: str):
    scripts = str(data_dir("container_scripts"))
    if scripts not in sys.path:
        sys.path.append(scripts)
    spec = importlib.util.spec_from_file_location(name, data_dir("container_scripts") / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


class _Metrics(BaseHTTPRequestHandler):
    running = 0

    def do_GET(self) -> None:
        body = (f"vllm:num_requests_running{{engine=\"0\"}} {_Metrics.running}\n"
                f"vllm:prefix_cache_queries_total {100 + 10 * _Metrics.running}\n"
                "vllm:prefix_cache_hits_total 0\n").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_the_scraper_samples_before_and_after_its_point(tmp_path: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Metrics)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        path = tmp_path / "p.metrics.csv"
        scraper = _scripts("server_metrics").Scraper(f"http://127.0.0.1:{server.server_port}",
                                                     str(path), VLLM.metrics, period=0.05)
        assert scraper.begin(5.0)  # the sample before the point is taken before it starts
        _Metrics.running = 3
        threading.Event().wait(0.2)
        assert scraper.end()
    finally:
        server.shutdown()
    lines = path.read_text().splitlines()
    assert lines[0].startswith("t_s,clock_s,phase,running")
    phases = [line.split(",")[2] for line in lines[1:]]
    assert phases[0] == "before" and phases[-1] == "after" and "during" in phases
    assert lines[1].split(",")[3] == "0" and lines[-1].split(",")[3] == "3"
    summary = metrics_summary(path, {"requests_clock_s": [float(lines[1].split(",")[1]) + 1e-3,
                                                          float(lines[-1].split(",")[1]) - 1e-3]})
    assert summary["metrics_coverage"] == "full" and summary["prefix_cache_hit_rate"] == 0.0
    # Nothing answering: the point is told its series does not cover it.
    lost = _scripts("server_metrics").Scraper("http://127.0.0.1:9", str(tmp_path / "x.csv"),
                                              VLLM.metrics)
    assert not lost.begin(0.3) and not lost.end()


def test_bench_points_reads_each_points_seed_and_prompts() -> None:
    module = _scripts("bench_points")
    parsed = module.parse(["--point", "4", "a.json", "seed=7", "prompts=16", "--point", "1",
                           "b.json", "--warmup", "4", "w.json", "seed=9", "--result-dir", "/r",
                           "--", "--model", "m"])
    assert [(p.concurrency, p.name, p.workload, p.seed, p.prompts) for p in parsed.points] == [
        (4, "a.json", "", 7, 16), (1, "b.json", "", None, None)]
    assert parsed.warmup == (4, "w.json", 9)
    with pytest.raises(SystemExit, match="not one of seed=N, prompts=N"):
        module.parse(["--point", "4", "a.json", "seed=x", "--result-dir", "/r", "--"])


def _best(throughputs: dict[str, list[float]]):
    from orchestrator.results.best import ReportData, best_points

    rows = [{"variant": v, "workload": "w0", "concurrency": 2, "repeat": i, "failed": 0,
             "output_throughput": t, "mean_ttft_ms": 10.0, "flags": ""}
            for v, values in throughputs.items() for i, t in enumerate(values)]
    return best_points(ReportData("t", rows, [], [], 0))[0]


def test_a_winner_only_when_its_interval_clears_the_runner_up() -> None:
    tie = _best({"v0": [100.0, 104.0, 98.0], "v1": [103.0, 99.0, 106.0]})
    assert tie.row is not None and tie.row["variant"] == "v1"
    assert tie.verdict.startswith("tie within noise with v0 w0 c2 (100.67 ± ")
    clear = _best({"v0": [100.0, 101.0, 99.0], "v1": [150.0, 151.0, 149.0]})
    assert clear.verdict.startswith("clears v0 w0 c2") and clear.value is not None
    assert clear.value.text() == "150.00 ± 2.48"
    once = _best({"v0": [100.0], "v1": [150.0]})
    assert once.verdict.startswith("no confidence yet: one run per point")


def test_the_distributions_match_the_reference_values() -> None:
    # Reference values from SciPy 1.14 (stats.t.ppf / stats.t.cdf, mannwhitneyu's asymptotic
    # p-value, ttest_ind with equal_var=False); the tool computes them without SciPy.
    from orchestrator.analysis.confidence import mann_whitney, t_cdf, t_quantile, welch

    for df, quantile in ((1, 12.706204736174694), (2, 4.302652729749462), (5, 2.5705818356363146),
                         (30, 2.0422724563012378)):
        assert t_quantile(0.975, df) == pytest.approx(quantile, rel=1e-9)
    assert t_cdf(1.3, 10) == pytest.approx(0.8886170913965777, rel=1e-12)
    assert t_cdf(-0.7, 3) == pytest.approx(0.2671634991523818, rel=1e-12)
    a = [0.1, 0.5, 0.5, 1.2, -0.3, 0.9, 0.4]
    b = [1.1, 0.9, 1.5, 0.5, 2.0, 1.7, 1.2, 0.8]
    assert mann_whitney(a, b) == pytest.approx(0.023275994867712854, rel=1e-9)
    assert welch(a, b) == pytest.approx(0.012709560978851649, rel=1e-9)


def test_the_replay_reads_the_first_conversations_of_a_jsonl_file(tmp_path) -> None:
    path = tmp_path / "c.jsonl"
    turns = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    path.write_text("\n".join([json.dumps({"messages": turns}), "",
                               json.dumps({"messages": turns[1:]}),
                               json.dumps({"messages": []})]) + "\n")
    load = _scripts("replay_conversations").load
    assert load(str(path), 2) == [turns, turns[1:]]  # blank lines skipped, stops at the count
    assert len(load(str(path), 10)) == 3
